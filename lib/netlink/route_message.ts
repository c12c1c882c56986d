/**
 * Route messages (`rtmsg` + RTA attributes) and the decoded {@linkcode Route}.
 * Pure: no FFI and no Deno APIs.
 *
 * @module
 */

import {
  align,
  attrString,
  attrU32,
  attrU8,
  MessageWriter,
  type RawAttribute,
  rawAttribute,
} from "./codec.ts";
import { NLA_TYPE_MASK, NLM_F, RTA, RTM, SIZE } from "./constants.ts";
import { NetlinkDecodeError } from "./errors.ts";
import { formatIP, parseIP } from "./ip_address.ts";

/** `RTAX_*`: the attributes inside `RTA_METRICS`. */
export const RTAX = {
  LOCK: 1,
  MTU: 2,
  WINDOW: 3,
  RTT: 4,
  RTTVAR: 5,
  SSTHRESH: 6,
  CWND: 7,
  ADVMSS: 8,
  REORDERING: 9,
  HOPLIMIT: 10,
  INITCWND: 11,
  FEATURES: 12,
  RTO_MIN: 13,
  INITRWND: 14,
  QUICKACK: 15,
  CC_ALGO: 16,
  FASTOPEN_NO_COOKIE: 17,
} as const;

/** `RTNH_F_*`: flags of a next hop (`rtnh_flags`, and the low byte of `rtm_flags`). */
export const RTNH_F = {
  DEAD: 0x1,
  PERVASIVE: 0x2,
  ONLINK: 0x4,
  OFFLOAD: 0x8,
  LINKDOWN: 0x10,
  UNRESOLVED: 0x20,
  TRAP: 0x40,
} as const;

/** Size of `struct rtnexthop` (len, flags, hops, ifindex). */
const RTNEXTHOP_SIZE = 8;
/** Size of `struct rta_cacheinfo` (eight 32-bit fields). */
const CACHEINFO_SIZE = 32;

/**
 * A route's metrics (`RTA_METRICS`), each as the kernel stores it: `rtt` in
 * 1/8 ms, `rttvar` in 1/4 ms, `rtoMin` in ms (`ip` shows `rtt`/8 and
 * `rttvar`/4). `lock` is the `RTAX_LOCK` bit set: bit `1 << RTAX.MTU` for a
 * locked mtu.
 */
export interface RouteMetrics {
  /** Locked metrics, one bit per `RTAX_*` number. */
  lock?: number;
  /** Path MTU. */
  mtu?: number;
  /** TCP window clamp. */
  window?: number;
  /** Initial RTT estimate, in 1/8 ms. */
  rtt?: number;
  /** Initial RTT variance, in 1/4 ms. */
  rttvar?: number;
  /** Initial slow-start threshold. */
  ssthresh?: number;
  /** Congestion window clamp. */
  cwnd?: number;
  /** Advertised MSS. */
  advmss?: number;
  /** Maximal reordering. */
  reordering?: number;
  /** Hop limit (0xffffffff: unset, which `ip` does not print). */
  hoplimit?: number;
  /** Initial congestion window. */
  initcwnd?: number;
  /** `RTAX_FEATURE_*` bits (1: ecn). */
  features?: number;
  /** Minimal retransmission timeout, in ms. */
  rtoMin?: number;
  /** Initial receive window. */
  initrwnd?: number;
  /** Quick ACK (0 or 1). */
  quickack?: number;
  /** Congestion control algorithm (`RTAX_CC_ALGO`), e.g. `cubic`. */
  congctl?: string;
  /** TCP Fast Open without cookie (0 or 1). */
  fastopenNoCookie?: number;
  /** Metrics nsnet does not know, kept raw. */
  unknown?: RawAttribute[];
}

/** An address of a family other than the route's (`RTA_VIA`: an IPv4 route via an IPv6 router). */
export interface RouteVia {
  /** `AF.INET` or `AF.INET6`. */
  family: number;
  /** The router's address. */
  address: string;
}

/** One next hop of a multipath route (an `rtnexthop` in `RTA_MULTIPATH`). */
export interface Nexthop {
  /** Next hop address (RTA_GATEWAY, the route's family), if any. */
  gateway: string | undefined;
  /** Next hop of another family (RTA_VIA), if any. */
  via: RouteVia | undefined;
  /** Output interface index (`rtnh_ifindex`; 0 when none). */
  outputIndex: number;
  /** Weight, 1-256 (`rtnh_hops` + 1, as `ip` shows it). */
  weight: number;
  /** `RTNH_F_*` flags (`onlink`, `dead`, `linkdown`...). */
  flags: number;
  /** Realms (RTA_FLOW: from << 16 | to), if set. */
  flow: number | undefined;
  /** Attributes nsnet does not know, kept raw. */
  unknown: RawAttribute[] | undefined;
}

/** `struct rta_cacheinfo` (RTA_CACHEINFO), times in clock ticks (USER_HZ, 100 a second). */
export interface RouteCacheInfo {
  /** References held by clients. */
  clientReferences: number;
  /** Ticks since last use. */
  lastUse: number;
  /** Ticks until the route expires (0: never); signed. */
  expires: number;
  /** The route's error (an errno), if any. */
  error: number;
  /** Times used. */
  used: number;
  /** IP id. */
  id: number;
  /** Timestamp. */
  ts: number;
  /** Timestamp age. */
  tsAge: number;
}

/** A route as the kernel reports it. */
export interface Route {
  /** `AF.INET` (2) or `AF.INET6` (10). */
  family: number;
  /** Routing table id (RTA_TABLE when present, else rtm_table). */
  table: number;
  /** Destination address; undefined for a default route. */
  destination: string | undefined;
  /** Destination prefix length (0 for a default route). */
  destinationLength: number;
  /** Source prefix (policy routing), if any. */
  source: string | undefined;
  /** Source prefix length. */
  sourceLength: number;
  /** Next hop, if any. */
  gateway: string | undefined;
  /** Index of the output interface, if any. */
  outputIndex: number | undefined;
  /** Who installed it (2 kernel, 3 boot, 4 static...; names in names.ts). */
  protocol: number;
  /** Scope: 0 universe, 253 link, 254 host. */
  scope: number;
  /** Route type: 1 unicast, 2 local, 3 broadcast, 6 blackhole... */
  type: number;
  /** Priority (metric), if set. */
  priority: number | undefined;
  /** Preferred source address, if set. */
  preferredSource: string | undefined;
  /** `RTNH_F_*` / `RTM_F_*` flags. */
  flags: number;
  /** IPv6 router preference (RTA_PREF: 0 medium, 1 high, 3 low), if set. */
  preference: number | undefined;
  /** Type of service (`rtm_tos`). */
  tos: number;
  /** Next hop of another family (RTA_VIA), if any. */
  via: RouteVia | undefined;
  /** The next hops of a multipath route (RTA_MULTIPATH), if any. */
  nexthops: Nexthop[] | undefined;
  /** Metrics (RTA_METRICS), if any. */
  metrics: RouteMetrics | undefined;
  /** Cache information (RTA_CACHEINFO: expiry, error...), if reported. */
  cacheInfo: RouteCacheInfo | undefined;
  /** Input interface index (RTA_IIF), if any. */
  inputIndex: number | undefined;
  /** Firewall mark (RTA_MARK), if any. */
  mark: number | undefined;
  /** Realms (RTA_FLOW: from << 16 | to), if any. */
  flow: number | undefined;
  /** Nexthop object id (RTA_NH_ID), if any. */
  nexthopId: number | undefined;
  /** Attributes nsnet does not know, kept raw, in order. */
  unknown: RawAttribute[] | undefined;
}

function checkAttribute(view: DataView, p: number, end: number): number {
  const size = view.getUint16(p, true);
  if (size < SIZE.NLATTR || p + size > end) {
    throw new NetlinkDecodeError(`attribute length ${size} does not fit`, p);
  }
  return size;
}

function decodeVia(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  length: number,
): RouteVia {
  if (length < 2) throw new NetlinkDecodeError("RTA_VIA too short", at);
  return {
    family: view.getUint16(at, true),
    address: formatIP(bytes, at + 2, length - 2),
  };
}

const METRIC_KEYS: readonly (keyof RouteMetrics | undefined)[] = [
  undefined,
  "lock",
  "mtu",
  "window",
  "rtt",
  "rttvar",
  "ssthresh",
  "cwnd",
  "advmss",
  "reordering",
  "hoplimit",
  "initcwnd",
  "features",
  "rtoMin",
  "initrwnd",
  "quickack",
  "congctl",
  "fastopenNoCookie",
];

/** Decodes the `RTAX_*` attributes of an RTA_METRICS payload spanning `[start, end)`. */
export function decodeRouteMetrics(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
): RouteMetrics {
  const metrics: RouteMetrics = {};
  let p = start;
  while (p + SIZE.NLATTR <= end) {
    const size = checkAttribute(view, p, end);
    const type = view.getUint16(p + 2, true) & NLA_TYPE_MASK;
    const at = p + SIZE.NLATTR;
    const length = size - SIZE.NLATTR;
    const key = METRIC_KEYS[type];
    if (key === "congctl") {
      metrics.congctl = attrString(bytes, at, length);
    } else if (key !== undefined && key !== "unknown") {
      metrics[key] = attrU32(view, at, length);
    } else {
      (metrics.unknown ??= []).push(rawAttribute(bytes, type, at, length));
    }
    p += align(size);
  }
  return metrics;
}

/** Decodes the `rtnexthop` list of an RTA_MULTIPATH payload spanning `[start, end)`. */
export function decodeNexthops(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
): Nexthop[] {
  const hops: Nexthop[] = [];
  let p = start;
  while (p + RTNEXTHOP_SIZE <= end) {
    const size = view.getUint16(p, true);
    if (size < RTNEXTHOP_SIZE || p + size > end) {
      throw new NetlinkDecodeError(`rtnexthop length ${size} does not fit`, p);
    }
    const hop: Nexthop = {
      gateway: undefined,
      via: undefined,
      outputIndex: view.getUint32(p + 4, true),
      weight: view.getUint8(p + 3) + 1,
      flags: view.getUint8(p + 2),
      flow: undefined,
      unknown: undefined,
    };
    const last = p + size;
    let q = p + RTNEXTHOP_SIZE;
    while (q + SIZE.NLATTR <= last) {
      const asize = checkAttribute(view, q, last);
      const type = view.getUint16(q + 2, true) & NLA_TYPE_MASK;
      const at = q + SIZE.NLATTR;
      const length = asize - SIZE.NLATTR;
      if (type === RTA.GATEWAY) hop.gateway = formatIP(bytes, at, length);
      else if (type === RTA.VIA) hop.via = decodeVia(bytes, view, at, length);
      else if (type === RTA.FLOW) hop.flow = attrU32(view, at, length);
      else (hop.unknown ??= []).push(rawAttribute(bytes, type, at, length));
      q += align(asize);
    }
    hops.push(hop);
    p += align(size);
  }
  return hops;
}

function decodeCacheInfo(
  view: DataView,
  at: number,
  length: number,
): RouteCacheInfo {
  if (length < CACHEINFO_SIZE) {
    throw new NetlinkDecodeError(`RTA_CACHEINFO has ${length} bytes`, at);
  }
  return {
    clientReferences: view.getUint32(at, true),
    lastUse: view.getUint32(at + 4, true),
    expires: view.getInt32(at + 8, true),
    error: view.getUint32(at + 12, true),
    used: view.getUint32(at + 16, true),
    id: view.getUint32(at + 20, true),
    ts: view.getUint32(at + 24, true),
    tsAge: view.getUint32(at + 28, true),
  };
}

/** Decodes the body of an RTM_NEWROUTE message spanning `[offset, end)`. */
export function decodeRoute(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  end: number,
): Route {
  if (offset + SIZE.RTMSG > end) {
    throw new NetlinkDecodeError("route message shorter than rtmsg", offset);
  }
  // Every field is set here, in one order, so all routes share one object shape.
  const route: Route = {
    family: view.getUint8(offset),
    table: view.getUint8(offset + 4),
    destination: undefined,
    destinationLength: view.getUint8(offset + 1),
    source: undefined,
    sourceLength: view.getUint8(offset + 2),
    gateway: undefined,
    outputIndex: undefined,
    protocol: view.getUint8(offset + 5),
    scope: view.getUint8(offset + 6),
    type: view.getUint8(offset + 7),
    priority: undefined,
    preferredSource: undefined,
    flags: view.getUint32(offset + 8, true),
    preference: undefined,
    tos: view.getUint8(offset + 3),
    via: undefined,
    nexthops: undefined,
    metrics: undefined,
    cacheInfo: undefined,
    inputIndex: undefined,
    mark: undefined,
    flow: undefined,
    nexthopId: undefined,
    unknown: undefined,
  };
  // The attribute walk is inlined (no callback): route dumps run to 100k+ messages.
  let p = offset + SIZE.RTMSG;
  while (p + SIZE.NLATTR <= end) {
    const size = view.getUint16(p, true);
    if (size < SIZE.NLATTR || p + size > end) {
      throw new NetlinkDecodeError(`attribute length ${size} does not fit`, p);
    }
    const at = p + SIZE.NLATTR;
    const length = size - SIZE.NLATTR;
    const type = view.getUint16(p + 2, true) & NLA_TYPE_MASK;
    switch (type) {
      case RTA.DST:
        route.destination = formatIP(bytes, at, length);
        break;
      case RTA.SRC:
        route.source = formatIP(bytes, at, length);
        break;
      case RTA.GATEWAY:
        route.gateway = formatIP(bytes, at, length);
        break;
      case RTA.OIF:
        route.outputIndex = attrU32(view, at, length);
        break;
      case RTA.PRIORITY:
        route.priority = attrU32(view, at, length);
        break;
      case RTA.PREFSRC:
        route.preferredSource = formatIP(bytes, at, length);
        break;
      case RTA.TABLE:
        route.table = attrU32(view, at, length);
        break;
      case RTA.PREF:
        route.preference = attrU8(view, at, length);
        break;
      case RTA.CACHEINFO:
        route.cacheInfo = decodeCacheInfo(view, at, length);
        break;
      case RTA.METRICS:
        route.metrics = decodeRouteMetrics(bytes, view, at, at + length);
        break;
      case RTA.MULTIPATH:
        route.nexthops = decodeNexthops(bytes, view, at, at + length);
        break;
      case RTA.VIA:
        route.via = decodeVia(bytes, view, at, length);
        break;
      case RTA.IIF:
        route.inputIndex = attrU32(view, at, length);
        break;
      case RTA.MARK:
        route.mark = attrU32(view, at, length);
        break;
      case RTA.FLOW:
        route.flow = attrU32(view, at, length);
        break;
      case RTA.NH_ID:
        route.nexthopId = attrU32(view, at, length);
        break;
      default:
        (route.unknown ??= []).push(rawAttribute(bytes, type, at, length));
    }
    p += align(size);
  }
  return route;
}

function viaBytes(via: RouteVia): Uint8Array {
  const address = parseIP(via.address).bytes;
  const out = new Uint8Array(2 + address.length);
  new DataView(out.buffer).setUint16(0, via.family, true);
  out.set(address, 2);
  return out;
}

/** What {@linkcode nexthopsPayload} needs of a next hop (device already resolved to an index). */
export interface NexthopFields {
  /** Next hop address of the route's family. */
  gateway?: string;
  /** Next hop of another family. */
  via?: RouteVia;
  /** Output interface index (0: none). */
  outputIndex?: number;
  /** Weight 1-256 (default 1). */
  weight?: number;
  /** `RTNH_F_*` flags. */
  flags?: number;
  /** Realms. */
  flow?: number;
  /** Raw attributes to write back. */
  unknown?: RawAttribute[];
}

function attribute(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(align(SIZE.NLATTR + payload.length));
  const view = new DataView(out.buffer);
  view.setUint16(0, SIZE.NLATTR + payload.length, true);
  view.setUint16(2, type, true);
  out.set(payload, SIZE.NLATTR);
  return out;
}

function u32Bytes(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0, true);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The RTA_MULTIPATH payload for `hops`: one `rtnexthop` and its attributes each. */
export function nexthopsPayload(hops: readonly NexthopFields[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const hop of hops) {
    const attrs: Uint8Array[] = [];
    if (hop.gateway !== undefined) {
      attrs.push(attribute(RTA.GATEWAY, parseIP(hop.gateway).bytes));
    }
    if (hop.via !== undefined) {
      attrs.push(attribute(RTA.VIA, viaBytes(hop.via)));
    }
    if (hop.flow !== undefined) {
      attrs.push(attribute(RTA.FLOW, u32Bytes(hop.flow)));
    }
    for (const raw of hop.unknown ?? []) {
      attrs.push(attribute(raw.type, raw.data));
    }
    const body = concat(attrs);
    const head = new Uint8Array(RTNEXTHOP_SIZE);
    const view = new DataView(head.buffer);
    view.setUint16(0, RTNEXTHOP_SIZE + body.length, true);
    view.setUint8(2, hop.flags ?? 0);
    view.setUint8(3, (hop.weight ?? 1) - 1);
    view.setUint32(4, hop.outputIndex ?? 0, true);
    parts.push(head, body);
  }
  return concat(parts);
}

const encoder = new TextEncoder();

/** The RTA_METRICS payload for `metrics` (`RTAX_*` attributes, in `RTAX` order). */
export function metricsPayload(metrics: RouteMetrics): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let type = 1; type < METRIC_KEYS.length; type++) {
    const key = METRIC_KEYS[type]!;
    const value = metrics[key];
    if (value === undefined) continue;
    parts.push(
      typeof value === "string"
        ? attribute(type, encoder.encode(value + "\0"))
        : attribute(type, u32Bytes(value as number)),
    );
  }
  for (const raw of metrics.unknown ?? []) {
    parts.push(attribute(raw.type, raw.data));
  }
  return concat(parts);
}

/**
 * An RTM_NEWROUTE (or `type`) message saying everything `route` says: the
 * inverse of {@linkcode decodeRoute} (`decodeRoute` of its body gives back an
 * equal route). `rtm_table` carries tables up to 255; RTA_TABLE always
 * carries the table.
 */
export function encodeRoute(
  route: Route,
  type: number = RTM.NEWROUTE,
  flags: number = NLM_F.REQUEST,
): MessageWriter {
  const writer = new MessageWriter(type, flags);
  writer.struct(SIZE.RTMSG, (view, at) => {
    view.setUint8(at, route.family);
    view.setUint8(at + 1, route.destinationLength);
    view.setUint8(at + 2, route.sourceLength);
    view.setUint8(at + 3, route.tos);
    // RT_TABLE_COMPAT (252) stands in for a table beyond 255, as the kernel writes it.
    view.setUint8(at + 4, route.table > 255 ? 252 : route.table);
    view.setUint8(at + 5, route.protocol);
    view.setUint8(at + 6, route.scope);
    view.setUint8(at + 7, route.type);
    view.setUint32(at + 8, route.flags >>> 0, true);
  });
  writer.u32(RTA.TABLE, route.table);
  if (route.destination !== undefined) {
    writer.bytes(RTA.DST, parseIP(route.destination).bytes);
  }
  if (route.source !== undefined) {
    writer.bytes(RTA.SRC, parseIP(route.source).bytes);
  }
  if (route.inputIndex !== undefined) writer.u32(RTA.IIF, route.inputIndex);
  if (route.outputIndex !== undefined) writer.u32(RTA.OIF, route.outputIndex);
  if (route.gateway !== undefined) {
    writer.bytes(RTA.GATEWAY, parseIP(route.gateway).bytes);
  }
  if (route.priority !== undefined) writer.u32(RTA.PRIORITY, route.priority);
  if (route.preferredSource !== undefined) {
    writer.bytes(RTA.PREFSRC, parseIP(route.preferredSource).bytes);
  }
  if (route.metrics !== undefined) {
    writer.bytes(RTA.METRICS, metricsPayload(route.metrics));
  }
  if (route.nexthops !== undefined) {
    writer.bytes(RTA.MULTIPATH, nexthopsPayload(route.nexthops));
  }
  if (route.flow !== undefined) writer.u32(RTA.FLOW, route.flow);
  if (route.cacheInfo !== undefined) {
    const c = route.cacheInfo;
    const payload = new Uint8Array(CACHEINFO_SIZE);
    const view = new DataView(payload.buffer);
    [
      c.clientReferences,
      c.lastUse,
      c.expires,
      c.error,
      c.used,
      c.id,
      c.ts,
      c.tsAge,
    ]
      .forEach((value, i) => view.setUint32(i * 4, value >>> 0, true));
    writer.bytes(RTA.CACHEINFO, payload);
  }
  if (route.mark !== undefined) writer.u32(RTA.MARK, route.mark);
  if (route.via !== undefined) writer.bytes(RTA.VIA, viaBytes(route.via));
  if (route.preference !== undefined) writer.u8(RTA.PREF, route.preference);
  if (route.nexthopId !== undefined) writer.u32(RTA.NH_ID, route.nexthopId);
  for (const raw of route.unknown ?? []) writer.bytes(raw.type, raw.data);
  return writer;
}

/** Whether `route` is a default route (no destination). */
export function isDefaultRoute(route: Route): boolean {
  return route.destinationLength === 0 && route.destination === undefined;
}

// The value names moved to names.ts with the rest of iproute2's names; kept importable from here.
export { routeProtocolName, routeTypeName, tableName } from "./names.ts";
