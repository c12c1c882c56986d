/**
 * Route messages (`rtmsg` + RTA attributes) and the decoded {@linkcode Route}.
 * Pure: no FFI and no Deno APIs.
 *
 * @module
 */

import { align, attrU32, attrU8 } from "./codec.ts";
import { NLA_TYPE_MASK, RTA, SIZE } from "./constants.ts";
import { NetlinkDecodeError } from "./errors.ts";
import { formatIP } from "./ip_address.ts";

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
  /** Who installed it (2 kernel, 3 boot, 4 static...). */
  protocol: number;
  /** Scope: 0 universe, 253 link, 254 host. */
  scope: number;
  /** Route type: 1 unicast, 2 local, 3 broadcast... */
  type: number;
  /** Priority (metric), if set. */
  priority: number | undefined;
  /** Preferred source address, if set. */
  preferredSource: string | undefined;
  /** `RTNH_F_*` / `RTM_F_*` flags. */
  flags: number;
  /** IPv6 router preference (RTA_PREF), if set. */
  preference: number | undefined;
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
    switch (view.getUint16(p + 2, true) & NLA_TYPE_MASK) {
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
    }
    p += align(size);
  }
  return route;
}

/** Whether `route` is a default route (no destination). */
export function isDefaultRoute(route: Route): boolean {
  return route.destinationLength === 0 && route.destination === undefined;
}

// The value names moved to names.ts with the rest of iproute2's names; kept importable from here.
export { routeProtocolName, routeTypeName, tableName } from "./names.ts";
