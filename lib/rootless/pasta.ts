/**
 * pasta as a helper, the way `lib/sandbox` started it before the helper
 * driver (`helpers/driver.ts`): kept only until it calls the driver.
 *
 * @module
 */

import type { ResolvedHelperOptions } from "./helper_options.ts";
import { helperDriver } from "./helpers/driver.ts";
import type { StartedHelper } from "./helpers/types.ts";
import { runPasta } from "./helpers/pasta.ts";
import { INSIDE } from "./access.ts";

export { pastaArgs } from "./helpers/pasta.ts";

/**
 * Starts pasta for the namespace at `nsPath`, from inside the user
 * namespace, with the pid file `pidFile` and `portArgs` as its port
 * arguments (default none); resolves once it has daemonised.
 *
 * @deprecated Use `helperDriver("pasta").start({...})` with `ports`.
 */
export async function startPasta(
  options: ResolvedHelperOptions,
  nsPath: string,
  dir: string,
  pidFile: string,
  portArgs?: readonly string[],
): Promise<StartedHelper> {
  if (portArgs !== undefined) {
    // Arguments made already: the driver takes mappings, so go around it.
    return await runPasta(options, INSIDE, nsPath, dir, pidFile, portArgs);
  }
  const { pid } = await helperDriver("pasta").start({
    options,
    netnsPath: nsPath,
    dir,
    pidFile,
  });
  return { pid };
}
