/**
 * The nsnet CLI with test faults: installs the fault hook from
 * `NSNET_FAULT=step[,step…]` (`crash:step` for a crash point), then runs
 * cli.ts's `main()`. Only tests run this entry; the production CLI and its
 * bundle read no such variable. When nsnet re-runs itself inside its user
 * namespace it re-runs this main module, so the faults reach that process too.
 *
 * @module
 */

import { injectFault } from "../../lib/netns/_faults.ts";
import { main } from "../../cli.ts";

/** The variable a test sets in the child's environment. */
export const FAULT_ENV = "NSNET_FAULT";

/** The path of this entry, to run with `deno run`. */
export const FAULT_CLI = new URL(import.meta.url).pathname;

if (import.meta.main) {
  for (const step of (Deno.env.get(FAULT_ENV) ?? "").split(",")) {
    if (step !== "") injectFault(step);
  }
  Deno.exit(await main(Deno.args));
}
