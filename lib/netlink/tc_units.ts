/**
 * tc's units and arithmetic: rates, sizes, times and percentages in tc's
 * words (`10mbit`, `32kbit`, `400ms`, `25%`), the scheduler clock
 * (`/proc/net/psched`), transmit times, the 256-cell rate tables, and the
 * option structs of tbf and htb computed as tc computes them. Pure: the
 * clock is passed in ({@linkcode readSchedClock} in qdisc.ts reads it).
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import {
  type HtbOptions,
  type RateSpec,
  type TbfOptions,
  TC_LINKLAYER,
} from "./tc_message.ts";

/** Microseconds per second: tc's time unit. */
export const TIME_UNITS_PER_SEC = 1_000_000;

/** The packet scheduler's clock, from `/proc/net/psched`. */
export interface SchedClock {
  /** Scheduler ticks per microsecond (15.625 on every kernel since 2.6.31's hrtimer clock). */
  tickInUsec: number;
  /** What tc's get_hz() answers (the clock resolution: 1e9 with hrtimers). */
  hz: number;
}

/** The clock of every modern kernel: `000003e8 00000040 000f4240 3b9aca00`. */
export const DEFAULT_SCHED_CLOCK: SchedClock = {
  tickInUsec: 1000 / 64,
  hz: 1_000_000_000,
};

/** Parses the four hex words of `/proc/net/psched` as tc's tc_core_init and get_hz do. */
export function parseSchedClock(text: string): SchedClock {
  const words = text.trim().split(/\s+/).map((w) => parseInt(w, 16));
  if (words.length < 3 || words.some((w) => !Number.isFinite(w))) {
    return DEFAULT_SCHED_CLOCK;
  }
  let [t2us, us2t, clockRes] = words as [number, number, number];
  const denom = words[3];
  if (clockRes === 1_000_000_000) t2us = us2t;
  const clockFactor = clockRes / TIME_UNITS_PER_SEC;
  return {
    tickInUsec: (t2us / us2t) * clockFactor,
    hz: clockRes === 1_000_000 && denom !== undefined ? denom : 100,
  };
}

/** Ticks for `usec` microseconds (tc_core_time2tick). */
export function timeToTicks(usec: number, clock: SchedClock): number {
  return usec * clock.tickInUsec;
}

/** Microseconds for `ticks` (tc_core_tick2time). */
export function ticksToTime(ticks: number, clock: SchedClock): number {
  return ticks / clock.tickInUsec;
}

/**
 * Ticks to send `size` bytes at `rate` bytes/s, at most 2^32-1
 * (tc_calc_xmittime). The time is truncated to whole microseconds before
 * it becomes ticks, as the tc beside this kernel (iproute2 6.1) does, so
 * that nsnet and tc give the kernel the same buckets (newer iproute2
 * rounds up instead and can differ by a tick).
 */
export function xmitTime(
  rate: number,
  size: number,
  clock: SchedClock,
): number {
  const usec = Math.trunc(TIME_UNITS_PER_SEC * (size / rate));
  const t = Math.trunc(timeToTicks(usec, clock));
  return t >= 0xffffffff ? 0xffffffff : t;
}

/**
 * Bytes sent at `rate` in `ticks` (tc_calc_xmitsize), truncated. The time
 * is truncated to whole microseconds first, as the tc beside this kernel
 * (iproute2 6.1) does, so that a tbf's `burst` reads the same in both.
 */
export function xmitSize(
  rate: number,
  ticks: number,
  clock: SchedClock,
): number {
  const usec = Math.trunc(ticksToTime(ticks, clock));
  return Math.trunc((rate * usec) / TIME_UNITS_PER_SEC);
}

/**
 * The 256-cell rate table of `rate` (tc_calc_rtable): cell i holds the
 * transmit time of `(i + 1) << cellLog` bytes (at least `mpu`). A negative
 * `cellLog` picks the smallest that covers `mtu` (2047 when 0).
 */
export function rateTable(
  spec: RateSpec,
  mtu: number,
  clock: SchedClock,
  cellLog = -1,
): { spec: RateSpec; table: number[] } {
  const limit = mtu === 0 ? 2047 : mtu;
  let log = cellLog;
  if (log < 0) {
    log = 0;
    while ((limit >> log) > 255) log++;
  }
  const table: number[] = [];
  for (let i = 0; i < 256; i++) {
    const size = Math.max((i + 1) << log, spec.mpu);
    table.push(xmitTime(spec.rate, size, clock));
  }
  return {
    spec: { ...spec, cellAlign: -1, cellLog: log, linklayer: spec.linklayer },
    table,
  };
}

function rateSpecOf(rate: number, mpu = 0, overhead = 0): RateSpec {
  return {
    rate,
    cellLog: 0,
    linklayer: TC_LINKLAYER.ETHERNET,
    overhead,
    cellAlign: 0,
    mpu,
  };
}

/** A token bucket as `tc qdisc add … tbf` takes it. */
export interface TbfSpec {
  /** Rate in bytes per second. */
  rate: number;
  /** Bucket size in bytes (tc's `burst`/`buffer`/`maxburst`). */
  burst: number;
  /** Queue limit in bytes; or give `latency`. */
  limit?: number;
  /** Longest time a packet may wait, microseconds (tc's `latency`). */
  latency?: number;
  /** Peak rate in bytes per second. */
  peakrate?: number;
  /** Peak bucket in bytes (tc's `mtu`/`minburst`); needed with `peakrate`. */
  mtu?: number;
  /** Minimum packet unit. */
  mpu?: number;
  /** Per-packet overhead. */
  overhead?: number;
}

/** tbf's options for `spec`, computed as tc computes them (rate tables included). */
export function tbfOptions(
  spec: TbfSpec,
  clock: SchedClock = DEFAULT_SCHED_CLOCK,
): TbfOptions {
  if (!(spec.rate > 0)) {
    throw new InvalidArgumentError("tbf needs a rate");
  }
  if (!(spec.burst > 0)) {
    throw new InvalidArgumentError("tbf needs a burst (bucket size)");
  }
  if ((spec.limit === undefined) === (spec.latency === undefined)) {
    throw new InvalidArgumentError("tbf needs exactly one of limit or latency");
  }
  const peak = spec.peakrate ?? 0;
  const mtu = spec.mtu ?? 0;
  if (peak > 0 && mtu === 0) {
    throw new InvalidArgumentError("tbf with a peakrate needs an mtu");
  }
  let limit = spec.limit ?? 0;
  if (spec.latency !== undefined) {
    let lim = (spec.rate * spec.latency) / TIME_UNITS_PER_SEC + spec.burst;
    if (peak > 0) {
      const lim2 = (peak * spec.latency) / TIME_UNITS_PER_SEC + mtu;
      if (lim2 < lim) lim = lim2;
    }
    limit = Math.trunc(lim);
  }
  const rate = rateTable(
    rateSpecOf(spec.rate, spec.mpu, spec.overhead),
    mtu,
    clock,
  );
  const options: TbfOptions = {
    kind: "tbf",
    rate: rate.spec,
    peakrate: rateSpecOf(0),
    limit,
    buffer: xmitTime(spec.rate, spec.burst, clock),
    mtu: 0,
    burst: spec.burst,
    rtab: rate.table,
  };
  if (peak > 0) {
    const ptab = rateTable(
      rateSpecOf(peak, spec.mpu, spec.overhead),
      mtu,
      clock,
    );
    options.peakrate = ptab.spec;
    options.mtu = xmitTime(peak, mtu, clock);
    options.pburst = mtu;
    options.ptab = ptab.table;
  }
  return options;
}

/** tbf's options in tc's JSON words: rate, burst, lat (or limit), minburst. */
export function tbfJson(
  o: TbfOptions,
  clock: SchedClock = DEFAULT_SCHED_CLOCK,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    rate: o.rate.rate,
    burst: xmitSize(o.rate.rate, o.buffer, clock),
  };
  const prate = o.peakrate.rate;
  if (prate > 0 && (o.mtu !== 0 || o.peakrate.mpu !== 0)) {
    out.minburst = xmitSize(prate, o.mtu, clock);
  }
  let latency = TIME_UNITS_PER_SEC * (o.limit / o.rate.rate) -
    Math.trunc(ticksToTime(o.buffer, clock));
  if (prate > 0) {
    const lat2 = TIME_UNITS_PER_SEC * (o.limit / prate) -
      Math.trunc(ticksToTime(o.mtu, clock));
    if (lat2 > latency) latency = lat2;
  }
  if (latency >= 0) out.lat = Math.trunc(latency);
  else out.limit = o.limit;
  if (o.rate.overhead !== 0) out.overhead = o.rate.overhead;
  if (o.rate.linklayer > TC_LINKLAYER.ETHERNET) {
    out.linklayer = o.rate.linklayer === TC_LINKLAYER.ATM ? "atm" : "unknown";
  }
  return out;
}

/** An htb qdisc as `tc qdisc add … htb` takes it. */
export interface HtbQdiscSpec {
  /** The class unclassified traffic goes to (its minor, e.g. 0x10 for `default 10`). */
  defaultClass?: number;
  /** Rate to quantum divisor (default 10). */
  r2q?: number;
  /** Direct queue length. */
  directQlen?: number;
}

/** htb's qdisc options. */
export function htbQdiscOptions(spec: HtbQdiscSpec = {}): HtbOptions {
  const out: HtbOptions = {
    kind: "htb",
    init: {
      version: 3,
      rate2quantum: spec.r2q ?? 10,
      defaultClass: spec.defaultClass ?? 0,
      debug: 0,
      directPackets: 0,
    },
  };
  if (spec.directQlen !== undefined) out.directQlen = spec.directQlen;
  return out;
}

/** An htb class as `tc class add … htb` takes it. */
export interface HtbClassSpec {
  /** Guaranteed rate, bytes per second. */
  rate: number;
  /** Ceiling, bytes per second (default the rate). */
  ceil?: number;
  /** Bucket in bytes (default rate/hz + mtu). */
  burst?: number;
  /** Ceil bucket in bytes. */
  cburst?: number;
  /** Priority (0 highest). */
  prio?: number;
  /** Quantum in bytes (default: the kernel's rate/r2q). */
  quantum?: number;
  /** MTU for the rate tables (default 1600). */
  mtu?: number;
  /** Minimum packet unit. */
  mpu?: number;
  /** Per-packet overhead. */
  overhead?: number;
}

/** htb's class options, computed as tc computes them. */
export function htbClassOptions(
  spec: HtbClassSpec,
  clock: SchedClock = DEFAULT_SCHED_CLOCK,
): HtbOptions {
  if (!(spec.rate > 0)) {
    throw new InvalidArgumentError("htb class needs a rate");
  }
  const ceil = spec.ceil ?? spec.rate;
  const mtu = spec.mtu ?? 1600;
  const buffer = spec.burst ?? Math.floor(spec.rate / clock.hz) + mtu;
  const cbuffer = spec.cburst ?? Math.floor(ceil / clock.hz) + mtu;
  const rate = rateTable(
    rateSpecOf(spec.rate, spec.mpu, spec.overhead),
    mtu,
    clock,
  );
  const ceilTable = rateTable(
    rateSpecOf(ceil, spec.mpu, spec.overhead),
    mtu,
    clock,
  );
  return {
    kind: "htb",
    parms: {
      rate: rate.spec,
      ceil: ceilTable.spec,
      buffer: xmitTime(spec.rate, buffer, clock),
      cbuffer: xmitTime(ceil, cbuffer, clock),
      quantum: spec.quantum ?? 0,
      level: 0,
      prio: spec.prio ?? 0,
    },
    rtab: rate.table,
    ctab: ceilTable.table,
  };
}

// ---------------------------------------------------------------- words

function bad(what: string, text: string, hint: string): never {
  throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(text)}`, {
    hint,
  });
}

const RATE_UNITS: Readonly<Record<string, number>> = {
  "": 1 / 8,
  bit: 1 / 8,
  kbit: 1000 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
  tbit: 1e12 / 8,
  kibit: 1024 / 8,
  mibit: 1024 ** 2 / 8,
  gibit: 1024 ** 3 / 8,
  tibit: 1024 ** 4 / 8,
  bps: 1,
  kbps: 1000,
  mbps: 1e6,
  gbps: 1e9,
  tbps: 1e12,
  kibps: 1024,
  mibps: 1024 ** 2,
  gibps: 1024 ** 3,
  tibps: 1024 ** 4,
};

/** A rate in tc's words (`10mbit`, `1gbit`, `125kbps`, bare = bit/s) in bytes per second. */
export function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(text);
  const unit = m === null ? undefined : RATE_UNITS[m[2]!.toLowerCase()];
  if (m === null || unit === undefined) {
    bad("rate", text, "a rate such as 10mbit, 1gbit or 500kbit");
  }
  return Math.round(Number(m[1]) * unit);
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  kbit: 1024 / 8,
  mbit: 1024 ** 2 / 8,
  gbit: 1024 ** 3 / 8,
};

/** A size in tc's words (`32kbit`, `15k`, `1600b`, `1mb`) in bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(text);
  const unit = m === null ? undefined : SIZE_UNITS[m[2]!.toLowerCase()];
  if (m === null || unit === undefined) {
    bad("size", text, "a size such as 32kbit, 15k or 1600b");
  }
  return Math.round(Number(m[1]) * unit);
}

const TIME_UNITS_NS: Readonly<Record<string, number>> = {
  "": 1000,
  s: 1e9,
  sec: 1e9,
  secs: 1e9,
  ms: 1e6,
  msec: 1e6,
  msecs: 1e6,
  us: 1000,
  usec: 1000,
  usecs: 1000,
  ns: 1,
  nsec: 1,
  nsecs: 1,
};

/** A time in tc's words (`400ms`, `1s`, `10us`, bare = microseconds) in nanoseconds. */
export function parseTimeNs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(text);
  const unit = m === null ? undefined : TIME_UNITS_NS[m[2]!.toLowerCase()];
  if (m === null || unit === undefined) {
    bad("time", text, "a time such as 400ms, 1s or 100us");
  }
  return Math.round(Number(m[1]) * unit);
}

/** A time in tc's words in microseconds. */
export function parseTimeUs(text: string): number {
  return parseTimeNs(text) / 1000;
}

/** A percentage (`25%` or `25`) as the kernel's fraction of 2^32-1. */
export function parsePercent(text: string): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(text);
  const value = m === null ? NaN : Number(m[1]);
  if (!(value >= 0 && value <= 100)) {
    bad("percentage", text, "a percentage from 0% to 100%");
  }
  return Math.round((value / 100) * 0xffffffff);
}

/** A kernel fraction of 2^32-1 as a percentage. */
export function percentOf(fraction: number): number {
  return (fraction / 0xffffffff) * 100;
}

/** A rate as tc prints it for people (`10Mbit`, `1500bit`). */
export function formatRate(bytesPerSecond: number): string {
  const units = ["bit", "Kbit", "Mbit", "Gbit", "Tbit"];
  let rate = bytesPerSecond * 8;
  let i = 0;
  for (; i < units.length - 1; i++) {
    if (rate < 1000) break;
    if (rate % 1000 !== 0 && rate < 1000 * 1000) break;
    rate /= 1000;
  }
  return `${Math.round(rate)}${units[i]}`;
}

/** A size as tc prints it for people (`4Kb`, `1600b`, `2Mb`). */
export function formatSize(bytes: number): string {
  if (
    bytes >= 1024 * 1024 &&
    Math.abs(1024 * 1024 * Math.round(bytes / (1024 * 1024)) - bytes) < 1024
  ) {
    return `${Math.round(bytes / (1024 * 1024))}Mb`;
  }
  if (bytes >= 1024 && Math.abs(1024 * Math.round(bytes / 1024) - bytes) < 16) {
    return `${Math.round(bytes / 1024)}Kb`;
  }
  return `${Math.trunc(bytes)}b`;
}

/** A time in microseconds as tc prints it for people (`400ms`, `1.5s`, `10us`). */
export function formatTime(usec: number): string {
  if (usec >= TIME_UNITS_PER_SEC) {
    return `${(usec / TIME_UNITS_PER_SEC).toFixed(1).replace(/\.0$/, "")}s`;
  }
  if (usec >= 1000) return `${(usec / 1000).toFixed(1).replace(/\.0$/, "")}ms`;
  return `${Math.trunc(usec)}us`;
}
