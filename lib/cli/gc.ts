/**
 * `nsnet gc [--dry-run] [--json]`: removes the leftovers nsnet can prove are
 * its own (sandboxes whose runner or namespace is gone, their forwarders,
 * helpers, leases and DNAT chains, stale files and empty state dirs), or
 * lists them.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { collectGarbage } from "../gc/runner.ts";
import { EXIT, ExitRequest, printJson, printTable } from "./output.ts";

/** The `gc` command. */
export function gcCommand(): CommandUnknownOpts {
  return new Command("gc")
    .description(
      "remove what nsnet left behind (sandboxes whose runner or namespace is gone, their leases, chains, helpers, files)",
    )
    .option("--dry-run", "list what would be removed, and remove nothing")
    .option(
      "--json",
      'print [{"kind", "name", "detail", "status", "error"?}] as JSON',
    )
    .addHelpText(
      "after",
      "\nNever touches what is not nsnet's: `ip netns add` namespaces, Podman's, other tables, other users' state. Exit 1 when a removal failed.",
    )
    .action(async (opts) => {
      const entries = await collectGarbage({ dryRun: opts.dryRun });
      if (opts.json) {
        printJson(entries);
      } else if (entries.length === 0) {
        console.log("nothing to remove");
      } else {
        printTable(
          ["KIND", "NAME", "STATUS", "DETAIL"],
          entries.map((e) => [
            e.kind,
            e.name,
            e.status,
            e.error === undefined ? e.detail : `${e.detail}: ${e.error}`,
          ]),
        );
      }
      if (entries.some((e) => e.status === "failed")) {
        throw new ExitRequest(EXIT.FAILURE);
      }
    });
}
