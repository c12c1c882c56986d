/**
 * The `bandwidth` capability, through nsnet's rtnetlink tc, the way
 * Debian's bandwidth plugin shapes: traffic into the container
 * (`ingressRate`) by a tbf on the host end of the veth, traffic out of it
 * (`egressRate`) by redirecting what the host end receives (an ingress
 * qdisc and a match-all u32 filter with mirred) to an ifb device of the
 * attachment's own, which has the tbf. Rates are bit/s, bursts bits.
 *
 * @module
 */

import {
  addFilter,
  listFilters,
  mirredTo,
  u32Options,
} from "../../netlink/filter.ts";
import { createLink } from "../../netlink/link.ts";
import { addQdisc, listQdiscs, readSchedClock } from "../../netlink/qdisc.ts";
import type { NetlinkSocket } from "../../netlink/socket.ts";
import { TC_H } from "../../netlink/tc_message.ts";
import { tbfOptions } from "../../netlink/tc_units.ts";
import type { BandwidthArg } from "./config.ts";
import { CNI_ERROR, CniError } from "./errors.ts";

/** The queue latency the tbf allows, as Debian's plugin: 25 ms. */
const LATENCY_US = 25_000;

function tbf(
  rateBits: number,
  burstBits: number,
): ReturnType<typeof tbfOptions> {
  const rate = Math.max(Math.floor(rateBits / 8), 1);
  const burst = Math.max(Math.ceil(burstBits / 8), 1);
  return tbfOptions({ rate, burst, latency: LATENCY_US }, readSchedClock());
}

function checkLimits(limits: BandwidthArg): void {
  for (const dir of ["ingress", "egress"] as const) {
    const rate = limits[`${dir}Rate`];
    const burst = limits[`${dir}Burst`];
    if (rate === undefined) continue;
    if (rate < 8 || (burst ?? 0) < 8) {
      throw new CniError(
        CNI_ERROR.INVALID_NETWORK_CONFIG,
        `bandwidth ${dir}Rate ${rate} and ${dir}Burst ${burst} are too small`,
        "rates are bits per second and bursts bits: at least 8 each",
      );
    }
  }
}

/**
 * Shapes the attachment whose host end is `hostVeth`; with an egress rate,
 * makes the ifb `ifb` (which the caller records first, so that DEL removes
 * it). Returns whether the ifb was made.
 */
export function applyBandwidth(
  sock: NetlinkSocket,
  hostVeth: string,
  ifb: string,
  limits: BandwidthArg,
  mtu: number | undefined,
): boolean {
  checkLimits(limits);
  if (limits.ingressRate !== undefined) {
    addQdisc(sock, {
      device: hostVeth,
      parent: TC_H.ROOT,
      handle: 0x00010000,
      kind: "tbf",
      options: tbf(limits.ingressRate, limits.ingressBurst!),
    });
  }
  if (limits.egressRate === undefined) return false;
  createLink(sock, { kind: "ifb", name: ifb, up: true, mtu });
  addQdisc(sock, {
    device: ifb,
    parent: TC_H.ROOT,
    handle: 0x00010000,
    kind: "tbf",
    options: tbf(limits.egressRate, limits.egressBurst!),
  });
  addQdisc(sock, { device: hostVeth, kind: "ingress" });
  addFilter(sock, {
    device: hostVeth,
    parent: 0xffff0000,
    priority: 1,
    kind: "u32",
    options: u32Options([], { actions: [mirredTo(sock, ifb)] }),
  });
  return true;
}

/** What CHECK finds missing of the shaping, or undefined. */
export function checkBandwidth(
  sock: NetlinkSocket,
  hostVeth: string,
  ifb: string | undefined,
  limits: BandwidthArg,
): string | undefined {
  const kinds = (device: string): string[] =>
    listQdiscs(sock, { device }).map((q) => q.kind ?? "");
  if (limits.ingressRate !== undefined && !kinds(hostVeth).includes("tbf")) {
    return `no tbf on ${hostVeth}`;
  }
  if (limits.egressRate !== undefined) {
    if (ifb === undefined || !kinds(ifb).includes("tbf")) {
      return `no tbf on the ifb ${ifb ?? ""}`;
    }
    if (listFilters(sock, hostVeth, 0xffff0000).length === 0) {
      return `no redirect to ${ifb} on ${hostVeth}`;
    }
  }
  return undefined;
}
