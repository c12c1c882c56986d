/**
 * `nsnet qdisc list|add|change|replace|del` and `nsnet class …`: queueing
 * disciplines and htb classes as `tc qdisc` / `tc class` handle them, in
 * tc's own words (`dev v2 root tbf rate 10mbit burst 32kbit latency
 * 400ms`), over nsnet's own netlink. `--json` prints what `tc -j qdisc`
 * prints, field for field.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { InvalidArgumentError } from "../errors.ts";
import { listLinks } from "../netlink/link.ts";
import {
  addQdisc,
  changeQdisc,
  deleteQdisc,
  listQdiscs,
  type Qdisc,
  type QdiscSpec,
  readSchedClock,
  replaceQdisc,
} from "../netlink/qdisc.ts";
import {
  addClass,
  changeClass,
  type ClassSpec,
  deleteClass,
  listClasses,
  replaceClass,
} from "../netlink/tc_class.ts";
import {
  formatClassId,
  formatQdiscHandle,
  type NetemOptions,
  parseHandle,
  TC_H,
  type TcObject,
  type TcOptions,
  type TcStats,
} from "../netlink/tc_message.ts";
import {
  formatRate,
  formatSize,
  formatTime,
  htbClassOptions,
  htbQdiscOptions,
  parsePercent,
  parseRate,
  parseSize,
  parseTimeNs,
  parseTimeUs,
  type SchedClock,
  tbfJson,
  tbfOptions,
  type TbfSpec,
  xmitSize,
} from "../netlink/tc_units.ts";
import { linkRef } from "./link.ts";
import { parseCount, withNetlink } from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";

/** A JSON value as `tc -j` prints it. */
export type TcJson = Record<string, unknown>;

/** Words of a tc command line, consumed left to right. */
export class TcWords {
  #words: readonly string[];
  #at = 0;

  /** Wraps `words`. */
  constructor(words: readonly string[]) {
    this.#words = words;
  }

  /** The next word, not consumed. */
  peek(): string | undefined {
    return this.#words[this.#at];
  }

  /** Whether words are left. */
  get more(): boolean {
    return this.#at < this.#words.length;
  }

  /** Consumes the next word; `what` names it in the error when missing. */
  next(what: string): string {
    const word = this.#words[this.#at++];
    if (word === undefined) {
      throw new InvalidArgumentError(`${what} is missing`, {
        hint: "the words follow tc's own syntax (`tc qdisc help`)",
      });
    }
    return word;
  }

  /** Consumes the next word if it starts with a digit (tc's NEXT_IS_NUMBER). */
  nextNumber(): string | undefined {
    const word = this.peek();
    if (word === undefined || !/^[0-9.]/.test(word)) return undefined;
    this.#at++;
    return word;
  }
}

/**
 * Takes a leading namespace off `words`: the first word is a namespace
 * unless it is `dev` (tc's first word).
 */
export function splitNamespace(
  words: readonly string[],
): { netns: string | undefined; rest: string[] } {
  if (words.length > 0 && words[0] !== "dev") {
    return { netns: words[0], rest: words.slice(1) };
  }
  return { netns: undefined, rest: [...words] };
}

/** Parses a handle word, with an error in tc's terms. */
export function handleWord(text: string, what: string): number {
  const handle = parseHandle(text);
  if (handle === undefined) {
    throw new InvalidArgumentError(
      `invalid ${what} ${JSON.stringify(text)}`,
      { hint: "a handle is MAJ:, MAJ:MIN (hex), root, ingress or clsact" },
    );
  }
  return handle;
}

function parseTbf(w: TcWords, clock: SchedClock): TcOptions {
  const spec: Partial<TbfSpec> = {};
  while (w.more) {
    const word = w.next("tbf option");
    switch (word) {
      case "rate":
        spec.rate = parseRate(w.next("rate"));
        break;
      case "burst":
      case "buffer":
      case "maxburst":
        spec.burst = parseSize(w.next("burst").split("/")[0]!);
        break;
      case "limit":
        spec.limit = parseSize(w.next("limit"));
        break;
      case "latency":
        spec.latency = parseTimeUs(w.next("latency"));
        break;
      case "peakrate":
        spec.peakrate = parseRate(w.next("peakrate"));
        break;
      case "mtu":
      case "minburst":
        spec.mtu = parseSize(w.next("mtu").split("/")[0]!);
        break;
      case "mpu":
        spec.mpu = parseSize(w.next("mpu"));
        break;
      case "overhead":
        spec.overhead = parseCount(w.next("overhead"), "overhead");
        break;
      default:
        throw new InvalidArgumentError(`unknown tbf option ${word}`, {
          hint:
            "tbf takes rate, burst, latency|limit, peakrate, mtu, mpu, overhead",
        });
    }
  }
  return tbfOptions(spec as TbfSpec, clock);
}

function parseHtbQdisc(w: TcWords): TcOptions {
  let defaultClass: number | undefined;
  let r2q: number | undefined;
  let directQlen: number | undefined;
  while (w.more) {
    const word = w.next("htb option");
    if (word === "default") {
      const text = w.next("default").replace(/^0x/i, "");
      defaultClass = parseInt(text, 16);
      if (!/^[0-9a-fA-F]+$/.test(text)) {
        throw new InvalidArgumentError(`invalid default class ${text}`, {
          hint: "htb's default is a class minor in hex, e.g. 10 for 1:10",
        });
      }
    } else if (word === "r2q") r2q = parseCount(w.next("r2q"), "r2q");
    else if (word === "direct_qlen") {
      directQlen = parseCount(w.next("direct_qlen"), "direct_qlen");
    } else {
      throw new InvalidArgumentError(`unknown htb option ${word}`, {
        hint: "an htb qdisc takes default, r2q, direct_qlen",
      });
    }
  }
  return htbQdiscOptions({ defaultClass, r2q, directQlen });
}

function parseHtbClass(w: TcWords, clock: SchedClock): TcOptions {
  let rate: number | undefined;
  const spec: Record<string, number> = {};
  while (w.more) {
    const word = w.next("htb class option");
    switch (word) {
      case "rate":
        rate = parseRate(w.next("rate"));
        break;
      case "ceil":
        spec.ceil = parseRate(w.next("ceil"));
        break;
      case "burst":
      case "buffer":
      case "maxburst":
        spec.burst = parseSize(w.next("burst"));
        break;
      case "cburst":
      case "cbuffer":
      case "cmaxburst":
        spec.cburst = parseSize(w.next("cburst"));
        break;
      case "prio":
        spec.prio = parseCount(w.next("prio"), "prio");
        break;
      case "quantum":
        spec.quantum = parseSize(w.next("quantum"));
        break;
      case "mtu":
        spec.mtu = parseSize(w.next("mtu"));
        break;
      case "mpu":
        spec.mpu = parseSize(w.next("mpu"));
        break;
      case "overhead":
        spec.overhead = parseCount(w.next("overhead"), "overhead");
        break;
      default:
        throw new InvalidArgumentError(`unknown htb class option ${word}`, {
          hint: "an htb class takes rate, ceil, burst, cburst, prio, quantum",
        });
    }
  }
  if (rate === undefined) {
    throw new InvalidArgumentError("an htb class needs a rate");
  }
  return htbClassOptions({ rate, ...spec }, clock);
}

/** netem's words as tc takes them (`delay 100ms 10ms 25% loss 1% …`). */
export function parseNetem(w: TcWords): NetemOptions {
  const o: NetemOptions = {
    kind: "netem",
    latencyTicks: 0,
    limit: 1000,
    loss: 0,
    gap: 0,
    duplicate: 0,
    jitterTicks: 0,
  };
  const corr = { delay: 0, loss: 0, duplicate: 0 };
  let haveCorr = false;
  const pct = (what: string): number => parsePercent(w.next(what));
  const optionalPct = (): number | undefined => {
    const word = w.nextNumber();
    return word === undefined ? undefined : parsePercent(word);
  };
  const fraction = (p: number): number => Math.round(p * 0xffffffff);
  while (w.more) {
    const word = w.next("netem option");
    switch (word) {
      case "limit":
        o.limit = parseCount(w.next("limit"), "limit");
        break;
      case "delay":
      case "latency": {
        o.latency = parseTimeNs(w.next("delay"));
        const jitter = w.nextNumber();
        if (jitter !== undefined) {
          o.jitter = parseTimeNs(jitter);
          const c = optionalPct();
          if (c !== undefined) {
            corr.delay = c;
            haveCorr = true;
          }
        }
        break;
      }
      case "loss":
      case "drop": {
        let model = w.next("loss");
        if (/^[0-9.]/.test(model)) model = "random:" + model;
        if (model === "random") model = "random:" + w.next("loss");
        if (model.startsWith("random:")) {
          o.loss = parsePercent(model.slice(7));
          const c = optionalPct();
          if (c !== undefined) {
            corr.loss = c;
            haveCorr = true;
          }
        } else if (model === "state") {
          const p13 = pct("p13") / 0xffffffff;
          const g = {
            p13: fraction(p13),
            p31: fraction(1 - p13),
            p32: 0,
            p23: 0xffffffff,
            p14: 0,
          };
          for (const key of ["p31", "p32", "p23", "p14"] as const) {
            const v = optionalPct();
            if (v === undefined) break;
            g[key] = v;
          }
          o.lossState = g;
        } else if (model === "gemodel") {
          const p = pct("p") / 0xffffffff;
          const g = { p: fraction(p), r: fraction(1 - p), h: 0, k1: 0 };
          const r = optionalPct();
          if (r !== undefined) {
            g.r = r;
            const h = optionalPct();
            if (h !== undefined) {
              g.h = 0xffffffff - h; // tc takes 1-h, the kernel h
              const k = optionalPct();
              if (k !== undefined) g.k1 = k;
            }
          }
          o.lossGemodel = g;
        } else {
          throw new InvalidArgumentError(`unknown loss model ${model}`, {
            hint:
              "loss [random] P [CORR] | loss state P13 … | loss gemodel P …",
          });
        }
        break;
      }
      case "duplicate": {
        o.duplicate = pct("duplicate");
        const c = optionalPct();
        if (c !== undefined) {
          corr.duplicate = c;
          haveCorr = true;
        }
        break;
      }
      case "reorder": {
        const probability = pct("reorder");
        o.reorder = { probability, correlation: optionalPct() ?? 0 };
        break;
      }
      case "gap":
        o.gap = parseCount(w.next("gap"), "gap");
        break;
      case "corrupt": {
        const probability = pct("corrupt");
        o.corrupt = { probability, correlation: optionalPct() ?? 0 };
        break;
      }
      case "rate": {
        const rate = parseRate(w.next("rate"));
        const r = { rate, packetOverhead: 0, cellSize: 0, cellOverhead: 0 };
        const next = (): number | undefined => {
          const word = w.peek();
          if (word === undefined || !/^-?\d+$/.test(word)) return undefined;
          w.next("rate");
          return Number(word);
        };
        const overhead = next();
        if (overhead !== undefined) {
          r.packetOverhead = overhead;
          const cell = next();
          if (cell !== undefined) {
            r.cellSize = cell;
            r.cellOverhead = next() ?? 0;
          }
        }
        o.rate = r;
        break;
      }
      case "slot": {
        const min = parseTimeNs(w.next("slot"));
        const maxWord = w.nextNumber();
        const slot = {
          minDelay: min,
          maxDelay: maxWord === undefined ? min : parseTimeNs(maxWord),
          maxPackets: 0,
          maxBytes: 0,
          distDelay: 0,
          distJitter: 0,
        };
        while (w.peek() === "packets" || w.peek() === "bytes") {
          const which = w.next("slot");
          if (which === "packets") {
            slot.maxPackets = parseCount(w.next("packets"), "packets");
          } else slot.maxBytes = parseSize(w.next("bytes"));
        }
        o.slot = slot;
        break;
      }
      case "ecn":
        o.ecn = true;
        break;
      case "seed":
        o.seed = BigInt(w.next("seed")).toString();
        break;
      default:
        throw new InvalidArgumentError(`unknown netem option ${word}`, {
          hint:
            "netem takes limit, delay, loss, duplicate, reorder, gap, corrupt, rate, slot, ecn, seed (distribution tables are not supported)",
        });
    }
  }
  if (o.reorder !== undefined && o.reorder.probability > 0) {
    if (o.latency === undefined) {
      throw new InvalidArgumentError(
        "reordering not possible without specifying some delay",
      );
    }
    if (o.gap === 0) o.gap = 1;
  } else if (o.gap > 0) {
    throw new InvalidArgumentError("gap specified without reorder probability");
  }
  if (
    o.ecn && o.loss === 0 && o.lossState === undefined &&
    o.lossGemodel === undefined
  ) {
    throw new InvalidArgumentError("ecn requested without loss model");
  }
  if (haveCorr) o.correlation = corr;
  return o;
}

/** The options of qdisc `kind` from the remaining words. */
export function parseQdiscOptions(
  kind: string,
  w: TcWords,
  clock: SchedClock,
): TcOptions | undefined {
  switch (kind) {
    case "tbf":
      return parseTbf(w, clock);
    case "htb":
      return parseHtbQdisc(w);
    case "pfifo":
    case "bfifo": {
      let limit: number | undefined;
      while (w.more) {
        const word = w.next("fifo option");
        if (word !== "limit") {
          throw new InvalidArgumentError(`unknown ${kind} option ${word}`, {
            hint: `${kind} takes limit`,
          });
        }
        const text = w.next("limit");
        limit = kind === "bfifo" ? parseSize(text) : parseCount(text, "limit");
      }
      // Without a limit tc sends no options and the kernel uses the device's txqueuelen.
      return limit === undefined ? undefined : { kind, limit };
    }
    case "netem":
      return parseNetem(w);
    case "ingress":
    case "clsact":
      if (w.more) {
        throw new InvalidArgumentError(`${kind} takes no options`);
      }
      return undefined;
    default:
      throw new InvalidArgumentError(`qdisc kind ${kind} is not supported`, {
        hint: "nsnet handles tbf, htb, pfifo, bfifo, netem, ingress and clsact",
      });
  }
}

/** What `[NS] dev IF root|parent H [handle H] KIND …` says. */
export interface QdiscWords {
  /** The namespace, when the first word named one. */
  netns: string | undefined;
  /** The request. */
  spec: QdiscSpec;
}

/** Parses tc's qdisc words (after the verb); `kindRequired` is false for del. */
export function parseQdiscWords(
  words: readonly string[],
  kindRequired = true,
  clock: SchedClock = readSchedClock(),
): QdiscWords {
  const { netns, rest } = splitNamespace(words);
  const w = new TcWords(rest);
  let device: string | undefined;
  let parent: number | undefined;
  let handle: number | undefined;
  let kind: string | undefined;
  let options: TcOptions | undefined;
  while (w.more && kind === undefined) {
    const word = w.next("qdisc word");
    switch (word) {
      case "dev":
        device = w.next("device");
        break;
      case "root":
        parent = TC_H.ROOT;
        break;
      case "parent":
        parent = handleWord(w.next("parent"), "parent");
        break;
      case "handle":
        handle = handleWord(w.next("handle"), "handle");
        break;
      case "ingress":
      case "clsact":
        kind = word;
        parent = TC_H.INGRESS;
        break;
      default:
        kind = word;
    }
  }
  if (device === undefined) {
    throw new InvalidArgumentError("dev IF is missing", {
      hint: "e.g. nsnet qdisc add NS dev eth0 root tbf rate 10mbit …",
    });
  }
  if (kind !== undefined && (kindRequired || w.more)) {
    options = parseQdiscOptions(kind, w, clock);
  }
  if (kindRequired && kind === undefined) {
    throw new InvalidArgumentError("the qdisc kind is missing", {
      hint: "tbf, htb, pfifo, bfifo, netem, ingress or clsact",
    });
  }
  if (parent === undefined && kind !== "ingress" && kind !== "clsact") {
    throw new InvalidArgumentError("say where: root or parent HANDLE", {
      hint: "e.g. dev eth0 root tbf …",
    });
  }
  const spec: QdiscSpec = { device: linkRef(device), kind };
  if (parent !== undefined) spec.parent = parent;
  if (handle !== undefined) spec.handle = handle;
  if (options !== undefined) spec.options = options;
  return { netns, spec };
}

// ---------------------------------------------------------------- JSON

/** Counters as `tc -s -j` prints them. */
export function statsJson(stats: TcStats): TcJson {
  const out: TcJson = {
    bytes: stats.bytes,
    packets: stats.packets,
    drops: stats.drops,
    overlimits: stats.overlimits,
    requeues: stats.requeues,
  };
  if (stats.bps !== undefined) {
    out.rate = stats.bps;
    out.pps = stats.pps;
  }
  out.backlog = stats.backlog;
  out.qlen = stats.qlen;
  return out;
}

function hex0x(value: number): string {
  return value === 0 ? "0" : `0x${value.toString(16)}`;
}

/**
 * netem's options as tc prints them in JSON: times in seconds, chances as
 * fractions (0.01 for 1%), as iproute2's netem_print_opt does.
 */
export function netemJson(o: NetemOptions): TcJson {
  const out: TcJson = { limit: o.limit };
  const chance = (v: number): number => v / 0xffffffff;
  const latency = o.latency ?? 0;
  const jitter = o.jitter ?? 0;
  const corr = o.correlation;
  if (latency !== 0) {
    out.delay = {
      delay: latency / 1e9,
      jitter: jitter / 1e9,
      correlation: chance(corr?.delay ?? 0),
    };
  }
  if (o.loss !== 0) {
    out["loss-random"] = {
      loss: chance(o.loss),
      correlation: chance(corr?.loss ?? 0),
    };
  }
  if (o.lossState !== undefined) {
    const g = o.lossState;
    out["loss-state"] = {
      p13: chance(g.p13),
      p31: chance(g.p31),
      p32: chance(g.p32),
      p23: chance(g.p23),
      p14: chance(g.p14),
    };
  }
  if (o.lossGemodel !== undefined) {
    const g = o.lossGemodel;
    out["loss-gemodel"] = {
      p: chance(g.p),
      r: chance(g.r),
      "1-h": chance(0xffffffff - g.h),
      "1-k": chance(g.k1),
    };
  }
  if (o.duplicate !== 0) {
    out.duplicate = {
      duplicate: chance(o.duplicate),
      correlation: chance(corr?.duplicate ?? 0),
    };
  }
  if (o.reorder !== undefined && o.reorder.probability !== 0) {
    out.reorder = {
      reorder: chance(o.reorder.probability),
      correlation: chance(o.reorder.correlation),
    };
  }
  if (o.corrupt !== undefined && o.corrupt.probability !== 0) {
    out.corrupt = {
      corrupt: chance(o.corrupt.probability),
      correlation: chance(o.corrupt.correlation),
    };
  }
  if (o.rate !== undefined && o.rate.rate !== 0) {
    out.rate = {
      rate: o.rate.rate,
      packetoverhead: o.rate.packetOverhead,
      cellsize: o.rate.cellSize,
      celloverhead: o.rate.cellOverhead,
    };
  }
  if (o.slot !== undefined) {
    const s = o.slot;
    out.slot = {
      ...(s.distJitter > 0
        ? { distribution: s.distDelay / 1e9, jitter: s.distJitter / 1e9 }
        : { "min-delay": s.minDelay / 1e9, "max-delay": s.maxDelay / 1e9 }),
      packets: s.maxPackets,
      bytes: s.maxBytes,
    };
  }
  if (o.seed !== undefined) out.seed = Number(o.seed);
  out.ecn = o.ecn ?? false;
  out.gap = o.gap;
  return out;
}

/** A qdisc's or class's options in tc's JSON words. */
export function optionsJson(
  options: TcOptions | undefined,
  clock: SchedClock,
): TcJson {
  if (options === undefined) return {};
  switch (options.kind) {
    case "tbf":
      return tbfJson(options, clock);
    case "htb": {
      const out: TcJson = {};
      if (options.init !== undefined) {
        out.r2q = options.init.rate2quantum;
        out.default = hex0x(options.init.defaultClass);
        out.direct_packets_stat = options.init.directPackets;
      }
      if (options.directQlen !== undefined) {
        out.direct_qlen = options.directQlen;
      }
      if (options.parms !== undefined) {
        // As iproute2's htb_print_opt without -d (tc 6.1 printed classes as text only).
        const p = options.parms;
        if (p.level === 0) out.prio = p.prio;
        out.rate = p.rate.rate;
        if (p.rate.overhead !== 0) out.overhead = p.rate.overhead;
        out.ceil = p.ceil.rate;
        out.burst = xmitSize(p.rate.rate, p.buffer, clock);
        out.cburst = xmitSize(p.ceil.rate, p.cbuffer, clock);
      }
      return out;
    }
    case "pfifo":
    case "bfifo":
      return { limit: options.limit };
    case "pfifo_fast":
      // As prio_print_opt: multiqueue is printed false unless TCA_PRIO_MQ says otherwise.
      return {
        bands: options.limit,
        priomap: options.priomap,
        multiqueue: false,
      };
    case "netem":
      return netemJson(options);
    default:
      return {};
  }
}

/** A qdisc as `tc -j [-s] qdisc show` prints it. */
export function qdiscJson(
  q: Qdisc,
  context: {
    names: ReadonlyMap<number, string>;
    showDev: boolean;
    stats: boolean;
    clock: SchedClock;
  },
): TcJson {
  const out: TcJson = { kind: q.kind, handle: formatQdiscHandle(q.handle) };
  if (context.showDev) {
    out.dev = context.names.get(q.index) ?? `if${q.index}`;
  }
  if (q.parent === TC_H.ROOT) out.root = true;
  else if (q.parent !== 0) out.parent = formatClassId(q.parent);
  if (q.info !== 1) out.refcnt = q.info;
  if (q.hwOffload) out.offloaded = true;
  if (q.ingressBlock) out.ingress_block = q.ingressBlock;
  if (q.egressBlock) out.egress_block = q.egressBlock;
  out.options = optionsJson(q.options, context.clock);
  if (context.stats && q.stats !== undefined) {
    Object.assign(out, statsJson(q.stats));
  }
  return out;
}

/** A class as iproute2's `tc -j class show dev IF` prints it (kind as `class`, handle, parent, leaf, options inline). */
export function classJson(
  c: TcObject,
  context: { stats: boolean; clock: SchedClock },
): TcJson {
  const out: TcJson = { class: c.kind, handle: formatClassId(c.handle) };
  if (c.parent === TC_H.ROOT) out.root = true;
  else out.parent = formatClassId(c.parent);
  if (c.info !== 0) out.leaf = hex0x(c.info >>> 16);
  Object.assign(out, optionsJson(c.options, context.clock));
  if (context.stats && c.stats !== undefined) {
    Object.assign(out, statsJson(c.stats));
  }
  return out;
}

function optionsText(
  options: TcOptions | undefined,
  clock: SchedClock,
): string {
  if (options === undefined) return "";
  const json = optionsJson(options, clock);
  if (options.kind === "tbf") {
    const parts = [
      `rate ${formatRate(json.rate as number)}`,
      `burst ${formatSize(json.burst as number)}`,
    ];
    if (json.lat !== undefined) {
      parts.push(`lat ${formatTime(json.lat as number)}`);
    } else parts.push(`limit ${formatSize(json.limit as number)}`);
    return parts.join(" ");
  }
  if (options.kind === "htb" && options.parms !== undefined) {
    return `prio ${json.prio} rate ${formatRate(json.rate as number)} ceil ${
      formatRate(json.ceil as number)
    } burst ${formatSize(json.burst as number)} cburst ${
      formatSize(json.cburst as number)
    }`;
  }
  return Object.entries(json).map(([k, v]) =>
    `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`
  ).join(" ");
}

// ---------------------------------------------------------------- commands

function listWords(words: readonly string[]): {
  netns: string | undefined;
  device: string | undefined;
} {
  const { netns, rest } = splitNamespace(words);
  const w = new TcWords(rest);
  let device: string | undefined;
  while (w.more) {
    const word = w.next("word");
    if (word === "dev") device = w.next("device");
    else {
      throw new InvalidArgumentError(`unexpected ${word}`, {
        hint: "list takes [NS] [dev IF]",
      });
    }
  }
  return { netns, device };
}

function qdiscList(): CommandUnknownOpts {
  return new Command("list")
    .alias("show")
    .description("list qdiscs (like `tc qdisc show`): [NS] [dev IF]")
    .argument("[words...]", "[NS] [dev IF]")
    .option("-s, --stats", "with counters (tc -s)")
    .option("--json", "print JSON as `tc -j qdisc` does")
    .action((words, opts) => {
      const { netns, device } = listWords(words);
      const clock = readSchedClock();
      const [qdiscs, names] = withNetlink(netns, (sock) =>
        [
          listQdiscs(sock, {
            device: device === undefined ? undefined : linkRef(device),
          }),
          new Map(
            listLinks(sock, { stats: false }).map((l) => [l.index, l.name]),
          ),
        ] as const);
      if (opts.json) {
        printJson(qdiscs.map((q) =>
          qdiscJson(q, {
            names,
            showDev: device === undefined,
            stats: opts.stats === true,
            clock,
          })
        ));
        return;
      }
      const head = ["DEVICE", "KIND", "HANDLE", "PARENT", "OPTIONS"];
      if (opts.stats) head.push("BYTES", "PACKETS", "DROPS", "OVERLIMITS");
      printTable(
        head,
        qdiscs.map((q) => {
          const row = [
            names.get(q.index) ?? String(q.index),
            q.kind,
            formatQdiscHandle(q.handle),
            q.parent === TC_H.ROOT ? "root" : formatClassId(q.parent),
            optionsText(q.options, clock),
          ];
          if (opts.stats) {
            const s = q.stats;
            row.push(
              String(s?.bytes ?? 0),
              String(s?.packets ?? 0),
              String(s?.drops ?? 0),
              String(s?.overlimits ?? 0),
            );
          }
          return row;
        }),
      );
    });
}

type Verb = "add" | "change" | "replace" | "del";

function qdiscChange(verb: Verb): CommandUnknownOpts {
  return new Command(verb)
    .description(`${verb} a qdisc, in tc's words`)
    .argument(
      "<words...>",
      "[NS] dev IF root|ingress|clsact|parent H [handle H] KIND [options], as `tc qdisc` takes them",
    )
    .action((words) => {
      const { netns, spec } = parseQdiscWords(words, verb !== "del");
      withNetlink(netns, (sock) => {
        if (verb === "add") addQdisc(sock, spec);
        else if (verb === "change") changeQdisc(sock, spec);
        else if (verb === "replace") replaceQdisc(sock, spec);
        else deleteQdisc(sock, spec);
      });
    });
}

/** The `qdisc` command and its subcommands. */
export function qdiscCommand(): CommandUnknownOpts {
  return new Command("qdisc")
    .description(
      "list, add, change, replace and delete queueing disciplines (like `tc qdisc`)",
    )
    .addCommand(qdiscList())
    .addCommand(qdiscChange("add"))
    .addCommand(qdiscChange("change"))
    .addCommand(qdiscChange("replace"))
    .addCommand(qdiscChange("del"));
}

/** Parses tc's class words: `[NS] dev IF parent H classid H KIND …`. */
export function parseClassWords(
  words: readonly string[],
  kindRequired = true,
  clock: SchedClock = readSchedClock(),
): { netns: string | undefined; spec: ClassSpec } {
  const { netns, rest } = splitNamespace(words);
  const w = new TcWords(rest);
  let device: string | undefined;
  let parent: number | undefined;
  let classid: number | undefined;
  let kind: string | undefined;
  while (w.more && kind === undefined) {
    const word = w.next("class word");
    if (word === "dev") device = w.next("device");
    else if (word === "parent") parent = handleWord(w.next("parent"), "parent");
    else if (word === "root") parent = TC_H.ROOT;
    else if (word === "classid") {
      classid = handleWord(w.next("classid"), "classid");
    } else kind = word;
  }
  if (device === undefined || parent === undefined || classid === undefined) {
    throw new InvalidArgumentError(
      "dev IF, parent H and classid H are needed",
      {
        hint:
          "e.g. nsnet class add NS dev eth0 parent 1: classid 1:10 htb rate 5mbit",
      },
    );
  }
  if (kind !== undefined && kind !== "htb") {
    throw new InvalidArgumentError(`class kind ${kind} is not supported`, {
      hint: "nsnet handles htb classes",
    });
  }
  if (kindRequired && kind === undefined) {
    throw new InvalidArgumentError("the class kind is missing (htb)");
  }
  const spec: ClassSpec = { device: linkRef(device), parent, classid, kind };
  if (kind !== undefined && (kindRequired || w.more)) {
    spec.options = parseHtbClass(w, clock);
  }
  return { netns, spec };
}

function classList(): CommandUnknownOpts {
  return new Command("list")
    .alias("show")
    .description("list the classes of a device (like `tc class show dev IF`)")
    .argument("<words...>", "[NS] dev IF")
    .option("-s, --stats", "with counters")
    .option("--json", "print JSON")
    .action((words, opts) => {
      const { netns, device } = listWords(words);
      if (device === undefined) {
        throw new InvalidArgumentError("dev IF is missing");
      }
      const clock = readSchedClock();
      const classes = withNetlink(
        netns,
        (sock) => listClasses(sock, linkRef(device)),
      );
      if (opts.json) {
        printJson(
          classes.map((c) =>
            classJson(c, { stats: opts.stats === true, clock })
          ),
        );
        return;
      }
      printTable(
        ["KIND", "CLASSID", "PARENT", "OPTIONS"],
        classes.map((c) => [
          c.kind,
          formatClassId(c.handle),
          formatClassId(c.parent),
          optionsText(c.options, clock),
        ]),
      );
    });
}

function classChange(verb: Verb): CommandUnknownOpts {
  return new Command(verb)
    .description(`${verb} a class, in tc's words`)
    .argument(
      "<words...>",
      "[NS] dev IF parent H classid H htb rate R [ceil R] [burst S] [cburst S] [prio N] [quantum S]",
    )
    .action((words) => {
      const { netns, spec } = parseClassWords(words, verb !== "del");
      withNetlink(netns, (sock) => {
        if (verb === "add") addClass(sock, spec);
        else if (verb === "change") changeClass(sock, spec);
        else if (verb === "replace") replaceClass(sock, spec);
        else deleteClass(sock, spec);
      });
    });
}

/** The `class` command and its subcommands. */
export function classCommand(): CommandUnknownOpts {
  return new Command("class")
    .description(
      "list, add, change, replace and delete htb classes (like `tc class`)",
    )
    .addCommand(classList())
    .addCommand(classChange("add"))
    .addCommand(classChange("change"))
    .addCommand(classChange("replace"))
    .addCommand(classChange("del"));
}
