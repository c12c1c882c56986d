/**
 * Rootless networking, as Podman's rootless-netns: the shared rootless
 * network namespace (one per user and static dir, reached from outside
 * through slirp4netns or pasta, made on demand, repaired on use,
 * reference-counted), nsnet's user namespace and its pause process, and the
 * helper driver that starts slirp4netns or pasta for any namespace. The
 * root export `@nsnet/nsnet` has `getRootlessNetNS` and `RootlessNetNS`.
 *
 * The calls that make or change namespaces need nsnet's user namespace: run
 * the script under `nsnet unshare -- deno run -A …` (as `podman unshare`);
 * called outside it they fail with a `RootlessContextError` naming it.
 * They need `--allow-run --allow-read --allow-write --allow-env
 * --allow-ffi`.
 *
 * @example A command inside the rootless namespace, the namespace given back after
 * ```ts
 * import { getRootlessNetNS } from "@nsnet/nsnet/rootless";
 *
 * await using rootless = await getRootlessNetNS({ create: true });
 * if (rootless) {
 *   console.log(rootless.info.address); // 10.0.2.100
 *   await rootless.exec(["ip", "-brief", "addr"]);
 * }
 * ```
 *
 * @module
 */

export { RootlessContextError } from "./errors.ts";
export { type RootlessHold, RootlessNetNS } from "./handle.ts";
export type { SpawnInsideOptions } from "./inside.ts";
export { getRootlessNetNS, type RootlessNetNSOptions } from "./open.ts";
export {
  type ReleaseRootlessOptions,
  releaseRootlessReference,
  rootlessDown,
  type RootlessDownOptions,
  type RootlessStatus,
  rootlessStatus,
  type RootlessTarget,
} from "./status.ts";
export { execInRootlessNetNS } from "./run.ts";
export {
  defaultStaticDir,
  type RootlessInfo,
  rootlessNetNSName,
  type RootlessPaths,
  rootlessPaths,
} from "./state.ts";
// The access value itself is plumbing: options name its type only.
export type { UserNSAccess, ViaPause } from "./access.ts";
export { isRootless } from "./detect.ts";
export { rootlessStateDir, runtimeDir } from "./runtime_dir.ts";
export { inNsnetUserNS, needsUserNS, PAUSE_NAME } from "./userns.ts";
export {
  DEFAULT_MTU,
  HELPER_KINDS,
  type HelperKind,
  type HelperOptions,
  type ResolvedHelperOptions,
  resolveHelperOptions,
} from "./helper_options.ts";
export {
  type HelperDriver,
  helperDriver,
  type HelperStartOptions,
  type RunningHelper,
  type StartedHelper,
  TAP_NAME,
} from "./helpers/driver.ts";
export type { StopHelperOptions, StopResult } from "./helper_process.ts";
export { ThreadRunError } from "./thread_run.ts";
export type { TeardownOptions } from "./teardown.ts";
// Named by the signatures above; the root export and their subpaths have them too.
export { NsnetError } from "../errors.ts";
export type { PortMapping, PortProtocol } from "../ports/spec.ts";
export type { HelperAddresses } from "../resolv_conf/helper_addresses.ts";
