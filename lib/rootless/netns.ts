/**
 * The names the root `mod.ts` imported from here before the rootless
 * namespace's code was split by job (`handle.ts`, `open.ts`, `teardown.ts`,
 * `status.ts`, `state.ts`). Nothing in `lib/` imports this: it goes when
 * `mod.ts` imports `lib/rootless/mod.ts` instead.
 *
 * @module
 */

export { RootlessContextError } from "./errors.ts";
export { RootlessNetNS } from "./handle.ts";
export type { SpawnInsideOptions } from "./inside.ts";
export { getRootlessNetNS, type RootlessNetNSOptions } from "./open.ts";
export {
  defaultStaticDir,
  readInfo,
  type RootlessInfo,
  rootlessNetNSName,
  type RootlessPaths,
  rootlessPaths,
} from "./state.ts";
export {
  releaseRootlessReference,
  rootlessDown,
  type RootlessDownOptions,
  type RootlessStatus,
  rootlessStatus,
} from "./status.ts";
