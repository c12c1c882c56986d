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
import { InvalidArgumentError } from "../errors.ts";
import { printJson, printTable } from "./output.ts";

/** The `network` command and its subcommands. */
export function networkCommand(): CommandUnknownOpts {
  return new Command("network")
    .description("create, list and remove bridge networks")
    .addCommand(createCommand())
    .addCommand(listCommand())
    .addCommand(removeCommand());
}

function createCommand(): CommandUnknownOpts {
  return new Command("create")
    .description("create a bridge network")
    .argument("<name>", "the network's name")
    .option(
      "--subnet <cidr>",
      "IPv4 subnet (default: the first free 10.89.N.0/24)",
    )
    .option(
      "--bridge <if>",
      "bridge interface name (default: the first free nsnetN)",
    )
    .option(
      "--gateway <ip>",
      "gateway address (default: the subnet's first host)",
    )
    .option("--mtu <n>", "MTU of the bridge and the veths")
    .option("--internal", "no masquerading: no traffic leaves the network")
    .option("--json", "print the network as JSON")
    .action((name, opts) => {
      let mtu: number | undefined;
      if (opts.mtu !== undefined) {
        mtu = Number(opts.mtu);
        if (!Number.isInteger(mtu)) {
          throw new InvalidArgumentError(`invalid MTU ${opts.mtu}`);
        }
      }
      const network = createNetwork(name, {
        subnet: opts.subnet,
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
