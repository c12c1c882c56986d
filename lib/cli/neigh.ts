/**
 * `nsnet neigh list|add|replace|del [NS] …`: the ARP/NDP cache, as `ip neigh`
 * handles it and in its words (`10.0.0.5 lladdr aa:bb:cc:dd:ee:ff dev eth0
 * nud permanent`), over nsnet's own netlink.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { InvalidArgumentError } from "../errors.ts";
import { tryParseIP } from "../netlink/ip_address.ts";
import { listLinks } from "../netlink/link.ts";
import { parseRouteProtocol, routeProtocolName } from "../netlink/names.ts";
import {
  addNeighbour,
  deleteNeighbour,
  listNeighbours,
  type NeighbourSpec,
  replaceNeighbour,
} from "../netlink/neighbour.ts";
import {
  type Neighbour,
  neighbourFlagNames,
  neighbourStateNames,
  NTF,
  NTF_EXT,
  NUD,
  parseNeighbourState,
} from "../netlink/neighbour_message.ts";
import { familyOption } from "./addr.ts";
import { linkRef } from "./link.ts";
import { NAMESPACE_ARG_HELP, withNetlink } from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";

/** The `neigh` command and its subcommands. */
export function neighCommand(): CommandUnknownOpts {
  return new Command("neigh")
    .alias("neighbour")
    .description(
      "list, add, replace and delete neighbour (ARP/NDP) entries (like `ip neigh`)",
    )
    .addCommand(listCommand())
    .addCommand(changeCommand("add"))
    .addCommand(changeCommand("replace"))
    .addCommand(changeCommand("del"));
}

/** Options of {@linkcode neighbourJson}. */
export interface NeighbourJsonOptions {
  /** Interface names by index. */
  names: ReadonlyMap<number, string>;
  /** `ip -s`: add the cache ages and probes. */
  stats?: boolean;
  /** Leave out `dev` (as `ip neigh show dev X` does). */
  omitDevice?: boolean;
}

/** `n` as `ip -j neigh` prints it, field for field (USER_HZ ticks as seconds). */
export function neighbourJson(
  n: Neighbour,
  options: NeighbourJsonOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (n.destination !== undefined) out.dst = n.destination;
  if (!options.omitDevice && n.index !== 0) {
    out.dev = options.names.get(n.index) ?? `if${n.index}`;
  }
  if (n.lladdr !== undefined) out.lladdr = n.lladdr;
  for (const flag of neighbourFlagNames(n.flags)) out[flag] = null;
  if (n.flagsExt !== undefined && (n.flagsExt & NTF_EXT.MANAGED)) {
    out.managed = null;
  }
  if (options.stats) {
    if (n.cacheInfo !== undefined) {
      if (n.cacheInfo.refcnt !== 0) out.refcnt = n.cacheInfo.refcnt;
      out.used = Math.floor(n.cacheInfo.used / 100);
      out.confirmed = Math.floor(n.cacheInfo.confirmed / 100);
      out.updated = Math.floor(n.cacheInfo.updated / 100);
    }
    if (n.probes !== undefined) out.probes = n.probes;
  }
  if (n.state !== 0) out.state = neighbourStateNames(n.state);
  if (n.protocol !== undefined) out.protocol = routeProtocolName(n.protocol);
  return out;
}

/** Whether `ip neigh show` (no `nud` word) prints `n`: it hides NOARP and NONE entries. */
export function shownByDefault(n: Neighbour): boolean {
  return (n.state & ~NUD.NOARP & 0xff) !== 0 ||
    (n.flags & (NTF.PROXY | NTF.EXT_LEARNED)) !== 0;
}

function listCommand(): CommandUnknownOpts {
  return new Command("list")
    .alias("show")
    .description(
      "list the neighbour entries of a namespace (the current one when omitted)",
    )
    .argument(
      "[words...]",
      `[NS] [dev IF] [nud STATE|all] [proxy]; NS is a ${NAMESPACE_ARG_HELP}`,
    )
    .option("-4, --ipv4", "IPv4 only")
    .option("-6, --ipv6", "IPv6 only")
    .option("-s, --stats", "show the cache ages and probes")
    .option("--json", "print JSON as `ip -j neigh` does")
    .action((words, opts) => {
      let i = 0;
      let netns: string | undefined;
      let dev: string | undefined;
      let proxy = false;
      let states: number | undefined;
      const list = words ?? [];
      if (list.length > 0 && !["dev", "nud", "proxy"].includes(list[0]!)) {
        netns = list[i++];
      }
      while (i < list.length) {
        const word = list[i++]!;
        const value = (): string => {
          const v = list[i++];
          if (v === undefined) {
            throw new InvalidArgumentError(`"${word}" needs a value`);
          }
          return v;
        };
        if (word === "dev") dev = value();
        else if (word === "proxy") proxy = true;
        else if (word === "nud") {
          const text = value();
          const state = text === "all" ? 0xffff : parseNeighbourState(text);
          if (state === undefined) {
            throw new InvalidArgumentError(`invalid nud state ${text}`);
          }
          states = (states ?? 0) | (state === 0 ? 0x10000 : state);
        } else throw new InvalidArgumentError(`unknown word "${word}"`);
      }
      const family = familyOption(opts);
      const [entries, names] = withNetlink(netns, (sock) =>
        [
          listNeighbours(sock, {
            family,
            link: dev === undefined ? undefined : linkRef(dev),
            proxy,
          }),
          new Map(
            listLinks(sock, { stats: false }).map((l) => [l.index, l.name]),
          ),
        ] as const);
      const shown = entries.filter((n) =>
        proxy ? true : states === undefined ? shownByDefault(n) : (
          (n.state & states) !== 0 || (n.state === 0 && (states & 0x10000))
        )
      );
      if (opts.json) {
        printJson(
          shown.map((n) =>
            neighbourJson(n, {
              names,
              stats: opts.stats,
              omitDevice: dev !== undefined,
            })
          ),
        );
        return;
      }
      printTable(
        ["ADDRESS", "DEVICE", "LLADDR", "STATE", "FLAGS"],
        shown.map((n) => [
          n.destination ?? "",
          names.get(n.index) ?? String(n.index),
          n.lladdr ?? "",
          neighbourStateNames(n.state).join(","),
          neighbourFlagNames(n.flags).join(","),
        ]),
      );
    });
}

/**
 * Parses `ip neigh add|replace|del`'s words: `[NS] [proxy] [to] ADDRESS
 * [lladdr MAC] dev IF [nud STATE] [router] [extern_learn] [protocol P]`.
 */
export function parseNeighbourWords(
  words: readonly string[],
): { netns: string | undefined; spec: NeighbourSpec } {
  let i = 0;
  let netns: string | undefined;
  const first = words[0];
  if (
    first !== undefined && first !== "proxy" && first !== "to" &&
    tryParseIP(first) === undefined
  ) {
    netns = words[i++];
  }
  let address: string | undefined;
  let device: string | undefined;
  const spec: Partial<NeighbourSpec> = {};
  while (i < words.length) {
    const word = words[i++]!;
    const value = (): string => {
      const v = words[i++];
      if (v === undefined) {
        throw new InvalidArgumentError(`"${word}" needs a value`);
      }
      return v;
    };
    switch (word) {
      case "lladdr":
        spec.lladdr = value();
        break;
      case "dev":
        device = value();
        break;
      case "nud": {
        const text = value();
        const state = parseNeighbourState(text);
        if (state === undefined) {
          throw new InvalidArgumentError(`invalid nud state ${text}`);
        }
        spec.state = state;
        break;
      }
      case "router":
        spec.router = true;
        break;
      case "proxy":
        spec.proxy = true;
        if (i < words.length && tryParseIP(words[i]!) !== undefined) {
          address = words[i++];
        }
        break;
      case "extern_learn":
        spec.externLearn = true;
        break;
      case "protocol":
        spec.protocol = parseRouteProtocol(value());
        break;
      case "to":
        address = value();
        break;
      default:
        if (address === undefined && tryParseIP(word) !== undefined) {
          address = word;
        } else {
          throw new InvalidArgumentError(`unknown neigh word "${word}"`);
        }
    }
  }
  if (address === undefined) {
    throw new InvalidArgumentError("no neighbour address given");
  }
  if (device === undefined) {
    throw new InvalidArgumentError("no device given", {
      hint: "add `dev IF`",
    });
  }
  return {
    netns,
    spec: { ...spec, address, device: linkRef(device) },
  };
}

function changeCommand(verb: "add" | "replace" | "del"): CommandUnknownOpts {
  return new Command(verb)
    .alias(verb === "del" ? "delete" : verb === "replace" ? "change" : "a")
    .description(
      `${verb} an entry: nsnet neigh ${verb} [NS] 10.0.0.5 ${
        verb === "del" ? "" : "lladdr aa:bb:cc:dd:ee:ff "
      }dev eth0${verb === "del" ? "" : " nud permanent"}`,
    )
    .argument("<words...>", "[NS] then `ip neigh`'s words")
    .option(
      "-n, --netns <netns>",
      "act in this namespace (NAME or PATH; default: the current one)",
    )
    .action((words, opts) => {
      const parsed = parseNeighbourWords(words);
      if (parsed.netns !== undefined && opts.netns !== undefined) {
        throw new InvalidArgumentError("the namespace is given twice");
      }
      withNetlink(parsed.netns ?? opts.netns, (sock) => {
        if (verb === "add") addNeighbour(sock, parsed.spec);
        else if (verb === "replace") replaceNeighbour(sock, parsed.spec);
        else deleteNeighbour(sock, parsed.spec);
      });
    });
}
