/**
 * Link impairments, on the egress of an interface: `rate` is a tbf qdisc;
 * `delay`, `jitter`, `duplicate`, `reorder`, `corrupt` (and `loss`, where
 * the kernel has it) a netem qdisc, with the tbf as its child when a rate
 * goes with them; `loss` on a kernel without netem is an nftables rule
 * (`numgen random mod 1000000 < N drop`) in one table per lab in the node's
 * namespace. Changing an impairment replaces what is there; an empty one
 * removes it.
 *
 * @module
 */

import { NetlinkError } from "../netlink/errors.ts";
import {
  addQdisc,
  deleteQdisc,
  listQdiscs,
  readSchedClock,
  replaceQdisc,
  TcKindMissingError,
} from "../netlink/qdisc.ts";
import type { NetlinkSocket } from "../netlink/socket.ts";
import type { NetemOptions } from "../netlink/tc_message.ts";
import { TC_H } from "../netlink/tc_message.ts";
import {
  parsePercent,
  parseRate,
  parseTimeNs,
  tbfOptions,
} from "../netlink/tc_units.ts";
import { type NftTarget, runNftBatch } from "../bridge/nftables.ts";
import { sha256Hex } from "../sha256.ts";
import type { Impairment } from "./types.ts";

/** The impairment keys that only netem does. */
export const NETEM_ONLY = [
  "delay",
  "jitter",
  "duplicate",
  "reorder",
  "corrupt",
] as const;

/** The keys an impairment may have. */
export const IMPAIRMENT_KEYS = ["rate", "loss", ...NETEM_ONLY] as const;

/** Whether `imp` needs netem whatever the kernel has (anything but rate and loss). */
export function needsNetem(imp: Impairment): boolean {
  return NETEM_ONLY.some((key) => imp[key] !== undefined);
}

/** Whether `imp` impairs anything. */
export function isImpaired(imp: Impairment): boolean {
  return IMPAIRMENT_KEYS.some((key) => imp[key] !== undefined);
}

/** Whether netem works on this kernel: unknown until a first netem is tried. */
let netemWorks: boolean | undefined;

/** What is known of netem here: true, false, or undefined (not tried yet). */
export function netemKnown(): boolean | undefined {
  return netemWorks;
}

/** Takes what a lab's record knows of netem (from the process that built it). */
export function assumeNetem(works: boolean | undefined): void {
  if (works !== undefined) netemWorks ??= works;
}

/** The netem missing error, for a check before anything is made. */
export function netemMissingError(): TcKindMissingError {
  return new TcKindMissingError("qdisc", "netem");
}

/** The qdisc shape an impairment needs on one interface. */
export type QdiscShape = "none" | "tbf" | "netem" | "netem+tbf";

const ROOT_HANDLE = 0x10000; // 1:
const CHILD_HANDLE = 0x100000; // 10:
const CHILD_PARENT = 0x10001; // 1:1

/** How `loss` is done: in netem when netem works, else nftables. */
export function lossInNetem(): boolean {
  return netemWorks === true;
}

/** The qdiscs `imp` needs (loss counted in netem only when `lossNetem`). */
export function shapeOf(imp: Impairment, lossNetem: boolean): QdiscShape {
  const netem = needsNetem(imp) || (lossNetem && imp.loss !== undefined);
  if (netem) return imp.rate === undefined ? "netem" : "netem+tbf";
  return imp.rate === undefined ? "none" : "tbf";
}

function netemOptions(imp: Impairment, lossNetem: boolean): NetemOptions {
  const o: NetemOptions = {
    kind: "netem",
    latencyTicks: 0,
    limit: 1000,
    loss: lossNetem && imp.loss !== undefined ? parsePercent(imp.loss) : 0,
    gap: 0,
    duplicate: imp.duplicate === undefined ? 0 : parsePercent(imp.duplicate),
    jitterTicks: 0,
  };
  if (imp.delay !== undefined) o.latency = parseTimeNs(imp.delay);
  if (imp.jitter !== undefined) o.jitter = parseTimeNs(imp.jitter);
  if (imp.reorder !== undefined) {
    o.reorder = { probability: parsePercent(imp.reorder), correlation: 0 };
    if (o.reorder.probability > 0) o.gap = 1;
  }
  if (imp.corrupt !== undefined) {
    o.corrupt = { probability: parsePercent(imp.corrupt), correlation: 0 };
  }
  return o;
}

const clock = (() => {
  let value: ReturnType<typeof readSchedClock> | undefined;
  return () => value ??= readSchedClock();
})();

/**
 * tbf for `rate`: a bucket of 10 ms of the rate (at least two full frames)
 * and a queue of 50 ms, so a TCP flow fills the rate without long queues.
 */
function tbf(rate: string): ReturnType<typeof tbfOptions> {
  let options = tbfCache.get(rate);
  if (options === undefined) {
    options = tbfFor(rate);
    tbfCache.set(rate, options);
  }
  return options;
}

/** tbf options by rate: the rate table is computed once per rate, not per interface. */
const tbfCache = new Map<string, ReturnType<typeof tbfOptions>>();

function tbfFor(rate: string): ReturnType<typeof tbfOptions> {
  const bytes = parseRate(rate);
  const burst = Math.max(Math.ceil(bytes / 100), 3028);
  return tbfOptions({ rate: bytes, burst, latency: 50_000 }, clock());
}

function deleteRoot(sock: NetlinkSocket, device: number | string): void {
  try {
    deleteQdisc(sock, { device, parent: TC_H.ROOT });
  } catch (error) {
    // ENOENT/EINVAL: only the default qdisc (handle 0) is there.
    if (
      !(error instanceof NetlinkError) ||
      (error.code !== "ENOENT" && error.code !== "EINVAL")
    ) throw error;
  }
}

/**
 * Puts the qdiscs for `imp` on `device`'s egress, replacing what `before`
 * put there (same shape: changed in place; another: the old root removed
 * first). Returns the shape now there. The first netem tried tells whether
 * the kernel has it: `loss` alone then falls back to nftables (shape without
 * loss), anything else netem does raises the `TcKindMissingError` naming
 * `CONFIG_NET_SCH_NETEM`.
 */
export function applyQdiscs(
  sock: NetlinkSocket,
  device: number | string,
  imp: Impairment,
  before: QdiscShape,
): QdiscShape {
  if (netemWorks === false && needsNetem(imp)) throw netemMissingError();
  let shape = shapeOf(imp, netemWorks !== false);
  if (shape !== before && before !== "none") deleteRoot(sock, device);
  const put = shape === before ? replaceQdisc : addQdisc;
  if (shape === "netem" || shape === "netem+tbf") {
    try {
      put(sock, {
        device,
        parent: TC_H.ROOT,
        handle: ROOT_HANDLE,
        kind: "netem",
        options: netemOptions(imp, true),
      });
      netemWorks = true;
    } catch (error) {
      if (!(error instanceof TcKindMissingError)) throw error;
      netemWorks = false;
      if (needsNetem(imp)) throw error;
      // Only loss wanted netem: nftables drops instead.
      return applyQdiscs(sock, device, imp, "none");
    }
    if (shape === "netem+tbf") {
      put(sock, {
        device,
        parent: CHILD_PARENT,
        handle: CHILD_HANDLE,
        kind: "tbf",
        options: tbf(imp.rate!),
      });
    }
  } else if (shape === "tbf") {
    put(sock, {
      device,
      parent: TC_H.ROOT,
      handle: ROOT_HANDLE,
      kind: "tbf",
      options: tbf(imp.rate!),
    });
  } else {
    shape = "none";
  }
  return shape;
}

/** The shape of the qdiscs on `device` now, as the kernel lists them. */
export function currentShape(
  sock: NetlinkSocket,
  device: number | string,
): QdiscShape {
  const qdiscs = listQdiscs(sock, { device });
  const root = qdiscs.find((q) => q.parent === TC_H.ROOT);
  if (root === undefined || root.handle !== ROOT_HANDLE) return "none";
  if (root.kind === "tbf") return "tbf";
  if (root.kind !== "netem") return "none";
  return qdiscs.some((q) => q.parent === CHILD_PARENT && q.kind === "tbf")
    ? "netem+tbf"
    : "netem";
}

/** Removes whatever root qdisc an impairment put on `device`. */
export function clearQdiscs(
  sock: NetlinkSocket,
  device: number | string,
): void {
  deleteRoot(sock, device);
}

/** The nftables table of lab `lab` in its nodes' namespaces. */
export function lossTableName(lab: string): string {
  return `nsnet_lab_${sha256Hex(lab).slice(0, 10)}`;
}

/** One nftables loss rule: drop this share of what `device` sends. */
export interface LossRule {
  /** The interface. */
  device: string;
  /** The loss, `"20%"`. */
  loss: string;
}

/** Loss resolution: numgen draws from 0 to 999999, so 0.0001% steps. */
const LOSS_MOD = 1_000_000;

/**
 * The batch that makes the node's loss table hold exactly `rules` (one
 * transaction: the table is replaced whole), or removes it when none.
 */
export function lossBatch(table: string, rules: readonly LossRule[]): string {
  const lines = [`table inet ${table} {}`, `delete table inet ${table}`];
  if (rules.length > 0) {
    lines.push(
      `table inet ${table} {`,
      "  chain egress {",
      "    type filter hook postrouting priority filter; policy accept;",
      "  }",
      "}",
    );
    for (const rule of rules) {
      const share = Math.round(
        (parsePercent(rule.loss) / 0xffffffff) * LOSS_MOD,
      );
      if (share <= 0) continue;
      // All of it: no draw (and numgen's range ends below LOSS_MOD).
      const draw = share >= LOSS_MOD
        ? ""
        : ` numgen random mod ${LOSS_MOD} < ${share}`;
      lines.push(
        `add rule inet ${table} egress oifname ${
          JSON.stringify(rule.device)
        }${draw} drop`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** Makes the node's loss table hold exactly `rules` (nft, in the node's namespace). */
export async function applyLossRules(
  target: NftTarget,
  rules: readonly LossRule[],
): Promise<void> {
  await runNftBatch(target, lossBatch(target.table!, rules));
}
