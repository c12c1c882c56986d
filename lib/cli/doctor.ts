/**
 * `nsnet doctor [--json]`: checks what nsnet needs on this machine, for the
 * calling user, and says how to fix each failure. Run unprivileged it stays
 * outside nsnet's user namespace: it checks what making one needs.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { anyFailed, runDoctor } from "../doctor/runner.ts";
import { EXIT, ExitRequest, printJson, printTable } from "./output.ts";

/** The `doctor` command. */
export function doctorCommand(): CommandUnknownOpts {
  return new Command("doctor")
    .description(
      "check what nsnet needs (kernel, user namespaces, devices, binaries, runtime dir) and how to fix it",
    )
    .option(
      "--json",
      'print [{"check", "status", "detail", "fix"}] as JSON',
    )
    .addHelpText(
      "after",
      "\nStatus: ok, warn (works, with a caveat), fail, skip (does not apply). Exit 1 when a check fails.",
    )
    .action(async (opts) => {
      const checks = await runDoctor();
      if (opts.json) {
        printJson(checks);
      } else {
        printTable(
          ["CHECK", "STATUS", "DETAIL"],
          checks.map((c) => [c.check, c.status, c.detail]),
        );
        const fixes = checks.filter((c) =>
          (c.status === "fail" || c.status === "warn") && c.fix !== ""
        );
        if (fixes.length > 0) {
          console.log("\nTo fix:");
          for (const c of fixes) console.log(`  ${c.check}: ${c.fix}`);
        }
      }
      if (anyFailed(checks)) throw new ExitRequest(EXIT.FAILURE);
    });
}
