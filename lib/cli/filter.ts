/**
 * `nsnet filter list|add|change|replace|del`: traffic-control filters as
 * `tc filter` handles them, in tc's own words — u32 matches and classic-BPF
 * bytecode, with mirred (redirect or mirror to a device) and gact actions:
 * `nsnet filter add NS dev v1 parent ffff: protocol all u32 match u32 0 0
 * action mirred egress redirect dev ifb0`. `--json` prints what
 * `tc -j filter` prints, field for field.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { InvalidArgumentError } from "../errors.ts";
import {
  addFilter,
  bpfOptions,
  changeFilter,
  deleteFilter,
  type Filter,
  type FilterSpec,
  gactAction,
  listFilters,
  parseBpfBytecode,
  replaceFilter,
  type U32Match,
  u32Options,
} from "../netlink/filter.ts";
import { linkIndex, listLinks } from "../netlink/link.ts";
import type { NetlinkSocket } from "../netlink/socket.ts";
import {
  type BpfOptions,
  ETH_P,
  filterPriority,
  filterProtocol,
  formatClassId,
  MIRRED_EACTION,
  TC_ACT,
  TC_H,
  type TcAction,
  type TcOptions,
  type U32Options,
} from "../netlink/tc_message.ts";
import { linkRef } from "./link.ts";
import { parseCount, withNetlink } from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";
import {
  handleWord,
  splitNamespace,
  statsJson,
  type TcJson,
  TcWords,
} from "./qdisc.ts";

const PROTOCOLS: Readonly<Record<string, number>> = {
  all: ETH_P.ALL,
  ip: ETH_P.IP,
  ipv6: ETH_P.IPV6,
  arp: ETH_P.ARP,
  "802.1q": 0x8100,
  "802.1ad": 0x88a8,
};

/** A protocol word (`all`, `ip`, `ipv6`, `arp`, `802.1Q`, or a number such as 0x0800). */
export function parseProtocol(text: string): number {
  const named = PROTOCOLS[text.toLowerCase()];
  if (named !== undefined) return named;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new InvalidArgumentError(`invalid protocol ${text}`, {
      hint: "all, ip, ipv6, arp, 802.1Q or a number",
    });
  }
  return value;
}

/** A protocol as tc prints it (`all`, `ip`, `ipv6`, or `[hex]`). */
export function protocolName(protocol: number): string {
  for (const [name, value] of Object.entries(PROTOCOLS)) {
    if (value === protocol) return name === "802.1q" ? "802.1Q" : name;
  }
  return `[${protocol.toString(16)}]`;
}

/** A u32 handle in tc's words: `800:`, `800::800`, `800:1:2` (hex), or a bare number. */
export function parseU32Handle(text: string): number {
  const parts = text.split(":");
  if (parts.length === 1) {
    const value = Number(text);
    if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) {
      return value;
    }
  } else if (
    parts.length <= 3 && parts.every((p) => /^[0-9a-fA-F]*$/.test(p))
  ) {
    const [htid, hash, node] = parts.map((p) => p === "" ? 0 : parseInt(p, 16));
    return ((((htid ?? 0) & 0xfff) << 20) | (((hash ?? 0) & 0xff) << 12) |
      ((node ?? 0) & 0xfff)) >>> 0;
  }
  throw new InvalidArgumentError(`invalid u32 handle ${text}`, {
    hint: "a u32 handle is HTID:[HASH:NODE] in hex, e.g. 800::800",
  });
}

/** A u32 handle as tc prints it (`800:`, `800::800`). */
export function formatU32Handle(handle: number): string {
  if (handle === 0) return "none";
  const htid = handle >>> 20;
  const hash = (handle >>> 12) & 0xff;
  const node = handle & 0xfff;
  let out = htid !== 0 ? `${htid.toString(16)}:` : "";
  if (hash !== 0) out += hash.toString(16);
  if (node !== 0) out += `:${node.toString(16)}`;
  return out;
}

function parseActions(
  w: TcWords,
  resolve: (device: string) => number,
): TcAction[] {
  const actions: TcAction[] = [];
  while (w.peek() === "action" || w.peek() === "actions") {
    w.next("action");
    const kind = w.next("action kind");
    const order = actions.length + 1;
    if (kind === "mirred") {
      let direction: "egress" | "ingress" = "egress";
      let mode: "redirect" | "mirror" = "redirect";
      let device: string | undefined;
      while (w.more && w.peek() !== "action") {
        const word = w.next("mirred word");
        if (word === "egress" || word === "ingress") direction = word;
        else if (word === "redirect" || word === "mirror") mode = word;
        else if (word === "dev") device = w.next("device");
        else {
          throw new InvalidArgumentError(`unknown mirred word ${word}`, {
            hint: "action mirred egress|ingress redirect|mirror dev IF",
          });
        }
      }
      if (device === undefined) {
        throw new InvalidArgumentError("mirred needs dev IF");
      }
      actions.push(
        {
          order,
          kind: "mirred",
          mirred: {
            index: 0,
            capab: 0,
            action: mode === "mirror" ? TC_ACT.PIPE : TC_ACT.STOLEN,
            refcnt: 0,
            bindcnt: 0,
            eaction: direction === "ingress"
              ? (mode === "mirror"
                ? MIRRED_EACTION.INGRESS_MIRROR
                : MIRRED_EACTION.INGRESS_REDIR)
              : (mode === "mirror"
                ? MIRRED_EACTION.EGRESS_MIRROR
                : MIRRED_EACTION.EGRESS_REDIR),
            ifindex: resolve(device),
          },
        },
      );
    } else {
      let verdict = kind;
      if (kind === "gact") verdict = w.next("gact verdict");
      if (!["drop", "shot", "pass", "ok"].includes(verdict)) {
        throw new InvalidArgumentError(`action ${kind} is not supported`, {
          hint: "nsnet handles mirred, and gact's drop/pass",
        });
      }
      actions.push(
        gactAction(
          verdict === "drop" || verdict === "shot" ? "drop" : "pass",
          order,
        ),
      );
    }
  }
  return actions;
}

function parseU32(
  w: TcWords,
  resolve: (device: string) => number,
): U32Options {
  const matches: U32Match[] = [];
  let classid: number | undefined;
  let actions: TcAction[] | undefined;
  while (w.more) {
    const word = w.next("u32 word");
    if (word === "match") {
      const type = w.next("match type");
      if (type === "u32") {
        const value = Number(w.next("value"));
        const mask = Number(w.next("mask"));
        let at = 0;
        if (w.peek() === "at") {
          w.next("at");
          at = Number(w.next("offset"));
        }
        if (![value, mask, at].every(Number.isInteger)) {
          throw new InvalidArgumentError("match u32 VALUE MASK [at OFFSET]");
        }
        matches.push({ type: "u32", value, mask, at });
      } else if (type === "ip") {
        const field = w.next("ip field");
        if (field !== "src" && field !== "dst") {
          throw new InvalidArgumentError(`match ip ${field} is not supported`, {
            hint: "match ip src|dst PREFIX",
          });
        }
        matches.push({ type: "ip", field, prefix: w.next("prefix") });
      } else {
        throw new InvalidArgumentError(`match ${type} is not supported`, {
          hint: "match u32 V M [at O] | match ip src|dst PREFIX",
        });
      }
    } else if (word === "flowid" || word === "classid") {
      classid = handleWord(w.next("flowid"), "flowid");
    } else if (word === "action" || word === "actions") {
      // Put the word back by re-reading it inside parseActions.
      actions = parseActions(new TcWords([word, ...drain(w)]), resolve);
    } else {
      throw new InvalidArgumentError(`unknown u32 word ${word}`, {
        hint: "u32 takes match, flowid|classid, action",
      });
    }
  }
  return u32Options(matches, { classid, actions });
}

function drain(w: TcWords): string[] {
  const out: string[] = [];
  while (w.more) out.push(w.next("word"));
  return out;
}

function parseBpf(
  w: TcWords,
  resolve: (device: string) => number,
): BpfOptions {
  let ops;
  let classid: number | undefined;
  let directAction = false;
  let actions: TcAction[] | undefined;
  while (w.more) {
    const word = w.next("bpf word");
    if (word === "bytecode" || word === "bc") {
      ops = parseBpfBytecode(w.next("bytecode"));
    } else if (word === "da" || word === "direct-action") directAction = true;
    else if (word === "flowid" || word === "classid") {
      classid = handleWord(w.next("flowid"), "flowid");
    } else if (word === "action" || word === "actions") {
      actions = parseActions(new TcWords([word, ...drain(w)]), resolve);
    } else if (
      ["obj", "object-file", "fd", "object-pinned", "pinned"].includes(word)
    ) {
      throw new InvalidArgumentError(`bpf ${word} is not supported`, {
        hint: "give a classic-BPF program with bytecode 'N,c t f k,…'",
      });
    } else {
      throw new InvalidArgumentError(`unknown bpf word ${word}`, {
        hint: "bpf takes bytecode, da, flowid, action",
      });
    }
  }
  if (ops === undefined) {
    throw new InvalidArgumentError("bpf needs bytecode 'N,code jt jf k,…'");
  }
  return bpfOptions(ops, { classid, directAction, actions });
}

/** What `[NS] dev IF parent H [protocol P] [pref N] [handle H] KIND …` says. */
export interface FilterWords {
  /** The namespace, when the first word named one. */
  netns: string | undefined;
  /** The device, as given. */
  device: string;
  /** Builds the request, resolving action devices with `resolve`. */
  build(resolve: (device: string) => number): FilterSpec;
}

/** Parses tc's filter words (after the verb); the kind may be left out for del. */
export function parseFilterWords(words: readonly string[]): FilterWords {
  const { netns, rest } = splitNamespace(words);
  const w = new TcWords(rest);
  let device: string | undefined;
  let parent: number | undefined;
  let protocol: number | undefined;
  let priority: number | undefined;
  let handle: string | undefined;
  let chain: number | undefined;
  let kind: string | undefined;
  while (w.more && kind === undefined) {
    const word = w.next("filter word");
    switch (word) {
      case "dev":
        device = w.next("device");
        break;
      case "parent":
        parent = handleWord(w.next("parent"), "parent");
        break;
      case "root":
        parent = TC_H.ROOT;
        break;
      case "ingress":
        parent = (0xffff0000 | TC_H.MIN_INGRESS) >>> 0;
        break;
      case "egress":
        parent = (0xffff0000 | TC_H.MIN_EGRESS) >>> 0;
        break;
      case "protocol":
        protocol = parseProtocol(w.next("protocol"));
        break;
      case "pref":
      case "prio":
      case "priority":
        priority = parseCount(w.next("pref"), "pref");
        break;
      case "handle":
        handle = w.next("handle");
        break;
      case "chain":
        chain = parseCount(w.next("chain"), "chain");
        break;
      default:
        kind = word;
    }
  }
  if (device === undefined || parent === undefined) {
    throw new InvalidArgumentError("dev IF and parent H are needed", {
      hint:
        "e.g. nsnet filter add NS dev eth0 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev ifb0",
    });
  }
  const remaining = drain(w);
  const dev = device;
  const where = parent;
  return {
    netns,
    device: dev,
    build(resolve): FilterSpec {
      let options: TcOptions | undefined;
      const words = new TcWords(remaining);
      if (kind === "u32") {
        if (words.more) options = parseU32(words, resolve);
      } else if (kind === "bpf") {
        if (words.more) options = parseBpf(words, resolve);
      } else if (kind !== undefined) {
        throw new InvalidArgumentError(`filter kind ${kind} is not supported`, {
          hint: "nsnet handles u32 and bpf filters",
        });
      }
      const spec: FilterSpec = {
        device: linkRef(dev),
        parent: where,
        protocol: protocol ?? ETH_P.ALL,
      };
      if (kind !== undefined) spec.kind = kind;
      if (priority !== undefined) spec.priority = priority;
      if (handle !== undefined) {
        spec.handle = kind === "u32" ? parseU32Handle(handle) : Number(handle);
      }
      if (chain !== undefined) spec.chain = chain;
      if (options !== undefined) spec.options = options;
      return spec;
    },
  };
}

// ---------------------------------------------------------------- JSON

const ACTION_NAMES: Readonly<Record<number, string>> = {
  [TC_ACT.UNSPEC]: "continue",
  [TC_ACT.OK]: "pass",
  [TC_ACT.RECLASSIFY]: "reclassify",
  [TC_ACT.SHOT]: "drop",
  [TC_ACT.PIPE]: "pipe",
  [TC_ACT.STOLEN]: "stolen",
  [TC_ACT.REPEAT]: "repeat",
  [TC_ACT.REDIRECT]: "redirect",
  [TC_ACT.TRAP]: "trap",
};

function actionName(action: number): string {
  return ACTION_NAMES[action] ?? String(action);
}

/** USER_HZ: the tick `tcf_t` times come in (jiffies_to_clock_t). */
const USER_HZ = 100;

function actionsJson(
  actions: readonly TcAction[],
  names: ReadonlyMap<number, string>,
  stats: boolean,
): TcJson[] {
  return actions.map((a) => {
    const out: TcJson = { order: a.order, kind: a.kind };
    if (a.mirred !== undefined) {
      const m = a.mirred;
      const redirect = m.eaction === MIRRED_EACTION.EGRESS_REDIR ||
        m.eaction === MIRRED_EACTION.INGRESS_REDIR;
      const ingress = m.eaction === MIRRED_EACTION.INGRESS_REDIR ||
        m.eaction === MIRRED_EACTION.INGRESS_MIRROR;
      out.mirred_action = redirect ? "redirect" : "mirror";
      out.direction = ingress ? "ingress" : "egress";
      out.to_dev = names.get(m.ifindex) ?? `if${m.ifindex}`;
      out.control_action = { type: actionName(m.action) };
      out.index = m.index;
      out.ref = m.refcnt;
      out.bind = m.bindcnt;
    }
    if (a.gact !== undefined) {
      out.control_action = { type: actionName(a.gact.action) };
      out.prob = {
        random_type: "none",
        control_action: { type: "pass" },
        val: 0,
      };
      out.index = a.gact.index;
      out.ref = a.gact.refcnt;
      out.bind = a.gact.bindcnt;
    }
    if (stats && a.tm !== undefined) {
      if (a.tm.install !== 0) {
        out.installed = Math.floor(a.tm.install / USER_HZ);
      }
      if (a.tm.lastuse !== 0) {
        out.last_used = Math.floor(a.tm.lastuse / USER_HZ);
      }
      if (a.tm.firstuse !== 0) {
        out.first_used = Math.floor(a.tm.firstuse / USER_HZ);
      }
      if (a.tm.expires !== 0) out.expires = Math.floor(a.tm.expires / USER_HZ);
    }
    if (stats && a.stats !== undefined) out.stats = statsJson(a.stats);
    return out;
  });
}

const CLS_FLAGS = { SKIP_HW: 1, SKIP_SW: 2, IN_HW: 4, NOT_IN_HW: 8 } as const;

function clsFlagsJson(flags: number | undefined, out: TcJson): void {
  if (flags === undefined) return;
  if (flags & CLS_FLAGS.SKIP_HW) out.skip_hw = true;
  if (flags & CLS_FLAGS.SKIP_SW) out.skip_sw = true;
  if (flags & CLS_FLAGS.IN_HW) out.in_hw = true;
  else if (flags & CLS_FLAGS.NOT_IN_HW) out.not_in_hw = true;
}

function u32Json(
  handle: number,
  o: U32Options,
  names: ReadonlyMap<number, string>,
  stats: boolean,
): TcJson {
  const out: TcJson = {};
  if (handle !== 0) out.fh = formatU32Handle(handle);
  if ((handle & 0xfff) !== 0) out.order = handle & 0xfff;
  if (o.divisor !== undefined) out.ht_divisor = o.divisor;
  else if (o.hash !== undefined) {
    out.key_ht = ((o.hash >>> 20) & 0xfff).toString(16);
    out.bkt = ((o.hash >>> 12) & 0xff).toString(16);
  }
  if (o.classid !== undefined) out.flowid = formatClassId(o.classid);
  if (o.link !== undefined) out.link = formatU32Handle(o.link);
  clsFlagsJson(o.flags, out);
  const keys = o.selector?.keys ?? [];
  // tc prints one "match" object per key under the same name; a JSON reader keeps the last.
  const last = keys[keys.length - 1];
  if (last !== undefined) {
    out.match = {
      value: last.value.toString(16),
      mask: last.mask.toString(16),
      offmask: last.offmask !== 0 ? "nexthdr+" : "",
      off: last.offset,
    };
  }
  if (o.selector !== undefined && o.selector.hmask !== 0) {
    out.hash_mask = o.selector.hmask.toString(16).padStart(8, "0");
    out.hash_off = o.selector.hoff;
  }
  if (o.indev !== undefined) out.input_dev = o.indev;
  if (o.actions !== undefined) {
    out.actions = actionsJson(o.actions, names, stats);
  }
  return out;
}

function bpfJson(
  handle: number,
  o: BpfOptions,
  names: ReadonlyMap<number, string>,
  stats: boolean,
): TcJson {
  const out: TcJson = {};
  if (handle !== 0) out.handle = `0x${handle.toString(16)}`;
  if (o.classid !== undefined) out.flowid = formatClassId(o.classid);
  if (o.name !== undefined) out.bpf_name = o.name;
  if (o.flags !== undefined && (o.flags & 1) !== 0) {
    out["direct-action"] = true;
  }
  clsFlagsJson(o.flagsGen, out);
  if (o.ops !== undefined && o.ops.length > 0) {
    out.bytecode = {
      length: o.ops.length,
      insns: o.ops.map((op) => ({ ...op })),
    };
  }
  if (o.tag !== undefined) out.tag = o.tag;
  if (o.actions !== undefined) {
    out.actions = actionsJson(o.actions, names, stats);
  }
  return out;
}

/** A filter as `tc -j [-s] filter show dev IF [parent P]` prints it. */
export function filterJson(
  f: Filter,
  context: {
    names: ReadonlyMap<number, string>;
    parentFiltered: boolean;
    stats: boolean;
  },
): TcJson {
  const out: TcJson = {};
  if (!context.parentFiltered) {
    if (f.parent === TC_H.ROOT) out.root = true;
    else if (f.parent === ((0xffff0000 | TC_H.MIN_INGRESS) >>> 0)) {
      out.ingress = true;
    } else if (f.parent === ((0xffff0000 | TC_H.MIN_EGRESS) >>> 0)) {
      out.egress = true;
    } else out.parent = formatClassId(f.parent);
  }
  if (f.info !== 0) {
    const protocol = filterProtocol(f);
    if (protocol !== 0) out.protocol = protocolName(protocol);
    const prio = filterPriority(f);
    if (prio !== 0) out.pref = prio;
  }
  if (f.kind !== "") out.kind = f.kind;
  if (f.chain !== undefined) out.chain = f.chain;
  if (f.options !== undefined) {
    if (f.options.kind === "u32") {
      out.options = u32Json(f.handle, f.options, context.names, context.stats);
    } else if (f.options.kind === "bpf") {
      out.options = bpfJson(f.handle, f.options, context.names, context.stats);
    } else out.options = {};
  }
  if (context.stats && f.stats !== undefined) {
    Object.assign(out, statsJson(f.stats));
  }
  return out;
}

// ---------------------------------------------------------------- commands

function filterList(): CommandUnknownOpts {
  return new Command("list")
    .alias("show")
    .description("list the filters of a device (like `tc filter show dev IF`)")
    .argument("<words...>", "[NS] dev IF [parent H|ingress|egress]")
    .option("-s, --stats", "with counters (tc -s)")
    .option("--json", "print JSON as `tc -j filter` does")
    .action((words, opts) => {
      const { netns, rest } = splitNamespace(words);
      const w = new TcWords(rest);
      let device: string | undefined;
      let parent = 0;
      while (w.more) {
        const word = w.next("word");
        if (word === "dev") device = w.next("device");
        else if (word === "parent") {
          parent = handleWord(w.next("parent"), "parent");
        } else if (word === "ingress") {
          parent = (0xffff0000 | TC_H.MIN_INGRESS) >>> 0;
        } else if (word === "egress") {
          parent = (0xffff0000 | TC_H.MIN_EGRESS) >>> 0;
        } else if (word === "root") parent = TC_H.ROOT;
        else {
          throw new InvalidArgumentError(`unexpected ${word}`, {
            hint: "list takes [NS] dev IF [parent H]",
          });
        }
      }
      if (device === undefined) {
        throw new InvalidArgumentError("dev IF is missing");
      }
      const dev = device;
      const [filters, names] = withNetlink(netns, (sock) =>
        [
          listFilters(sock, linkRef(dev), parent),
          new Map(
            listLinks(sock, { stats: false }).map((l) => [l.index, l.name]),
          ),
        ] as const);
      if (opts.json) {
        printJson(filters.map((f) =>
          filterJson(f, {
            names,
            parentFiltered: parent !== 0,
            stats: opts.stats === true,
          })
        ));
        return;
      }
      printTable(
        ["PARENT", "PROTOCOL", "PREF", "KIND", "HANDLE", "DETAILS"],
        filters.map((f) => {
          const json = filterJson(f, {
            names,
            parentFiltered: true,
            stats: false,
          });
          const options = (json.options ?? {}) as TcJson;
          const { fh, handle, ...details } = options;
          return [
            formatClassId(f.parent),
            String(json.protocol ?? ""),
            String(json.pref ?? ""),
            f.kind,
            String(fh ?? handle ?? ""),
            Object.keys(details).length === 0 ? "" : JSON.stringify(details),
          ];
        }),
      );
    });
}

type Verb = "add" | "change" | "replace" | "del";

function filterChange(verb: Verb): CommandUnknownOpts {
  return new Command(verb)
    .description(`${verb} a filter, in tc's words`)
    .argument(
      "<words...>",
      "[NS] dev IF parent H|ingress|egress [protocol P] [pref N] [handle H] u32|bpf … [action mirred egress redirect dev IF]",
    )
    .action((words) => {
      const parsed = parseFilterWords(words);
      withNetlink(parsed.netns, (sock: NetlinkSocket) => {
        const spec = parsed.build((device) => linkIndex(sock, linkRef(device)));
        if (verb === "add") addFilter(sock, spec);
        else if (verb === "change") changeFilter(sock, spec);
        else if (verb === "replace") replaceFilter(sock, spec);
        else deleteFilter(sock, spec);
      });
    });
}

/** The `filter` command and its subcommands. */
export function filterCommand(): CommandUnknownOpts {
  return new Command("filter")
    .description(
      "list, add, change, replace and delete tc filters (u32, bpf; mirred and gact actions)",
    )
    .addCommand(filterList())
    .addCommand(filterChange("add"))
    .addCommand(filterChange("change"))
    .addCommand(filterChange("replace"))
    .addCommand(filterChange("del"));
}
