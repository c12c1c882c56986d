/**
 * slirp4netns as a helper, the way `lib/sandbox` started it before the
 * helper driver (`helpers/driver.ts`): kept only until it calls the driver.
 *
 * @module
 */

import type { ResolvedHelperOptions } from "./helper_options.ts";
import { helperDriver } from "./helpers/driver.ts";
import type { StartedHelper } from "./helpers/types.ts";

export { slirp4netnsArgs, slirp4netnsFeatures } from "./helpers/slirp4netns.ts";
export { type StartedHelper, TAP_NAME } from "./helpers/types.ts";

/**
 * Starts slirp4netns for the namespace at `nsPath` with its files in `dir`,
 * from inside the user namespace; resolves once it is ready.
 *
 * @deprecated Use `helperDriver("slirp4netns").start({...})`.
 */
export async function startSlirp4netns(
  options: ResolvedHelperOptions,
  nsPath: string,
  dir: string,
  readyTimeoutMs = 1000,
  exitFifo?: string,
): Promise<StartedHelper> {
  const { pid, apiSocket } = await helperDriver("slirp4netns").start({
    options,
    netnsPath: nsPath,
    dir,
    readyTimeoutMs,
    exitPipe: exitFifo,
  });
  return { pid, apiSocket };
}
