/**
 * `nsnet inspect NAME|PATH`: a namespace's interfaces, addresses, default
 * gateways and MACs, as Podman reports a joined namespace (S15).
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { inspectNetNS } from "../inspect.ts";
import { NAMESPACE_ARG_HELP, openNamespaceArg } from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";

/** The `inspect` command. */
export function inspectCommand(): CommandUnknownOpts {
  return new Command("inspect")
    .description(
      "show a namespace's interfaces, subnets, gateways and MACs (Podman's StatusBlock)",
    )
    .argument("<netns>", NAMESPACE_ARG_HELP)
    .option("--json", "print Podman's StatusBlock JSON, field for field")
    .action((netns, opts) => {
      using ns = openNamespaceArg(netns);
      const status = inspectNetNS(ns);
      if (opts.json) {
        printJson(status);
        return;
      }
      const rows: string[][] = [];
      for (const [name, iface] of Object.entries(status.interfaces ?? {})) {
        const subnets = iface.subnets ?? [];
        if (subnets.length === 0) rows.push([name, iface.mac_address, "", ""]);
        for (const subnet of subnets) {
          rows.push([
            name,
            iface.mac_address,
            subnet.ipnet,
            subnet.gateway ?? "",
          ]);
        }
      }
      printTable(["INTERFACE", "MAC", "SUBNET", "GATEWAY"], rows);
    });
}
