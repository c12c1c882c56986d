/**
 * `nsnet network create|ls|rm`: the bridge networks sandboxes can join.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import {
  createNetwork,
  listNetworks,
  removeNetwork,
} from "../bridge/network.ts";
import { runNetworkDns } from "../dns/network_dns.ts";
import { InvalidArgumentError } from "../errors.ts";
import { EXIT, ExitRequest, printJson, printTable } from "./output.ts";

/** The `network` command and its subcommands. */
export function networkCommand(): CommandUnknownOpts {
  return new Command("network")
    .description("create, list and remove bridge networks")
    .addCommand(createCommand())
    .addCommand(listCommand())
    .addCommand(removeCommand())
    .addCommand(dnsServeCommand(), { hidden: true });
}

function dnsServeCommand(): CommandUnknownOpts {
  return new Command("dns-serve")
    .description(
      "run a network's DNS responder (started with the network's first sandbox)",
    )
    .argument("<name>", "network name")
    .requiredOption("--ipam-dir <dir>", "the network's allocation dir")
    .requiredOption("--pid-file <file>", "written once listening")
    .option("--netns <path>", "the namespace to answer in")
    .action(async (name, opts) => {
      await runNetworkDns(name, {
        ipamDir: opts.ipamDir,
        pidFile: opts.pidFile,
        netns: opts.netns,
      });
      throw new ExitRequest(EXIT.OK);
    });
}

function createCommand(): CommandUnknownOpts {
  return new Command("create")
    .description("create a bridge network")
    .argument("<name>", "the network's name")
    .option(
      "--subnet <cidr>",
      "IPv4 subnet (default: the first free 10.89.N.0/24); again with an IPv6 subnet for dual-stack",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      "--bridge <if>",
      "bridge interface name (default: the first free nsnetN)",
    )
    .option(
      "--gateway <ip>",
      "gateway address (default: the subnet's first host)",
    )
    .option(
      "--gateway6 <ip>",
      "IPv6 gateway (default: the IPv6 subnet's first host)",
    )
    .option("--mtu <n>", "MTU of the bridge and the veths")
    .option("--internal", "no masquerading: no traffic leaves the network")
    .option(
      "--dns-upstream <addr>",
      "where the network's DNS responder forwards other names (ADDR[:PORT], repeatable; default the host's nameservers)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      "--disable-dns",
      "no DNS responder: sandboxes do not resolve each other's names",
    )
    .option("--json", "print the network as JSON")
    .action((name, opts) => {
      let mtu: number | undefined;
      if (opts.mtu !== undefined) {
        mtu = Number(opts.mtu);
        if (!Number.isInteger(mtu)) {
          throw new InvalidArgumentError(`invalid MTU ${opts.mtu}`);
        }
      }
      const subnets = opts.subnet ?? [];
      const v4 = subnets.filter((c) => !c.includes(":"));
      const v6 = subnets.filter((c) => c.includes(":"));
      if (v4.length > 1 || v6.length > 1) {
        throw new InvalidArgumentError(
          `--subnet given ${subnets.length} times: at most one IPv4 and one IPv6 subnet`,
        );
      }
      const network = createNetwork(name, {
        subnet: v4[0],
        subnet6: v6[0],
        gateway6: opts.gateway6,
        dnsUpstreams: opts.dnsUpstream,
        disableDns: opts.disableDns,
        bridge: opts.bridge,
        gateway: opts.gateway,
        mtu,
        internal: opts.internal,
      });
      if (opts.json) printJson(network);
      else console.log(network.name);
    });
}

function listCommand(): CommandUnknownOpts {
  return new Command("ls")
    .alias("list")
    .description("list the bridge networks, the default one first")
    .option("--json", "print JSON")
    .action((opts) => {
      const networks = listNetworks();
      if (opts.json) {
        printJson(networks);
        return;
      }
      printTable(
        ["NAME", "BRIDGE", "SUBNET", "GATEWAY"],
        networks.map((n) => [n.name, n.bridge, n.subnet, n.gateway]),
      );
    });
}

function removeCommand(): CommandUnknownOpts {
  return new Command("rm")
    .alias("remove")
    .description("remove a bridge network")
    .argument("<name>", "the network's name")
    .action((name) => {
      removeNetwork(name);
      console.log(name);
    });
}
