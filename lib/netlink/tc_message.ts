/**
 * Traffic-control messages (`struct tcmsg` + `TCA_*` attributes) for
 * qdiscs, classes and filters: the decoded {@linkcode TcObject}, its
 * statistics, kind-specific options decoded by schema (tbf, htb, pfifo,
 * bfifo, netem, u32, bpf, the mirred action), tc's handle notation, and the
 * request encoder. Pure: no FFI and no Deno APIs. Layouts follow the
 * kernel's uapi headers (`pkt_sched.h`, `pkt_cls.h`, `tc_act/tc_mirred.h`,
 * `gen_stats.h`).
 *
 * @module
 */

import {
  align,
  attrString,
  attrU16,
  attrU32,
  attrU8,
  MessageWriter,
  type RawAttribute,
  rawAttribute,
} from "./codec.ts";
import { NLA_TYPE_MASK, SIZE } from "./constants.ts";
import { NetlinkDecodeError } from "./errors.ts";

/** Traffic-control message types. */
export const RTM_TC = {
  NEWQDISC: 36,
  DELQDISC: 37,
  GETQDISC: 38,
  NEWTCLASS: 40,
  DELTCLASS: 41,
  GETTCLASS: 42,
  NEWTFILTER: 44,
  DELTFILTER: 45,
  GETTFILTER: 46,
} as const;

/** Size of `struct tcmsg`. */
export const TCMSG_SIZE = 20;

/** `tcmsg` attribute types. */
export const TCA = {
  KIND: 1,
  OPTIONS: 2,
  STATS: 3,
  XSTATS: 4,
  RATE: 5,
  FCNT: 6,
  STATS2: 7,
  STAB: 8,
  PAD: 9,
  DUMP_INVISIBLE: 10,
  CHAIN: 11,
  HW_OFFLOAD: 12,
  INGRESS_BLOCK: 13,
  EGRESS_BLOCK: 14,
} as const;

/** `TCA_STATS2` nested attribute types (`gen_stats.h`). */
export const TCA_STATS = {
  BASIC: 1,
  RATE_EST: 2,
  QUEUE: 3,
  APP: 4,
  RATE_EST64: 5,
  PAD: 6,
  BASIC_HW: 7,
  PKT64: 8,
} as const;

/** Special handles (`TC_H_*`). */
export const TC_H = {
  UNSPEC: 0,
  ROOT: 0xffffffff,
  /** The parent of `ingress` and `clsact` qdiscs. */
  INGRESS: 0xfffffff1,
  /** Same value as INGRESS: clsact sits where ingress does. */
  CLSACT: 0xfffffff1,
  /** clsact's ingress hook, as a filter parent minor (`ffff:fff2`). */
  MIN_INGRESS: 0xfff2,
  /** clsact's egress hook, as a filter parent minor (`ffff:fff3`). */
  MIN_EGRESS: 0xfff3,
} as const;

/** `TCA_OPTIONS` of tbf. */
export const TCA_TBF = {
  PARMS: 1,
  RTAB: 2,
  PTAB: 3,
  RATE64: 4,
  PRATE64: 5,
  BURST: 6,
  PBURST: 7,
  PAD: 8,
} as const;

/** `TCA_OPTIONS` of htb (qdisc and class). */
export const TCA_HTB = {
  PARMS: 1,
  INIT: 2,
  CTAB: 3,
  RTAB: 4,
  DIRECT_QLEN: 5,
  RATE64: 6,
  CEIL64: 7,
  PAD: 8,
  OFFLOAD: 9,
} as const;

/** The attributes after netem's `tc_netem_qopt`. */
export const TCA_NETEM = {
  CORR: 1,
  DELAY_DIST: 2,
  REORDER: 3,
  CORRUPT: 4,
  LOSS: 5,
  RATE: 6,
  ECN: 7,
  RATE64: 8,
  PAD: 9,
  LATENCY64: 10,
  JITTER64: 11,
  SLOT: 12,
  SLOT_DIST: 13,
  PRNG_SEED: 14,
} as const;

/** `TCA_NETEM_LOSS` nested types. */
export const NETEM_LOSS = { GI: 1, GE: 2 } as const;

/** `TCA_OPTIONS` of the u32 classifier. */
export const TCA_U32 = {
  CLASSID: 1,
  HASH: 2,
  LINK: 3,
  DIVISOR: 4,
  SEL: 5,
  POLICE: 6,
  ACT: 7,
  INDEV: 8,
  PCNT: 9,
  MARK: 10,
  FLAGS: 11,
  PAD: 12,
} as const;

/** `TCA_OPTIONS` of the bpf classifier. */
export const TCA_BPF = {
  ACT: 1,
  POLICE: 2,
  CLASSID: 3,
  OPS_LEN: 4,
  OPS: 5,
  FD: 6,
  NAME: 7,
  FLAGS: 8,
  FLAGS_GEN: 9,
  TAG: 10,
  ID: 11,
} as const;

/** `TCA_BPF_FLAGS`: the program's return value is the action. */
export const TCA_BPF_FLAG_ACT_DIRECT = 1;

/** One action's attributes (`TCA_ACT_*`). */
export const TCA_ACT = {
  KIND: 1,
  OPTIONS: 2,
  INDEX: 3,
  STATS: 4,
  PAD: 5,
  COOKIE: 6,
  FLAGS: 7,
  HW_STATS: 8,
  USED_HW_STATS: 9,
  IN_HW_COUNT: 10,
} as const;

/** mirred's options. */
export const TCA_MIRRED = { TM: 1, PARMS: 2, PAD: 3, BLOCKID: 4 } as const;

/** gact's options: `TCA_GACT_PARMS` holds a `tc_gen` whose action is the verdict. */
export const TCA_GACT = { TM: 1, PARMS: 2, PROB: 3, PAD: 4 } as const;

/** mirred's `eaction`: where the packet goes. */
export const MIRRED_EACTION = {
  EGRESS_REDIR: 1,
  EGRESS_MIRROR: 2,
  INGRESS_REDIR: 3,
  INGRESS_MIRROR: 4,
} as const;

/** Action verdicts (`TC_ACT_*`). */
export const TC_ACT = {
  UNSPEC: -1,
  OK: 0,
  RECLASSIFY: 1,
  SHOT: 2,
  PIPE: 3,
  STOLEN: 4,
  QUEUED: 5,
  REPEAT: 6,
  REDIRECT: 7,
  TRAP: 8,
} as const;

/** `ETH_P_*` protocols a filter matches, host order. */
export const ETH_P = {
  ALL: 0x0003,
  IP: 0x0800,
  IPV6: 0x86dd,
  ARP: 0x0806,
} as const;

/** Link-layer of a rate spec. */
export const TC_LINKLAYER = { UNAWARE: 0, ETHERNET: 1, ATM: 2 } as const;

// ---------------------------------------------------------------- handles

/** The major half of a handle (`TC_H_MAJ`), still shifted. */
export function handleMajor(handle: number): number {
  return (handle & 0xffff0000) >>> 0;
}

/** The minor half of a handle (`TC_H_MIN`). */
export function handleMinor(handle: number): number {
  return handle & 0xffff;
}

/** Makes a handle from `major` (unshifted, e.g. 1) and `minor`. */
export function makeHandle(major: number, minor: number): number {
  return (((major & 0xffff) << 16) | (minor & 0xffff)) >>> 0;
}

/**
 * A handle as tc prints a class id: `root`, `none`, `1:`, `1:10`, `:10`
 * (hex), e.g. for a parent or a flowid.
 */
export function formatClassId(handle: number): string {
  const h = handle >>> 0;
  if (h === TC_H.ROOT) return "root";
  if (h === TC_H.UNSPEC) return "none";
  const major = h >>> 16;
  const minor = h & 0xffff;
  if (major === 0) return `:${minor.toString(16)}`;
  if (minor === 0) return `${major.toString(16)}:`;
  return `${major.toString(16)}:${minor.toString(16)}`;
}

/** A qdisc's handle as tc prints it: always `major:` (e.g. `8001:`). */
export function formatQdiscHandle(handle: number): string {
  return `${(handle >>> 16).toString(16)}:`;
}

/**
 * Parses tc's handle words: `root`, `ingress`, `clsact`, `none`, `1:`,
 * `1:10`, `:10`, `ffff:fff2` (hex, as tc reads them). Returns undefined
 * for anything else.
 */
export function parseHandle(text: string): number | undefined {
  switch (text) {
    case "root":
      return TC_H.ROOT;
    case "ingress":
    case "clsact":
      return TC_H.INGRESS;
    case "none":
      return TC_H.UNSPEC;
  }
  const m = /^([0-9a-fA-F]{0,4}):([0-9a-fA-F]{0,4})$/.exec(text);
  if (m === null) {
    // A bare hex number is a major, as tc reads `handle 1` for a qdisc.
    if (/^[0-9a-fA-F]{1,4}$/.test(text)) {
      return makeHandle(parseInt(text, 16), 0);
    }
    return undefined;
  }
  const major = m[1] === "" ? 0 : parseInt(m[1]!, 16);
  const minor = m[2] === "" ? 0 : parseInt(m[2]!, 16);
  return makeHandle(major, minor);
}

// ---------------------------------------------------------------- statistics

/** A qdisc's, class's or action's counters (`TCA_STATS2`, else `TCA_STATS`). */
export interface TcStats {
  /** Bytes sent. */
  bytes: number;
  /** Packets sent. */
  packets: number;
  /** Packets dropped. */
  drops: number;
  /** Times the qdisc was over its limit (e.g. shaped). */
  overlimits: number;
  /** Packets requeued. */
  requeues: number;
  /** Bytes queued now. */
  backlog: number;
  /** Packets queued now. */
  qlen: number;
  /** Rate estimate, bytes per second (when an estimator runs). */
  bps?: number;
  /** Rate estimate, packets per second. */
  pps?: number;
}

function u64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

function i64(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getInt32(at + 4, true) * 2 ** 32;
}

function need(length: number, size: number, what: string, at: number): void {
  if (length < size) {
    throw new NetlinkDecodeError(
      `${what} has ${length} bytes, needs ${size}`,
      at,
    );
  }
}

function emptyStats(): TcStats {
  return {
    bytes: 0,
    packets: 0,
    drops: 0,
    overlimits: 0,
    requeues: 0,
    backlog: 0,
    qlen: 0,
  };
}

function decodeStats2(view: DataView, start: number, end: number): TcStats {
  const stats = emptyStats();
  walk(view, start, end, (type, at, length) => {
    switch (type) {
      case TCA_STATS.BASIC:
        need(length, 12, "gnet_stats_basic", at);
        stats.bytes = u64(view, at);
        stats.packets = view.getUint32(at + 8, true);
        break;
      case TCA_STATS.PKT64:
        need(length, 8, "TCA_STATS_PKT64", at);
        stats.packets = u64(view, at);
        break;
      case TCA_STATS.QUEUE:
        need(length, 20, "gnet_stats_queue", at);
        stats.qlen = view.getUint32(at, true);
        stats.backlog = view.getUint32(at + 4, true);
        stats.drops = view.getUint32(at + 8, true);
        stats.requeues = view.getUint32(at + 12, true);
        stats.overlimits = view.getUint32(at + 16, true);
        break;
      case TCA_STATS.RATE_EST:
        need(length, 8, "gnet_stats_rate_est", at);
        stats.bps ??= view.getUint32(at, true);
        stats.pps ??= view.getUint32(at + 4, true);
        break;
      case TCA_STATS.RATE_EST64:
        need(length, 16, "gnet_stats_rate_est64", at);
        stats.bps = u64(view, at);
        stats.pps = u64(view, at + 8);
        break;
    }
  });
  return stats;
}

function decodeOldStats(view: DataView, at: number, length: number): TcStats {
  need(length, 36, "tc_stats", at);
  return {
    bytes: u64(view, at),
    packets: view.getUint32(at + 8, true),
    drops: view.getUint32(at + 12, true),
    overlimits: view.getUint32(at + 16, true),
    requeues: 0,
    backlog: view.getUint32(at + 32, true),
    qlen: view.getUint32(at + 28, true),
  };
}

/** Walks attributes like `forEachAttribute`, but with the check inline. */
function walk(
  view: DataView,
  start: number,
  end: number,
  visit: (type: number, at: number, length: number) => void,
): void {
  let p = start;
  while (p + SIZE.NLATTR <= end) {
    const len = view.getUint16(p, true);
    if (len < SIZE.NLATTR || p + len > end) {
      throw new NetlinkDecodeError(`attribute length ${len} does not fit`, p);
    }
    visit(
      view.getUint16(p + 2, true) & NLA_TYPE_MASK,
      p + SIZE.NLATTR,
      len - SIZE.NLATTR,
    );
    p += align(len);
  }
}

// ---------------------------------------------------------------- options

/** `struct tc_ratespec`: a rate with how its table was computed. */
export interface RateSpec {
  /** Bytes per second (the 64-bit attribute's value when the rate does not fit 32 bits). */
  rate: number;
  /** log2 of the table cell size. */
  cellLog: number;
  /** `TC_LINKLAYER_*`. */
  linklayer: number;
  /** Per-packet overhead in bytes. */
  overhead: number;
  /** Cell alignment. */
  cellAlign: number;
  /** Minimum packet unit. */
  mpu: number;
}

/** tbf's options, in tc's units. */
export interface TbfOptions {
  /** Which options these are. */
  kind: "tbf";
  /** `tc_tbf_qopt.rate`. */
  rate: RateSpec;
  /** Peak rate, when set (rate 0 otherwise). */
  peakrate: RateSpec;
  /** Queue limit in bytes. */
  limit: number;
  /** Bucket size in scheduler ticks, as the kernel keeps it. */
  buffer: number;
  /** Peak bucket (mtu) in ticks. */
  mtu: number;
  /** `TCA_TBF_BURST`: the bucket in bytes (requests only; dumps derive it from `buffer`). */
  burst?: number;
  /** `TCA_TBF_PBURST`: the peak bucket in bytes. */
  pburst?: number;
  /** Whether `rtab` (256 u32 transmit times) was present. */
  rtab?: number[];
  /** Peak rate table. */
  ptab?: number[];
}

/** htb's options: qdisc (`init`) or class (`parms`). */
export interface HtbOptions {
  /** Which options these are. */
  kind: "htb";
  /** `TCA_HTB_INIT` of a qdisc. */
  init?: {
    version: number;
    rate2quantum: number;
    defaultClass: number;
    debug: number;
    directPackets: number;
  };
  /** `TCA_HTB_DIRECT_QLEN`. */
  directQlen?: number;
  /** `TCA_HTB_PARMS` of a class. */
  parms?: {
    rate: RateSpec;
    ceil: RateSpec;
    /** Bucket in ticks. */
    buffer: number;
    /** Ceil bucket in ticks. */
    cbuffer: number;
    quantum: number;
    level: number;
    prio: number;
  };
  /** Rate table (requests). */
  rtab?: number[];
  /** Ceil table (requests). */
  ctab?: number[];
  /** `TCA_HTB_OFFLOAD` flag. */
  offload?: boolean;
}

/** pfifo's or bfifo's limit (packets, resp. bytes). */
export interface FifoOptions {
  /** Which options these are. */
  kind: "pfifo" | "bfifo" | "pfifo_fast";
  /** The limit; for pfifo_fast the bands. */
  limit: number;
  /** pfifo_fast's priority map (16 bands). */
  priomap?: number[];
}

/** netem's options. Percentages are fractions of 2^32-1, as the kernel keeps them. */
export interface NetemOptions {
  /** Which options these are. */
  kind: "netem";
  /** `tc_netem_qopt`: legacy latency in ticks. */
  latencyTicks: number;
  /** Queue limit in packets. */
  limit: number;
  /** Random loss probability. */
  loss: number;
  /** Reorder gap. */
  gap: number;
  /** Duplicate probability. */
  duplicate: number;
  /** Legacy jitter in ticks. */
  jitterTicks: number;
  /** Delay in nanoseconds (`TCA_NETEM_LATENCY64`). */
  latency?: number;
  /** Jitter in nanoseconds. */
  jitter?: number;
  /** Correlations (delay, loss, duplicate). */
  correlation?: { delay: number; loss: number; duplicate: number };
  /** Reorder probability and correlation. */
  reorder?: { probability: number; correlation: number };
  /** Corrupt probability and correlation. */
  corrupt?: { probability: number; correlation: number };
  /** 4-state Markov loss. */
  lossState?: {
    p13: number;
    p31: number;
    p32: number;
    p14: number;
    p23: number;
  };
  /** Gilbert-Elliott loss. */
  lossGemodel?: { p: number; r: number; h: number; k1: number };
  /** Rate limit: bytes per second and cell parameters. */
  rate?: {
    rate: number;
    packetOverhead: number;
    cellSize: number;
    cellOverhead: number;
  };
  /** Mark with ECN instead of dropping. */
  ecn?: boolean;
  /** Slotting. */
  slot?: {
    minDelay: number;
    maxDelay: number;
    maxPackets: number;
    maxBytes: number;
    distDelay: number;
    distJitter: number;
  };
  /** Delay distribution table. */
  delayDistribution?: number[];
  /** Slot distribution table. */
  slotDistribution?: number[];
  /** PRNG seed, as a decimal string (a u64). */
  seed?: string;
  /** Attributes after the struct that nsnet does not decode. */
  unknown?: RawAttribute[];
}

/** One u32 key: `(packet[off] & mask) == value`. Mask and value in network order as numbers. */
export interface U32Key {
  /** Mask (the 32 bits as they appear in the packet, big-endian read). */
  mask: number;
  /** Value, masked. */
  value: number;
  /** Offset from the network header. */
  offset: number;
  /** Offset mask. */
  offmask: number;
}

/** `struct tc_u32_sel`. */
export interface U32Selector {
  /** `TC_U32_TERMINAL` (1) and friends. */
  flags: number;
  /** Shift of the variable offset (`TC_U32_VAROFFSET`). */
  offshift: number;
  /** Mask of the 16 bits the variable offset is read from (network order). */
  offmask: number;
  /** Fixed offset added to the next header. */
  off: number;
  /** Where the variable offset is read, relative to the header. */
  offoff: number;
  /** Offset of the hash key. */
  hoff: number;
  /** Mask of the hash key (network order). */
  hmask: number;
  /** The keys. */
  keys: U32Key[];
}

/** mirred's parameters. */
export interface MirredParms {
  /** Action index. */
  index: number;
  /** Capabilities (unused by mirred). */
  capab: number;
  /** Verdict after the action (`TC_ACT_STOLEN` for a redirect, `PIPE` for a mirror). */
  action: number;
  /** References to the action (the kernel's count). */
  refcnt: number;
  /** Filters bound to the action. */
  bindcnt: number;
  /** `MIRRED_EACTION`. */
  eaction: number;
  /** Target device's index. */
  ifindex: number;
}

/** One action of a filter. */
export interface TcAction {
  /** Its place in the list (1-based). */
  order: number;
  /** Kind, e.g. "mirred". */
  kind: string;
  /** `TCA_ACT_INDEX`. */
  index?: number;
  /** mirred's parameters. */
  mirred?: MirredParms;
  /** gact's verdict (`TC_ACT_OK` for pass, `SHOT` for drop). */
  gact?: {
    index: number;
    capab: number;
    action: number;
    refcnt: number;
    bindcnt: number;
  };
  /** Install/last-use times (jiffies-based, `tcf_t`): installed, lastuse, expires, firstuse. */
  tm?: { install: number; lastuse: number; expires: number; firstuse: number };
  /** Counters. */
  stats?: TcStats;
  /** Other attributes, raw. */
  unknown?: RawAttribute[];
}

/** u32's options. */
export interface U32Options {
  /** Which options these are. */
  kind: "u32";
  /** `flowid`/`classid`. */
  classid?: number;
  /** `TCA_U32_HASH`: the hash table and bucket the node is in. */
  hash?: number;
  /** `TCA_U32_LINK`: the hash table a match jumps to. */
  link?: number;
  /** `TCA_U32_DIVISOR`: buckets of a hash table (on table nodes). */
  divisor?: number;
  /** `TCA_U32_SEL`: the keys. */
  selector?: U32Selector;
  /** `TCA_U32_INDEV`: only packets that came in on this device. */
  indev?: string;
  /** `TCA_U32_FLAGS` (`TCA_CLS_FLAGS_*`: skip_hw, skip_sw, in_hw, not_in_hw). */
  flags?: number;
  /** `TCA_U32_ACT`: the actions run on a match. */
  actions?: TcAction[];
  /** Attributes nsnet does not decode. */
  unknown?: RawAttribute[];
}

/** A classic BPF instruction (`struct sock_filter`). */
export interface BpfInstruction {
  /** Opcode (`BPF_LD|BPF_W|BPF_ABS`…). */
  code: number;
  /** Jump offset when true. */
  jt: number;
  /** Jump offset when false. */
  jf: number;
  /** The constant operand. */
  k: number;
}

/** bpf's options. */
export interface BpfOptions {
  /** Which options these are. */
  kind: "bpf";
  /** `TCA_BPF_CLASSID`: the flowid. */
  classid?: number;
  /** A classic-BPF program. */
  ops?: BpfInstruction[];
  /** An eBPF program's fd (requests). */
  fd?: number;
  /** `TCA_BPF_NAME`: the program's name. */
  name?: string;
  /** `TCA_BPF_FLAG_ACT_DIRECT`. */
  flags?: number;
  /** `TCA_BPF_FLAGS_GEN` (`TCA_CLS_FLAGS_*`). */
  flagsGen?: number;
  /** `TCA_BPF_TAG` in hex: the loaded program's tag. */
  tag?: string;
  /** `TCA_BPF_ID`: the loaded program's id. */
  id?: number;
  /** `TCA_BPF_ACT`: the actions run on a match. */
  actions?: TcAction[];
  /** Attributes nsnet does not decode. */
  unknown?: RawAttribute[];
}

/**
 * fq_codel's or fq's options (qdiscs this kernel lacks), decoded by schema
 * into named scalars (`TCA_FQ_CODEL_*`, `TCA_FQ_*` without the prefix, in
 * lower case: `target`, `limit`, `interval`, `flows`, `quantum`…; times in
 * microseconds as the kernel gives them).
 */
export interface ScalarOptions {
  /** Which options these are. */
  kind: "fq_codel" | "fq";
  /** The attributes by name. */
  values: Record<string, number>;
  /** Attributes outside the schema (fq's priomap and weights among them). */
  unknown?: RawAttribute[];
}

type Schema = Readonly<Record<number, readonly [string, 1 | 4]>>;

const FQ_CODEL_SCHEMA: Schema = {
  1: ["target", 4],
  2: ["limit", 4],
  3: ["interval", 4],
  4: ["ecn", 4],
  5: ["flows", 4],
  6: ["quantum", 4],
  7: ["ce_threshold", 4],
  8: ["drop_batch_size", 4],
  9: ["memory_limit", 4],
  10: ["ce_threshold_selector", 1],
  11: ["ce_threshold_mask", 1],
};

const FQ_SCHEMA: Schema = {
  1: ["plimit", 4],
  2: ["flow_plimit", 4],
  3: ["quantum", 4],
  4: ["initial_quantum", 4],
  5: ["rate_enable", 4],
  6: ["flow_default_rate", 4],
  7: ["flow_max_rate", 4],
  8: ["buckets_log", 4],
  9: ["flow_refill_delay", 4],
  10: ["orphan_mask", 4],
  11: ["low_rate_threshold", 4],
  12: ["ce_threshold", 4],
  13: ["timer_slack", 4],
  14: ["horizon", 4],
  15: ["horizon_drop", 1],
};

function decodeScalars(
  kind: "fq_codel" | "fq",
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
): ScalarOptions {
  const schema = kind === "fq" ? FQ_SCHEMA : FQ_CODEL_SCHEMA;
  const out: ScalarOptions = { kind, values: {} };
  const unknown: RawAttribute[] = [];
  walk(view, start, end, (type, at, length) => {
    const field = schema[type];
    if (field === undefined) {
      unknown.push(rawAttribute(bytes, type, at, length));
    } else {
      out.values[field[0]] = field[1] === 1
        ? attrU8(view, at, length)
        : attrU32(view, at, length);
    }
  });
  if (unknown.length > 0) out.unknown = unknown;
  return out;
}

function writeScalars(w: MessageWriter, o: ScalarOptions): void {
  const schema = o.kind === "fq" ? FQ_SCHEMA : FQ_CODEL_SCHEMA;
  for (const [type, [name, size]] of Object.entries(schema)) {
    const value = o.values[name];
    if (value === undefined) continue;
    if (size === 1) w.u8(Number(type), value);
    else w.u32(Number(type), value);
  }
  for (const raw of o.unknown ?? []) w.bytes(raw.type, raw.data);
}

/** Options of a kind nsnet does not decode, or no options. */
export interface RawOptions {
  /** Marks options kept as bytes. */
  kind: "raw";
  /** The `TCA_OPTIONS` payload. */
  data: Uint8Array;
}

/** Decoded `TCA_OPTIONS`. */
export type TcOptions =
  | TbfOptions
  | HtbOptions
  | FifoOptions
  | NetemOptions
  | U32Options
  | BpfOptions
  | ScalarOptions
  | RawOptions;

/** A qdisc, class or filter as the kernel reports it. */
export interface TcObject {
  /** `tcm_family` (0 for AF_UNSPEC). */
  family: number;
  /** Interface index. */
  index: number;
  /** Handle (qdisc `maj:0`, class `maj:min`, filter kind-specific). */
  handle: number;
  /** Parent handle. */
  parent: number;
  /** `tcm_info`: a qdisc's refcnt; a filter's `prio << 16 | htons(protocol)`. */
  info: number;
  /** `TCA_KIND`. */
  kind: string;
  /** `TCA_OPTIONS`, decoded by kind. */
  options?: TcOptions;
  /** Counters. */
  stats?: TcStats;
  /** `TCA_XSTATS`, raw. */
  xstats?: Uint8Array;
  /** `TCA_CHAIN`. */
  chain?: number;
  /** `TCA_HW_OFFLOAD`. */
  hwOffload?: number;
  /** `TCA_INGRESS_BLOCK`. */
  ingressBlock?: number;
  /** `TCA_EGRESS_BLOCK`. */
  egressBlock?: number;
  /** Attributes nsnet does not decode. */
  unknown?: RawAttribute[];
}

/** A filter's priority (`tcm_info` high half). */
export function filterPriority(object: TcObject): number {
  return object.info >>> 16;
}

/** A filter's protocol (host order, e.g. `ETH_P.ALL`). */
export function filterProtocol(object: TcObject): number {
  const be = object.info & 0xffff;
  return ((be & 0xff) << 8) | (be >>> 8);
}

function rateSpec(view: DataView, at: number): RateSpec {
  return {
    cellLog: view.getUint8(at),
    linklayer: view.getUint8(at + 1),
    overhead: view.getUint16(at + 2, true),
    cellAlign: view.getInt16(at + 4, true),
    mpu: view.getUint16(at + 6, true),
    rate: view.getUint32(at + 8, true),
  };
}

function table(view: DataView, at: number, length: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= length; i += 4) {
    out.push(view.getUint32(at + i, true));
  }
  return out;
}

function decodeTbf(view: DataView, start: number, end: number): TbfOptions {
  let parms: TbfOptions | undefined;
  let rate64: number | undefined;
  let prate64: number | undefined;
  const extra: Partial<TbfOptions> = {};
  walk(view, start, end, (type, at, length) => {
    switch (type) {
      case TCA_TBF.PARMS:
        need(length, 36, "tc_tbf_qopt", at);
        parms = {
          kind: "tbf",
          rate: rateSpec(view, at),
          peakrate: rateSpec(view, at + 12),
          limit: view.getUint32(at + 24, true),
          buffer: view.getUint32(at + 28, true),
          mtu: view.getUint32(at + 32, true),
        };
        break;
      case TCA_TBF.RATE64:
        need(length, 8, "TCA_TBF_RATE64", at);
        rate64 = u64(view, at);
        break;
      case TCA_TBF.PRATE64:
        need(length, 8, "TCA_TBF_PRATE64", at);
        prate64 = u64(view, at);
        break;
      case TCA_TBF.BURST:
        extra.burst = attrU32(view, at, length);
        break;
      case TCA_TBF.PBURST:
        extra.pburst = attrU32(view, at, length);
        break;
      case TCA_TBF.RTAB:
        extra.rtab = table(view, at, length);
        break;
      case TCA_TBF.PTAB:
        extra.ptab = table(view, at, length);
        break;
    }
  });
  if (parms === undefined) {
    throw new NetlinkDecodeError("tbf options without TCA_TBF_PARMS", start);
  }
  const out: TbfOptions = parms;
  if (rate64 !== undefined) out.rate.rate = rate64;
  if (prate64 !== undefined) out.peakrate.rate = prate64;
  return Object.assign(out, extra);
}

function decodeHtb(view: DataView, start: number, end: number): HtbOptions {
  const out: HtbOptions = { kind: "htb" };
  let rate64: number | undefined;
  let ceil64: number | undefined;
  walk(view, start, end, (type, at, length) => {
    switch (type) {
      case TCA_HTB.INIT:
        need(length, 20, "tc_htb_glob", at);
        out.init = {
          version: view.getUint32(at, true),
          rate2quantum: view.getUint32(at + 4, true),
          defaultClass: view.getUint32(at + 8, true),
          debug: view.getUint32(at + 12, true),
          directPackets: view.getUint32(at + 16, true),
        };
        break;
      case TCA_HTB.DIRECT_QLEN:
        out.directQlen = attrU32(view, at, length);
        break;
      case TCA_HTB.PARMS:
        need(length, 44, "tc_htb_opt", at);
        out.parms = {
          rate: rateSpec(view, at),
          ceil: rateSpec(view, at + 12),
          buffer: view.getUint32(at + 24, true),
          cbuffer: view.getUint32(at + 28, true),
          quantum: view.getUint32(at + 32, true),
          level: view.getUint32(at + 36, true),
          prio: view.getUint32(at + 40, true),
        };
        break;
      case TCA_HTB.RATE64:
        need(length, 8, "TCA_HTB_RATE64", at);
        rate64 = u64(view, at);
        break;
      case TCA_HTB.CEIL64:
        need(length, 8, "TCA_HTB_CEIL64", at);
        ceil64 = u64(view, at);
        break;
      case TCA_HTB.RTAB:
        out.rtab = table(view, at, length);
        break;
      case TCA_HTB.CTAB:
        out.ctab = table(view, at, length);
        break;
      case TCA_HTB.OFFLOAD:
        out.offload = true;
        break;
    }
  });
  if (out.parms !== undefined) {
    if (rate64 !== undefined) out.parms.rate.rate = rate64;
    if (ceil64 !== undefined) out.parms.ceil.rate = ceil64;
  }
  return out;
}

function decodeNetem(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
): NetemOptions {
  need(end - start, 24, "tc_netem_qopt", start);
  const out: NetemOptions = {
    kind: "netem",
    latencyTicks: view.getUint32(start, true),
    limit: view.getUint32(start + 4, true),
    loss: view.getUint32(start + 8, true),
    gap: view.getUint32(start + 12, true),
    duplicate: view.getUint32(start + 16, true),
    jitterTicks: view.getUint32(start + 20, true),
  };
  const unknown: RawAttribute[] = [];
  walk(view, start + align(24), end, (type, at, length) => {
    switch (type) {
      case TCA_NETEM.LATENCY64:
        need(length, 8, "TCA_NETEM_LATENCY64", at);
        out.latency = i64(view, at);
        break;
      case TCA_NETEM.JITTER64:
        need(length, 8, "TCA_NETEM_JITTER64", at);
        out.jitter = i64(view, at);
        break;
      case TCA_NETEM.CORR:
        need(length, 12, "tc_netem_corr", at);
        out.correlation = {
          delay: view.getUint32(at, true),
          loss: view.getUint32(at + 4, true),
          duplicate: view.getUint32(at + 8, true),
        };
        break;
      case TCA_NETEM.REORDER:
        need(length, 8, "tc_netem_reorder", at);
        out.reorder = {
          probability: view.getUint32(at, true),
          correlation: view.getUint32(at + 4, true),
        };
        break;
      case TCA_NETEM.CORRUPT:
        need(length, 8, "tc_netem_corrupt", at);
        out.corrupt = {
          probability: view.getUint32(at, true),
          correlation: view.getUint32(at + 4, true),
        };
        break;
      case TCA_NETEM.LOSS:
        walk(view, at, at + length, (t, a, l) => {
          if (t === NETEM_LOSS.GI) {
            need(l, 20, "tc_netem_gimodel", a);
            out.lossState = {
              p13: view.getUint32(a, true),
              p31: view.getUint32(a + 4, true),
              p32: view.getUint32(a + 8, true),
              p14: view.getUint32(a + 12, true),
              p23: view.getUint32(a + 16, true),
            };
          } else if (t === NETEM_LOSS.GE) {
            need(l, 16, "tc_netem_gemodel", a);
            out.lossGemodel = {
              p: view.getUint32(a, true),
              r: view.getUint32(a + 4, true),
              h: view.getUint32(a + 8, true),
              k1: view.getUint32(a + 12, true),
            };
          }
        });
        break;
      case TCA_NETEM.RATE:
        need(length, 16, "tc_netem_rate", at);
        out.rate = {
          rate: out.rate?.rate !== undefined && out.rate.rate > 0xffffffff
            ? out.rate.rate
            : view.getUint32(at, true),
          packetOverhead: view.getInt32(at + 4, true),
          cellSize: view.getUint32(at + 8, true),
          cellOverhead: view.getInt32(at + 12, true),
        };
        break;
      case TCA_NETEM.RATE64: {
        need(length, 8, "TCA_NETEM_RATE64", at);
        const rate = u64(view, at);
        out.rate = {
          packetOverhead: 0,
          cellSize: 0,
          cellOverhead: 0,
          ...out.rate,
          rate,
        };
        break;
      }
      case TCA_NETEM.ECN:
        out.ecn = attrU32(view, at, length) !== 0;
        break;
      case TCA_NETEM.SLOT:
        need(length, 40, "tc_netem_slot", at);
        out.slot = {
          minDelay: i64(view, at),
          maxDelay: i64(view, at + 8),
          maxPackets: view.getInt32(at + 16, true),
          maxBytes: view.getInt32(at + 20, true),
          distDelay: i64(view, at + 24),
          distJitter: i64(view, at + 32),
        };
        break;
      case TCA_NETEM.DELAY_DIST:
      case TCA_NETEM.SLOT_DIST: {
        const values: number[] = [];
        for (let i = 0; i + 2 <= length; i += 2) {
          values.push(view.getInt16(at + i, true));
        }
        if (type === TCA_NETEM.DELAY_DIST) out.delayDistribution = values;
        else out.slotDistribution = values;
        break;
      }
      case TCA_NETEM.PRNG_SEED:
        need(length, 8, "TCA_NETEM_PRNG_SEED", at);
        out.seed = view.getBigUint64(at, true).toString();
        break;
      default:
        unknown.push(rawAttribute(bytes, type, at, length));
    }
  });
  if (unknown.length > 0) out.unknown = unknown;
  return out;
}

function decodeActions(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
): TcAction[] {
  const actions: TcAction[] = [];
  walk(view, start, end, (order, at, length) => {
    const action: TcAction = { order, kind: "" };
    const unknown: RawAttribute[] = [];
    let optionsAt = -1;
    let optionsLength = 0;
    walk(view, at, at + length, (type, a, l) => {
      switch (type) {
        case TCA_ACT.KIND:
          action.kind = attrString(bytes, a, l);
          break;
        case TCA_ACT.INDEX:
          action.index = attrU32(view, a, l);
          break;
        case TCA_ACT.OPTIONS:
          optionsAt = a;
          optionsLength = l;
          break;
        case TCA_ACT.STATS:
          action.stats = decodeStats2(view, a, a + l);
          break;
        default:
          unknown.push(rawAttribute(bytes, type, a, l));
      }
    });
    if (optionsAt >= 0) {
      if (action.kind === "mirred") {
        walk(view, optionsAt, optionsAt + optionsLength, (type, a, l) => {
          if (type === TCA_MIRRED.PARMS) {
            need(l, 28, "tc_mirred", a);
            action.mirred = {
              index: view.getUint32(a, true),
              capab: view.getUint32(a + 4, true),
              action: view.getInt32(a + 8, true),
              refcnt: view.getInt32(a + 12, true),
              bindcnt: view.getInt32(a + 16, true),
              eaction: view.getInt32(a + 20, true),
              ifindex: view.getUint32(a + 24, true),
            };
          } else if (type === TCA_MIRRED.TM) {
            need(l, 32, "tcf_t", a);
            action.tm = {
              install: u64(view, a),
              lastuse: u64(view, a + 8),
              expires: u64(view, a + 16),
              firstuse: u64(view, a + 24),
            };
          } else if (type !== TCA_MIRRED.PAD) {
            unknown.push(rawAttribute(bytes, 0x100 | type, a, l));
          }
        });
      } else if (action.kind === "gact") {
        walk(view, optionsAt, optionsAt + optionsLength, (type, a, l) => {
          if (type === TCA_GACT.PARMS) {
            need(l, 20, "tc_gact", a);
            action.gact = {
              index: view.getUint32(a, true),
              capab: view.getUint32(a + 4, true),
              action: view.getInt32(a + 8, true),
              refcnt: view.getInt32(a + 12, true),
              bindcnt: view.getInt32(a + 16, true),
            };
          } else if (type !== TCA_GACT.PAD) {
            unknown.push(rawAttribute(bytes, 0x100 | type, a, l));
          }
        });
      } else {
        unknown.push(
          rawAttribute(bytes, TCA_ACT.OPTIONS, optionsAt, optionsLength),
        );
      }
    }
    if (unknown.length > 0) action.unknown = unknown;
    actions.push(action);
  });
  return actions;
}

function decodeU32(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
): U32Options {
  const out: U32Options = { kind: "u32" };
  const unknown: RawAttribute[] = [];
  walk(view, start, end, (type, at, length) => {
    switch (type) {
      case TCA_U32.CLASSID:
        out.classid = attrU32(view, at, length);
        break;
      case TCA_U32.HASH:
        out.hash = attrU32(view, at, length);
        break;
      case TCA_U32.LINK:
        out.link = attrU32(view, at, length);
        break;
      case TCA_U32.DIVISOR:
        out.divisor = attrU32(view, at, length);
        break;
      case TCA_U32.FLAGS:
        out.flags = attrU32(view, at, length);
        break;
      case TCA_U32.INDEV:
        out.indev = attrString(bytes, at, length);
        break;
      case TCA_U32.SEL: {
        need(length, 16, "tc_u32_sel", at);
        const nkeys = view.getUint8(at + 2);
        need(length, 16 + 16 * nkeys, "tc_u32_sel with its keys", at);
        const keys: U32Key[] = [];
        for (let i = 0; i < nkeys; i++) {
          const k = at + 16 + 16 * i;
          keys.push({
            mask: view.getUint32(k, false),
            value: view.getUint32(k + 4, false),
            offset: view.getInt32(k + 8, true),
            offmask: view.getInt32(k + 12, true),
          });
        }
        out.selector = {
          flags: view.getUint8(at),
          offshift: view.getUint8(at + 1),
          offmask: view.getUint16(at + 4, false),
          off: view.getUint16(at + 6, true),
          offoff: view.getInt16(at + 8, true),
          hoff: view.getInt16(at + 10, true),
          hmask: view.getUint32(at + 12, false),
          keys,
        };
        break;
      }
      case TCA_U32.ACT:
        out.actions = decodeActions(bytes, view, at, at + length);
        break;
      default:
        unknown.push(rawAttribute(bytes, type, at, length));
    }
  });
  if (unknown.length > 0) out.unknown = unknown;
  return out;
}

function decodeBpf(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
): BpfOptions {
  const out: BpfOptions = { kind: "bpf" };
  const unknown: RawAttribute[] = [];
  walk(view, start, end, (type, at, length) => {
    switch (type) {
      case TCA_BPF.CLASSID:
        out.classid = attrU32(view, at, length);
        break;
      case TCA_BPF.OPS_LEN:
        attrU16(view, at, length); // implied by OPS' own length
        break;
      case TCA_BPF.OPS: {
        const ops: BpfInstruction[] = [];
        for (let i = 0; i + 8 <= length; i += 8) {
          ops.push({
            code: view.getUint16(at + i, true),
            jt: view.getUint8(at + i + 2),
            jf: view.getUint8(at + i + 3),
            k: view.getUint32(at + i + 4, true),
          });
        }
        out.ops = ops;
        break;
      }
      case TCA_BPF.FD:
        out.fd = attrU32(view, at, length);
        break;
      case TCA_BPF.NAME:
        out.name = attrString(bytes, at, length);
        break;
      case TCA_BPF.FLAGS:
        out.flags = attrU32(view, at, length);
        break;
      case TCA_BPF.FLAGS_GEN:
        out.flagsGen = attrU32(view, at, length);
        break;
      case TCA_BPF.ID:
        out.id = attrU32(view, at, length);
        break;
      case TCA_BPF.TAG: {
        let hex = "";
        for (let i = 0; i < length; i++) {
          hex += bytes[at + i]!.toString(16).padStart(2, "0");
        }
        out.tag = hex;
        break;
      }
      case TCA_BPF.ACT:
        out.actions = decodeActions(bytes, view, at, at + length);
        break;
      default:
        unknown.push(rawAttribute(bytes, type, at, length));
    }
  });
  if (unknown.length > 0) out.unknown = unknown;
  return out;
}

function decodeOptions(
  kind: string,
  bytes: Uint8Array,
  view: DataView,
  at: number,
  length: number,
): TcOptions | undefined {
  const end = at + length;
  switch (kind) {
    case "tbf":
      return decodeTbf(view, at, end);
    case "htb":
      return decodeHtb(view, at, end);
    case "pfifo":
    case "bfifo":
      return { kind, limit: attrU32(view, at, length) };
    case "pfifo_fast": {
      need(length, 20, "tc_prio_qopt", at);
      const priomap: number[] = [];
      for (let i = 0; i < 16; i++) priomap.push(view.getUint8(at + 4 + i));
      return { kind, limit: view.getInt32(at, true), priomap };
    }
    case "netem":
      return decodeNetem(bytes, view, at, end);
    case "fq_codel":
    case "fq":
      return decodeScalars(kind, bytes, view, at, end);
    case "u32":
      return decodeU32(bytes, view, at, end);
    case "bpf":
      return decodeBpf(bytes, view, at, end);
    case "ingress":
    case "clsact":
      if (length === 0) return undefined;
      return { kind: "raw", data: bytes.slice(at, end) };
    default:
      return { kind: "raw", data: bytes.slice(at, end) };
  }
}

/**
 * Decodes the body of an RTM_NEWQDISC, RTM_NEWTCLASS or RTM_NEWTFILTER
 * message spanning `[offset, end)`.
 */
export function decodeTc(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  end: number,
): TcObject {
  if (offset + TCMSG_SIZE > end) {
    throw new NetlinkDecodeError("tc message shorter than tcmsg", offset);
  }
  const object: TcObject = {
    family: view.getUint8(offset),
    index: view.getInt32(offset + 4, true),
    handle: view.getUint32(offset + 8, true),
    parent: view.getUint32(offset + 12, true),
    info: view.getUint32(offset + 16, true),
    kind: "",
  };
  let optionsAt = -1;
  let optionsLength = 0;
  let oldStats: TcStats | undefined;
  const unknown: RawAttribute[] = [];
  walk(view, offset + TCMSG_SIZE, end, (type, at, length) => {
    switch (type) {
      case TCA.KIND:
        object.kind = attrString(bytes, at, length);
        break;
      case TCA.OPTIONS:
        optionsAt = at;
        optionsLength = length;
        break;
      case TCA.STATS2:
        object.stats = decodeStats2(view, at, at + length);
        break;
      case TCA.STATS:
        oldStats = decodeOldStats(view, at, length);
        break;
      case TCA.XSTATS:
        object.xstats = bytes.slice(at, at + length);
        break;
      case TCA.CHAIN:
        object.chain = attrU32(view, at, length);
        break;
      case TCA.HW_OFFLOAD:
        object.hwOffload = attrU8(view, at, length);
        break;
      case TCA.INGRESS_BLOCK:
        object.ingressBlock = attrU32(view, at, length);
        break;
      case TCA.EGRESS_BLOCK:
        object.egressBlock = attrU32(view, at, length);
        break;
      case TCA.PAD:
        break;
      default:
        unknown.push(rawAttribute(bytes, type, at, length));
    }
  });
  // Options are decoded after the walk: TCA_KIND may come after TCA_OPTIONS.
  if (optionsAt >= 0) {
    const options = decodeOptions(
      object.kind,
      bytes,
      view,
      optionsAt,
      optionsLength,
    );
    if (options !== undefined) object.options = options;
  }
  if (object.stats === undefined && oldStats !== undefined) {
    object.stats = oldStats;
  }
  if (unknown.length > 0) object.unknown = unknown;
  return object;
}

// ---------------------------------------------------------------- encoding

function putRateSpec(view: DataView, at: number, r: RateSpec): void {
  view.setUint8(at, r.cellLog);
  view.setUint8(at + 1, r.linklayer);
  view.setUint16(at + 2, r.overhead, true);
  view.setInt16(at + 4, r.cellAlign, true);
  view.setUint16(at + 6, r.mpu, true);
  view.setUint32(at + 8, Math.min(r.rate, 0xffffffff), true);
}

function u64Bytes(value: number | bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value), true);
  return out;
}

function i64Bytes(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, BigInt(value), true);
  return out;
}

function u32Table(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0, true));
  return out;
}

function struct(size: number, fill: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(size);
  fill(new DataView(out.buffer));
  return out;
}

/** Attributes written into a scratch buffer: the payload of a non-nest such as netem's options. */
function payload(write: (w: MessageWriter) => void): Uint8Array {
  const w = new MessageWriter(0, 0);
  write(w);
  return w.finish(0).slice(SIZE.NLMSGHDR);
}

function writeTbf(w: MessageWriter, o: TbfOptions): void {
  w.bytes(
    TCA_TBF.PARMS,
    struct(36, (v) => {
      putRateSpec(v, 0, o.rate);
      putRateSpec(v, 12, o.peakrate);
      v.setUint32(24, o.limit >>> 0, true);
      v.setUint32(28, o.buffer >>> 0, true);
      v.setUint32(32, o.mtu >>> 0, true);
    }),
  );
  if (o.burst !== undefined) w.u32(TCA_TBF.BURST, o.burst);
  if (o.rate.rate > 0xffffffff) w.bytes(TCA_TBF.RATE64, u64Bytes(o.rate.rate));
  if (o.rtab !== undefined) w.bytes(TCA_TBF.RTAB, u32Table(o.rtab));
  if (o.peakrate.rate > 0xffffffff) {
    w.bytes(TCA_TBF.PRATE64, u64Bytes(o.peakrate.rate));
  }
  if (o.pburst !== undefined) w.u32(TCA_TBF.PBURST, o.pburst);
  if (o.ptab !== undefined) w.bytes(TCA_TBF.PTAB, u32Table(o.ptab));
}

function writeHtb(w: MessageWriter, o: HtbOptions): void {
  if (o.init !== undefined) {
    const g = o.init;
    w.bytes(
      TCA_HTB.INIT,
      struct(20, (v) => {
        v.setUint32(0, g.version, true);
        v.setUint32(4, g.rate2quantum, true);
        v.setUint32(8, g.defaultClass, true);
        v.setUint32(12, g.debug, true);
        v.setUint32(16, g.directPackets, true);
      }),
    );
  }
  if (o.directQlen !== undefined) w.u32(TCA_HTB.DIRECT_QLEN, o.directQlen);
  if (o.parms !== undefined) {
    const p = o.parms;
    if (p.rate.rate > 0xffffffff) {
      w.bytes(TCA_HTB.RATE64, u64Bytes(p.rate.rate));
    }
    if (p.ceil.rate > 0xffffffff) {
      w.bytes(TCA_HTB.CEIL64, u64Bytes(p.ceil.rate));
    }
    w.bytes(
      TCA_HTB.PARMS,
      struct(44, (v) => {
        putRateSpec(v, 0, p.rate);
        putRateSpec(v, 12, p.ceil);
        v.setUint32(24, p.buffer >>> 0, true);
        v.setUint32(28, p.cbuffer >>> 0, true);
        v.setUint32(32, p.quantum >>> 0, true);
        v.setUint32(36, p.level >>> 0, true);
        v.setUint32(40, p.prio >>> 0, true);
      }),
    );
  }
  if (o.rtab !== undefined) w.bytes(TCA_HTB.RTAB, u32Table(o.rtab));
  if (o.ctab !== undefined) w.bytes(TCA_HTB.CTAB, u32Table(o.ctab));
  if (o.offload) w.flag(TCA_HTB.OFFLOAD);
}

/**
 * netem's `TCA_OPTIONS` payload: `struct tc_netem_qopt` and then, not in a
 * nest of their own, the `TCA_NETEM_*` attributes (iproute2's layout; the
 * kernel parses the attributes after the struct).
 */
export function netemPayload(o: NetemOptions): Uint8Array {
  return payload((w) => {
    w.struct(24, (v, at) => {
      v.setUint32(at, o.latencyTicks >>> 0, true);
      v.setUint32(at + 4, o.limit >>> 0, true);
      v.setUint32(at + 8, o.loss >>> 0, true);
      v.setUint32(at + 12, o.gap >>> 0, true);
      v.setUint32(at + 16, o.duplicate >>> 0, true);
      v.setUint32(at + 20, o.jitterTicks >>> 0, true);
    });
    if (o.latency !== undefined) {
      w.bytes(TCA_NETEM.LATENCY64, i64Bytes(o.latency));
    }
    if (o.jitter !== undefined) w.bytes(TCA_NETEM.JITTER64, i64Bytes(o.jitter));
    if (o.correlation !== undefined) {
      const c = o.correlation;
      w.bytes(
        TCA_NETEM.CORR,
        struct(12, (v) => {
          v.setUint32(0, c.delay >>> 0, true);
          v.setUint32(4, c.loss >>> 0, true);
          v.setUint32(8, c.duplicate >>> 0, true);
        }),
      );
    }
    if (o.reorder !== undefined) {
      const r = o.reorder;
      w.bytes(
        TCA_NETEM.REORDER,
        struct(8, (v) => {
          v.setUint32(0, r.probability >>> 0, true);
          v.setUint32(4, r.correlation >>> 0, true);
        }),
      );
    }
    if (o.ecn !== undefined) w.u32(TCA_NETEM.ECN, o.ecn ? 1 : 0);
    if (o.corrupt !== undefined) {
      const c = o.corrupt;
      w.bytes(
        TCA_NETEM.CORRUPT,
        struct(8, (v) => {
          v.setUint32(0, c.probability >>> 0, true);
          v.setUint32(4, c.correlation >>> 0, true);
        }),
      );
    }
    if (o.slot !== undefined) {
      const s = o.slot;
      w.bytes(
        TCA_NETEM.SLOT,
        struct(40, (v) => {
          v.setBigInt64(0, BigInt(s.minDelay), true);
          v.setBigInt64(8, BigInt(s.maxDelay), true);
          v.setInt32(16, s.maxPackets, true);
          v.setInt32(20, s.maxBytes, true);
          v.setBigInt64(24, BigInt(s.distDelay), true);
          v.setBigInt64(32, BigInt(s.distJitter), true);
        }),
      );
    }
    if (o.lossState !== undefined || o.lossGemodel !== undefined) {
      w.begin(TCA_NETEM.LOSS);
      if (o.lossState !== undefined) {
        const g = o.lossState;
        w.bytes(
          NETEM_LOSS.GI,
          struct(20, (v) => {
            [g.p13, g.p31, g.p32, g.p14, g.p23].forEach((x, i) =>
              v.setUint32(4 * i, x >>> 0, true)
            );
          }),
        );
      }
      if (o.lossGemodel !== undefined) {
        const g = o.lossGemodel;
        w.bytes(
          NETEM_LOSS.GE,
          struct(16, (v) => {
            [g.p, g.r, g.h, g.k1].forEach((x, i) =>
              v.setUint32(4 * i, x >>> 0, true)
            );
          }),
        );
      }
      w.end();
    }
    if (o.rate !== undefined) {
      const r = o.rate;
      if (r.rate > 0xffffffff) w.bytes(TCA_NETEM.RATE64, u64Bytes(r.rate));
      w.bytes(
        TCA_NETEM.RATE,
        struct(16, (v) => {
          v.setUint32(0, Math.min(r.rate, 0xffffffff), true);
          v.setInt32(4, r.packetOverhead, true);
          v.setUint32(8, r.cellSize >>> 0, true);
          v.setInt32(12, r.cellOverhead, true);
        }),
      );
    }
    if (o.seed !== undefined) {
      w.bytes(TCA_NETEM.PRNG_SEED, u64Bytes(BigInt(o.seed)));
    }
    for (
      const [type, values] of [
        [TCA_NETEM.DELAY_DIST, o.delayDistribution],
        [TCA_NETEM.SLOT_DIST, o.slotDistribution],
      ] as const
    ) {
      if (values === undefined) continue;
      w.bytes(
        type,
        struct(values.length * 2, (v) => {
          values.forEach((x, i) => v.setInt16(2 * i, x, true));
        }),
      );
    }
    for (const raw of o.unknown ?? []) w.bytes(raw.type, raw.data);
  });
}

function writeActions(
  w: MessageWriter,
  type: number,
  actions: TcAction[],
): void {
  w.begin(type);
  for (const action of actions) {
    w.begin(action.order);
    w.string(TCA_ACT.KIND, action.kind);
    if (action.index !== undefined) w.u32(TCA_ACT.INDEX, action.index);
    if (action.mirred !== undefined) {
      const m = action.mirred;
      w.begin(TCA_ACT.OPTIONS);
      w.bytes(
        TCA_MIRRED.PARMS,
        struct(28, (v) => {
          v.setUint32(0, m.index >>> 0, true);
          v.setUint32(4, m.capab >>> 0, true);
          v.setInt32(8, m.action, true);
          v.setInt32(12, m.refcnt, true);
          v.setInt32(16, m.bindcnt, true);
          v.setInt32(20, m.eaction, true);
          v.setUint32(24, m.ifindex >>> 0, true);
        }),
      );
      w.end();
    }
    if (action.gact !== undefined) {
      const g = action.gact;
      w.begin(TCA_ACT.OPTIONS);
      w.bytes(
        TCA_GACT.PARMS,
        struct(20, (v) => {
          v.setUint32(0, g.index >>> 0, true);
          v.setUint32(4, g.capab >>> 0, true);
          v.setInt32(8, g.action, true);
          v.setInt32(12, g.refcnt, true);
          v.setInt32(16, g.bindcnt, true);
        }),
      );
      w.end();
    }
    for (const raw of action.unknown ?? []) {
      if (raw.type === TCA_ACT.OPTIONS) w.bytes(TCA_ACT.OPTIONS, raw.data);
    }
    w.end();
  }
  w.end();
}

function writeU32(w: MessageWriter, o: U32Options): void {
  if (o.classid !== undefined) w.u32(TCA_U32.CLASSID, o.classid);
  if (o.hash !== undefined) w.u32(TCA_U32.HASH, o.hash);
  if (o.link !== undefined) w.u32(TCA_U32.LINK, o.link);
  if (o.divisor !== undefined) w.u32(TCA_U32.DIVISOR, o.divisor);
  if (o.selector !== undefined) {
    const s = o.selector;
    w.bytes(
      TCA_U32.SEL,
      struct(16 + 16 * s.keys.length, (v) => {
        v.setUint8(0, s.flags);
        v.setUint8(1, s.offshift);
        v.setUint8(2, s.keys.length);
        v.setUint16(4, s.offmask, false);
        v.setUint16(6, s.off, true);
        v.setInt16(8, s.offoff, true);
        v.setInt16(10, s.hoff, true);
        v.setUint32(12, s.hmask >>> 0, false);
        s.keys.forEach((k, i) => {
          const at = 16 + 16 * i;
          v.setUint32(at, k.mask >>> 0, false);
          v.setUint32(at + 4, k.value >>> 0, false);
          v.setInt32(at + 8, k.offset, true);
          v.setInt32(at + 12, k.offmask, true);
        });
      }),
    );
  }
  if (o.indev !== undefined) w.string(TCA_U32.INDEV, o.indev);
  if (o.flags !== undefined) w.u32(TCA_U32.FLAGS, o.flags);
  if (o.actions !== undefined) writeActions(w, TCA_U32.ACT, o.actions);
  for (const raw of o.unknown ?? []) w.bytes(raw.type, raw.data);
}

function writeBpf(w: MessageWriter, o: BpfOptions): void {
  if (o.classid !== undefined) w.u32(TCA_BPF.CLASSID, o.classid);
  if (o.ops !== undefined) {
    const ops = o.ops;
    w.u16(TCA_BPF.OPS_LEN, ops.length);
    w.bytes(
      TCA_BPF.OPS,
      struct(ops.length * 8, (v) => {
        ops.forEach((op, i) => {
          v.setUint16(8 * i, op.code, true);
          v.setUint8(8 * i + 2, op.jt);
          v.setUint8(8 * i + 3, op.jf);
          v.setUint32(8 * i + 4, op.k >>> 0, true);
        });
      }),
    );
  }
  if (o.fd !== undefined) w.u32(TCA_BPF.FD, o.fd);
  if (o.name !== undefined) w.string(TCA_BPF.NAME, o.name);
  if (o.flags !== undefined) w.u32(TCA_BPF.FLAGS, o.flags);
  if (o.flagsGen !== undefined) w.u32(TCA_BPF.FLAGS_GEN, o.flagsGen);
  if (o.id !== undefined) w.u32(TCA_BPF.ID, o.id);
  if (o.tag !== undefined) {
    const tag = o.tag;
    w.bytes(
      TCA_BPF.TAG,
      Uint8Array.from(
        { length: tag.length / 2 },
        (_, i) => parseInt(tag.slice(2 * i, 2 * i + 2), 16),
      ),
    );
  }
  if (o.actions !== undefined) writeActions(w, TCA_BPF.ACT, o.actions);
  for (const raw of o.unknown ?? []) w.bytes(raw.type, raw.data);
}

/** Writes `options` as `TCA_OPTIONS` of their kind. */
export function writeTcOptions(w: MessageWriter, options: TcOptions): void {
  switch (options.kind) {
    case "netem":
      w.bytes(TCA.OPTIONS, netemPayload(options));
      return;
    case "pfifo":
    case "bfifo":
      w.u32(TCA.OPTIONS, options.limit);
      return;
    case "pfifo_fast":
      w.bytes(
        TCA.OPTIONS,
        struct(20, (v) => {
          v.setInt32(0, options.limit, true);
          (options.priomap ?? []).forEach((x, i) => v.setUint8(4 + i, x));
        }),
      );
      return;
    case "raw":
      w.bytes(TCA.OPTIONS, options.data);
      return;
  }
  w.begin(TCA.OPTIONS);
  switch (options.kind) {
    case "tbf":
      writeTbf(w, options);
      break;
    case "htb":
      writeHtb(w, options);
      break;
    case "u32":
      writeU32(w, options);
      break;
    case "bpf":
      writeBpf(w, options);
      break;
    default:
      writeScalars(w, options);
  }
  w.end();
}

/** The fields of a tc request's `tcmsg` and attributes. */
export interface TcRequest {
  /** `tcm_family` (default AF_UNSPEC). */
  family?: number;
  /** Interface index. */
  index: number;
  /** Handle. */
  handle?: number;
  /** Parent. */
  parent?: number;
  /** `tcm_info`. */
  info?: number;
  /** `TCA_KIND`. */
  kind?: string;
  /** `TCA_OPTIONS`. */
  options?: TcOptions;
  /** `TCA_CHAIN`. */
  chain?: number;
  /** Attributes written as they are (e.g. kept from a decoded object). */
  unknown?: RawAttribute[];
}

/** Builds a tc request (`type` one of {@linkcode RTM_TC}). */
export function tcRequest(
  type: number,
  flags: number,
  request: TcRequest,
): MessageWriter {
  const w = new MessageWriter(type, flags, 2048);
  w.struct(TCMSG_SIZE, (view, at) => {
    view.setUint8(at, request.family ?? 0);
    view.setInt32(at + 4, request.index, true);
    view.setUint32(at + 8, (request.handle ?? 0) >>> 0, true);
    view.setUint32(at + 12, (request.parent ?? 0) >>> 0, true);
    view.setUint32(at + 16, (request.info ?? 0) >>> 0, true);
  });
  if (request.kind !== undefined) w.string(TCA.KIND, request.kind);
  if (request.options !== undefined) writeTcOptions(w, request.options);
  if (request.chain !== undefined) w.u32(TCA.CHAIN, request.chain);
  for (const raw of request.unknown ?? []) w.bytes(raw.type, raw.data);
  return w;
}
