/**
 * `nsnet inspect NAME|PATH` (or `--pid PID`): a namespace's interfaces,
 * addresses, default gateways and MACs, as Podman reports a joined
 * namespace.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import {
  NAMESPACE_ARG_HELP,
  openNamespaceOrPid,
  PID_HELP,
} from "./namespace_arg.ts";
import { printInspect } from "./read_commands.ts";

export { openNamespaceOrPid, PID_HELP };

/** The `inspect` command. */
export function inspectCommand(): CommandUnknownOpts {
  return new Command("inspect")
    .description(
      "show a namespace's interfaces, subnets, gateways and MACs (Podman's StatusBlock)",
    )
    .argument("[netns]", NAMESPACE_ARG_HELP)
    .option("--pid <pid>", PID_HELP)
    .option("--json", "print Podman's StatusBlock JSON, field for field")
    .action(async (netns, opts, command) => {
      await printInspect(
        openNamespaceOrPid(netns, opts.pid, command),
        Boolean(opts.json),
      );
    });
}
