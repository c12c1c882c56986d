/**
 * `nsnet inspect NAME|PATH` (or `--pid PID`): a namespace's interfaces,
 * addresses, default gateways and MACs, as Podman reports a joined
 * namespace.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { NsnetError } from "../errors.ts";
import { pathExists } from "../fs.ts";
import { inspectNetNS } from "../inspect.ts";
import type { NetNS } from "../netns/netns.ts";
import { NAMESPACE_ARG_HELP, openNamespaceArg } from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";

/** The `inspect` command. */
export function inspectCommand(): CommandUnknownOpts {
  return new Command("inspect")
    .description(
      "show a namespace's interfaces, subnets, gateways and MACs (Podman's StatusBlock)",
    )
    .argument("[netns]", NAMESPACE_ARG_HELP)
    .option("--pid <pid>", PID_HELP)
    .option("--json", "print Podman's StatusBlock JSON, field for field")
    .action((netns, opts, command) => {
      using ns = openNamespaceOrPid(netns, opts.pid, command);
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

/** The help text of `--pid`. */
export const PID_HELP =
  "the namespace of this process (/proc/PID/ns/net), e.g. a Podman container's";

/**
 * Opens the namespace a command names by `NAME|PATH` or by `--pid PID`
 * (exactly one of them; anything else is a usage error on `command`).
 */
export function openNamespaceOrPid(
  netns: string | undefined,
  pid: string | undefined,
  command: { error(message: string): never },
): NetNS {
  if ((netns === undefined) === (pid === undefined)) {
    command.error("error: give either a namespace NAME|PATH or --pid PID");
  }
  if (pid === undefined) return openNamespaceArg(netns);
  if (
    !/^\d+$/.test(pid) || Number(pid) <= 0 || !Number.isSafeInteger(Number(pid))
  ) {
    throw new NsnetError(`invalid pid ${JSON.stringify(pid)}`, {
      hint: "give a process id such as 1234",
    });
  }
  if (!pathExists(`/proc/${pid}`)) {
    throw new NsnetError(`no process with pid ${pid}`, {
      hint:
        "for a Podman container: podman inspect --format '{{.State.Pid}}' NAME",
    });
  }
  return openNamespaceArg(`/proc/${pid}/ns/net`);
}
