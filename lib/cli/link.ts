/**
 * `nsnet link list|add|set|del`: links, as `ip link` handles them, over
 * nsnet's own netlink.
 *
 * @module
 */

import {
  Command,
  type CommandUnknownOpts,
  Option,
} from "@commander-js/extra-typings";
import { InvalidArgumentError } from "../errors.ts";
import { MACVLAN_MODE } from "../netlink/constants.ts";
import {
  createLink,
  deleteLink,
  type LinkChanges,
  type LinkRef,
  type LinkSpec,
  listLinks,
  setLink,
} from "../netlink/link.ts";
import { linkFlagNames } from "../netlink/link_message.ts";
import { linkIpJson } from "../netlink/link_info_json.ts";
import {
  NAMESPACE_ARG_HELP,
  openNamespaceArg,
  parseCount,
  withNetlink,
} from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";

/** The `link` command and its subcommands. */
export function linkCommand(): CommandUnknownOpts {
  return new Command("link")
    .description("list, create, change and delete links (like `ip link`)")
    .addCommand(listCommand())
    .addCommand(addCommand())
    .addCommand(setCommand())
    .addCommand(delCommand());
}

const NETNS_OPTION = "-n, --netns <netns>";
const NETNS_HELP =
  "act in this namespace (NAME or PATH; default: the current one)";

/** A link given on the command line: a number is an index, anything else a name. */
export function linkRef(text: string): LinkRef {
  return /^\d+$/.test(text) ? Number(text) : text;
}

function listCommand(): CommandUnknownOpts {
  return new Command("list")
    .alias("show")
    .description("list the links of a namespace (the current one when omitted)")
    .argument("[netns]", NAMESPACE_ARG_HELP)
    .option("--json", "print JSON as `ip -j link` does, field for field")
    .option(
      "-d, --details",
      "with --json: kind-specific details, as `ip -j -d link`",
    )
    .option("-s, --stats", "with --json: rx/tx counters, as `ip -j -s link`")
    .action((netns, opts) => {
      const links = withNetlink(
        netns,
        (sock) => listLinks(sock, { stats: opts.stats === true }),
      );
      if (opts.json) {
        printJson(
          links.map((link) =>
            linkIpJson(link, links, {
              details: opts.details === true,
              stats: opts.stats === true,
            })
          ),
        );
        return;
      }
      const names = new Map(links.map((l) => [l.index, l.name]));
      printTable(
        ["INDEX", "NAME", "KIND", "STATE", "MTU", "MAC", "MASTER", "FLAGS"],
        links.map((l) => [
          String(l.index),
          l.name,
          l.kind ?? "",
          l.operstate,
          String(l.mtu),
          l.mac ?? "",
          l.master === undefined ? "" : names.get(l.master) ?? String(l.master),
          linkFlagNames(l.flags).join(","),
        ]),
      );
    });
}

const KINDS = [
  "veth",
  "bridge",
  "ifb",
  "macvlan",
  "macvtap",
  "vxlan",
  "vlan",
  "ipvlan",
  "tun",
  "tap",
] as const;

function addCommand(): CommandUnknownOpts {
  return new Command("add")
    .description("create a link")
    .argument("<name>", "the new link's name")
    .addOption(
      new Option("-t, --type <kind>", "link kind").choices(KINDS)
        .makeOptionMandatory(),
    )
    .option(NETNS_OPTION, NETNS_HELP)
    .option("--peer <name>", "veth: the peer's name")
    .option(
      "--peer-netns <netns>",
      "veth: create the peer in this namespace (NAME or PATH)",
    )
    .option(
      "--parent <link>",
      "macvlan, macvtap, vlan, ipvlan, vxlan: the parent (underlay) link",
    )
    .option("--id <id>", "vlan: VLAN id; vxlan: same as --vni")
    .option("--protocol <proto>", "vlan: 802.1Q (default) or 802.1ad")
    .option("--ipvlan-mode <mode>", "ipvlan: l2, l3 (default) or l3s")
    .option("--ttl <ttl>", "vxlan: outer TTL")
    .addOption(
      new Option("--mode <mode>", "macvlan mode").choices(
        Object.keys(MACVLAN_MODE) as (keyof typeof MACVLAN_MODE)[],
      ),
    )
    .option("--vni <id>", "vxlan: network identifier")
    .option("--port <port>", "vxlan: UDP port (default 4789)")
    .option("--local <ip>", "vxlan: local underlay address")
    .option("--remote <ip>", "vxlan: remote or group address")
    .option("--mtu <bytes>", "MTU")
    .option("--mac <address>", "MAC address")
    .option("--master <link>", "enslave to this bridge")
    .option("--up", "bring it up")
    .action((name, opts) => {
      const common = {
        name,
        mtu: opts.mtu === undefined ? undefined : parseCount(opts.mtu, "MTU"),
        mac: opts.mac,
        up: opts.up === true,
        master: opts.master === undefined ? undefined : linkRef(opts.master),
      };
      withNetlink(opts.netns, (sock) => {
        let spec: LinkSpec;
        switch (opts.type) {
          case "veth": {
            if (opts.peer === undefined) {
              throw new InvalidArgumentError("a veth needs --peer NAME");
            }
            if (opts.peerNetns === undefined) {
              spec = { ...common, kind: "veth", peer: { name: opts.peer } };
              break;
            }
            using peerNS = openNamespaceArg(opts.peerNetns);
            createLink(sock, {
              ...common,
              kind: "veth",
              peer: { name: opts.peer, netns: peerNS },
            });
            return;
          }
          case "vlan":
          case "ipvlan":
            if (opts.parent === undefined) {
              throw new InvalidArgumentError(
                `a ${opts.type} needs --parent LINK`,
              );
            }
            spec = opts.type === "vlan"
              ? {
                ...common,
                kind: "vlan",
                parent: linkRef(opts.parent),
                id: parseCount(opts.id ?? "", "VLAN id"),
                protocol: opts.protocol as "802.1Q" | "802.1ad" | undefined,
              }
              : {
                ...common,
                kind: "ipvlan",
                parent: linkRef(opts.parent),
                mode: opts.ipvlanMode as "l2" | "l3" | "l3s" | undefined,
              };
            break;
          case "tun":
          case "tap":
            spec = { ...common, kind: "tun", type: opts.type };
            break;
          case "macvlan":
          case "macvtap":
            if (opts.parent === undefined) {
              throw new InvalidArgumentError(
                `a ${opts.type} needs --parent LINK`,
              );
            }
            spec = {
              ...common,
              kind: opts.type,
              parent: linkRef(opts.parent),
              mode: opts.mode,
            };
            break;
          case "vxlan":
            if (opts.vni === undefined && opts.id === undefined) {
              throw new InvalidArgumentError("a vxlan needs --vni ID");
            }
            spec = {
              ...common,
              kind: "vxlan",
              vni: parseCount(opts.vni ?? opts.id ?? "", "VNI"),
              ttl: opts.ttl === undefined
                ? undefined
                : parseCount(opts.ttl, "TTL"),
              port: opts.port === undefined
                ? undefined
                : parseCount(opts.port, "port"),
              parent: opts.parent === undefined
                ? undefined
                : linkRef(opts.parent),
              local: opts.local,
              remote: opts.remote,
            };
            break;
          default:
            spec = { ...common, kind: opts.type };
        }
        createLink(sock, spec);
      });
    });
}

function setCommand(): CommandUnknownOpts {
  return new Command("set")
    .description("change a link: up/down, MTU, MAC, name, master, namespace")
    .argument("<link>", "link name or index")
    .option(NETNS_OPTION, NETNS_HELP)
    .option("--up", "bring it up")
    .option("--down", "bring it down")
    .option("--mtu <bytes>", "new MTU")
    .option("--mac <address>", "new MAC address")
    .option("--name <name>", "new name")
    .option("--master <link>", "enslave to this bridge")
    .option("--nomaster", "release it from its master")
    .option("--move-to <netns>", "move it into this namespace (NAME or PATH)")
    .action((link, opts) => {
      if (opts.up && opts.down) {
        throw new InvalidArgumentError("--up and --down exclude each other");
      }
      const changes: LinkChanges = {
        up: opts.up ? true : opts.down ? false : undefined,
        mtu: opts.mtu === undefined ? undefined : parseCount(opts.mtu, "MTU"),
        mac: opts.mac,
        name: opts.name,
        master: opts.nomaster
          ? null
          : opts.master === undefined
          ? undefined
          : linkRef(opts.master),
      };
      withNetlink(opts.netns, (sock) => {
        if (opts.moveTo === undefined) {
          setLink(sock, linkRef(link), changes);
          return;
        }
        using target = openNamespaceArg(opts.moveTo);
        setLink(sock, linkRef(link), { ...changes, netns: target });
      });
    });
}

function delCommand(): CommandUnknownOpts {
  return new Command("del")
    .alias("delete")
    .description("delete a link (a veth takes its peer with it)")
    .argument("<link>", "link name or index")
    .option(NETNS_OPTION, NETNS_HELP)
    .action((link, opts) => {
      withNetlink(opts.netns, (sock) => deleteLink(sock, linkRef(link)));
    });
}
