/**
 * `nsnet addr list|add|del`: IP addresses, as `ip address` handles them,
 * over nsnet's own netlink.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { InvalidArgumentError } from "../errors.ts";
import {
  addAddress,
  deleteAddress,
  listAddresses,
} from "../netlink/address.ts";
import { familyName, scopeName } from "../netlink/address_message.ts";
import { AF } from "../netlink/constants.ts";
import { addressesIpJson } from "../netlink/link_info_json.ts";
import { listLinks } from "../netlink/link.ts";
import { linkRef } from "./link.ts";
import { NAMESPACE_ARG_HELP, withNetlink } from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";

/** The `addr` command and its subcommands. */
export function addrCommand(): CommandUnknownOpts {
  return new Command("addr")
    .alias("address")
    .description("list, add and delete IP addresses (like `ip address`)")
    .addCommand(listCommand())
    .addCommand(changeCommand("add"))
    .addCommand(changeCommand("del"));
}

/** The family `-4`/`-6` select, or undefined for both. */
export function familyOption(
  opts: { ipv4?: boolean; ipv6?: boolean },
): number | undefined {
  if (opts.ipv4 && opts.ipv6) {
    throw new InvalidArgumentError("-4 and -6 exclude each other");
  }
  return opts.ipv4 ? AF.INET : opts.ipv6 ? AF.INET6 : undefined;
}

function listCommand(): CommandUnknownOpts {
  return new Command("list")
    .alias("show")
    .description(
      "list the addresses of a namespace (the current one when omitted)",
    )
    .argument("[netns]", NAMESPACE_ARG_HELP)
    .option("-d, --dev <link>", "only this link's addresses")
    .option("-4, --ipv4", "IPv4 only")
    .option("-6, --ipv6", "IPv6 only")
    .option("--json", "print JSON as `ip -j addr` does, field for field")
    .action((netns, opts) => {
      const family = familyOption(opts);
      const [addresses, links] = withNetlink(netns, (sock) =>
        [
          listAddresses(sock, {
            family,
            link: opts.dev === undefined ? undefined : linkRef(opts.dev),
          }),
          listLinks(sock, { stats: false }),
        ] as const);
      const names = new Map(links.map((l) => [l.index, l.name]));
      if (opts.json) {
        // ip lists links without addresses too, unless a family or device is asked for.
        printJson(
          addressesIpJson(
            links,
            addresses,
            family !== undefined || opts.dev !== undefined,
          ),
        );
        return;
      }
      printTable(
        ["LINK", "FAMILY", "ADDRESS", "SCOPE"],
        addresses.map((a) => [
          names.get(a.index) ?? String(a.index),
          familyName(a.family),
          `${a.address}/${a.prefixLength}`,
          scopeName(a.scope),
        ]),
      );
    });
}

function changeCommand(verb: "add" | "del"): CommandUnknownOpts {
  return new Command(verb)
    .description(
      verb === "add"
        ? "add an address to a link"
        : "delete an address from a link",
    )
    .argument(
      "<cidr>",
      "address with prefix length, e.g. 10.0.0.2/24 or fd00::2/64",
    )
    .requiredOption("-d, --dev <link>", "the link")
    .option(
      "-n, --netns <netns>",
      "act in this namespace (NAME or PATH; default: the current one)",
    )
    .option("--nodad", "IPv6: skip duplicate address detection (add only)")
    .action((cidr, opts) => {
      withNetlink(opts.netns, (sock) => {
        if (verb === "add") {
          addAddress(sock, linkRef(opts.dev), cidr, { noDad: opts.nodad });
        } else deleteAddress(sock, linkRef(opts.dev), cidr);
      });
    });
}
