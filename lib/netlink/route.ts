/**
 * Routes over rtnetlink, as `ip route` does them: list (optionally one
 * family or one table), add, replace and delete, the default route included.
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import { MessageWriter } from "./codec.ts";
import {
  AF,
  NLM_F,
  RT_SCOPE,
  RT_TABLE,
  RTA,
  RTM,
  RTN,
  RTPROT,
  SIZE,
} from "./constants.ts";
import { type IPBytes, parseIP, parsePrefix } from "./ip_address.ts";
import { type IndexResolver, linkIndex, type LinkRef } from "./link.ts";
import {
  decodeRoute,
  metricsPayload,
  type NexthopFields,
  nexthopsPayload,
  type Route,
  type RouteMetrics,
} from "./route_message.ts";
import type { NetlinkSocket } from "./socket.ts";

/** Filters for {@linkcode listRoutes} (applied by the kernel). */
export interface ListRoutesOptions {
  /** Only this family (`AF.INET` or `AF.INET6`). */
  family?: number;
  /** Only this table (e.g. `RT_TABLE.MAIN`); all tables when omitted. */
  table?: number;
}

function writeRtmsg(
  writer: MessageWriter,
  fields: {
    family: number;
    dstLength?: number;
    srcLength?: number;
    table?: number;
    protocol?: number;
    scope?: number;
    type?: number;
    flags?: number;
  },
): MessageWriter {
  return writer.struct(SIZE.RTMSG, (view, at) => {
    view.setUint8(at, fields.family);
    view.setUint8(at + 1, fields.dstLength ?? 0);
    view.setUint8(at + 2, fields.srcLength ?? 0);
    view.setUint8(
      at + 4,
      fields.table === undefined || fields.table > 255 ? 0 : fields.table,
    );
    view.setUint8(at + 5, fields.protocol ?? 0);
    view.setUint8(at + 6, fields.scope ?? 0);
    view.setUint8(at + 7, fields.type ?? 0);
    view.setUint32(at + 8, fields.flags ?? 0, true);
  });
}

/** The routes in the socket's namespace. */
export function listRoutes(
  sock: NetlinkSocket,
  options: ListRoutesOptions = {},
): Route[] {
  const writer = writeRtmsg(
    new MessageWriter(RTM.GETROUTE, NLM_F.REQUEST | NLM_F.DUMP),
    {
      family: options.family ?? AF.UNSPEC,
    },
  );
  if (options.table !== undefined) writer.u32(RTA.TABLE, options.table);
  return sock.dump(writer, "list routes", decodeRoute);
}

/** The default routes of the main table (IPv4 and IPv6). */
export function defaultRoutes(sock: NetlinkSocket): Route[] {
  return listRoutes(sock, { table: RT_TABLE.MAIN }).filter((r) =>
    r.destinationLength === 0 && r.destination === undefined
  );
}

/** What a route to add or delete says. */
export interface RouteSpec {
  /** `default`, or a prefix such as `10.1.0.0/16` (a bare address is a host route). */
  destination: string;
  /** Next hop. */
  gateway?: string;
  /** Output link. */
  device?: LinkRef;
  /** Table (default main). */
  table?: number;
  /** Metric. */
  priority?: number;
  /** Preferred source address. */
  source?: string;
  /** Source prefix the route is for (RTA_SRC; IPv6 source-specific routing, `ip route ... from`). */
  sourcePrefix?: string;
  /** Protocol (default static for an add, any for a delete). */
  protocol?: number;
  /** Scope (default: link for a unicast route without gateway, else universe). */
  scope?: number;
  /** Route type (default unicast). */
  type?: number;
  /** Family of a `default` destination without gateway (default IPv4). */
  family?: number;
  /**
   * A next hop of the other family (RTA_VIA), e.g. an IPv6 router for an
   * IPv4 route (`ip route add 10.0.0.0/8 via inet6 fe80::1 dev eth0`).
   */
  via?: string;
  /** The next hops of a multipath route (RTA_MULTIPATH), instead of `gateway`/`device`. */
  nexthops?: NexthopSpec[];
  /** Metrics (RTA_METRICS), in the kernel's units (see {@linkcode RouteMetrics}). */
  metrics?: RouteMetrics;
  /** `RTNH_F_*` route flags (`RTNH_F.ONLINK` for `onlink`). */
  flags?: number;
  /** IPv6 router preference (RTA_PREF: 0 medium, 1 high, 3 low). */
  preference?: number;
  /** IPv6: seconds until the route expires (RTA_EXPIRES). */
  expires?: number;
}

/** One next hop of a multipath {@linkcode RouteSpec}. */
export interface NexthopSpec {
  /** Next hop address; one of the other family is written as RTA_VIA. */
  gateway?: string;
  /** Output link. */
  device?: LinkRef;
  /** Weight, 1 to 256 (default 1). */
  weight?: number;
  /** `RTNH_F_*` flags (`RTNH_F.ONLINK` for `onlink`). */
  flags?: number;
}

/** The RTM_NEWROUTE or RTM_DELROUTE request for `spec`; `indexOf` resolves the device. */
export function routeRequest(
  type: number,
  flags: number,
  spec: RouteSpec,
  indexOf: IndexResolver,
): MessageWriter {
  const gateway: IPBytes | undefined = spec.gateway === undefined
    ? undefined
    : parseIP(spec.gateway);
  const isDefault = spec.destination === "default";
  const destination = isDefault ? undefined : parsePrefix(spec.destination);
  const firstHop = spec.nexthops?.[0]?.gateway;
  const family = destination?.family ?? gateway?.family ??
    (firstHop === undefined ? undefined : parseIP(firstHop).family) ??
    spec.family ?? AF.INET;
  if (gateway !== undefined && gateway.family !== family) {
    throw new InvalidArgumentError(
      `gateway ${spec.gateway} is not of the same family as ${spec.destination}`,
      { hint: "a router of the other family is given as `via`" },
    );
  }
  const via = spec.via === undefined ? undefined : parseIP(spec.via);
  const sourcePrefix = spec.sourcePrefix === undefined
    ? undefined
    : parsePrefix(spec.sourcePrefix);
  for (const weight of (spec.nexthops ?? []).map((h) => h.weight ?? 1)) {
    if (!Number.isInteger(weight) || weight < 1 || weight > 256) {
      throw new InvalidArgumentError(`nexthop weight ${weight} is not 1-256`);
    }
  }
  const table = spec.table ?? RT_TABLE.MAIN;
  const adding = type === RTM.NEWROUTE;
  const routeType = spec.type ?? (adding ? RTN.UNICAST : RTN.UNSPEC);
  const hasNexthop = gateway !== undefined || via !== undefined ||
    (spec.nexthops?.length ?? 0) > 0;
  const scope = spec.scope ?? defaultScope(adding, routeType, hasNexthop);
  const writer = writeRtmsg(new MessageWriter(type, flags), {
    family,
    dstLength: destination?.prefixLength ?? 0,
    srcLength: sourcePrefix?.prefixLength ?? 0,
    table,
    protocol: spec.protocol ?? (adding ? RTPROT.STATIC : RTPROT.UNSPEC),
    scope,
    type: routeType,
    flags: spec.flags,
  });
  writer.u32(RTA.TABLE, table);
  if (destination !== undefined) writer.bytes(RTA.DST, destination.bytes);
  if (sourcePrefix !== undefined) writer.bytes(RTA.SRC, sourcePrefix.bytes);
  if (gateway !== undefined) writer.bytes(RTA.GATEWAY, gateway.bytes);
  if (via !== undefined) {
    const payload = new Uint8Array(2 + via.bytes.length);
    new DataView(payload.buffer).setUint16(0, via.family, true);
    payload.set(via.bytes, 2);
    writer.bytes(RTA.VIA, payload);
  }
  if (spec.device !== undefined) {
    writer.u32(RTA.OIF, indexOf(spec.device));
  }
  if (spec.priority !== undefined) writer.u32(RTA.PRIORITY, spec.priority);
  if (spec.source !== undefined) {
    writer.bytes(RTA.PREFSRC, parseIP(spec.source).bytes);
  }
  if (spec.metrics !== undefined) {
    writer.bytes(RTA.METRICS, metricsPayload(spec.metrics));
  }
  if (spec.nexthops !== undefined && spec.nexthops.length > 0) {
    writer.bytes(
      RTA.MULTIPATH,
      nexthopsPayload(spec.nexthops.map((hop): NexthopFields => {
        const address = hop.gateway === undefined
          ? undefined
          : parseIP(hop.gateway);
        const sameFamily = address === undefined || address.family === family;
        return {
          gateway: sameFamily ? hop.gateway : undefined,
          via: sameFamily
            ? undefined
            : { family: address.family, address: hop.gateway! },
          outputIndex: hop.device === undefined ? 0 : indexOf(hop.device),
          weight: hop.weight,
          flags: hop.flags,
        };
      })),
    );
  }
  if (spec.preference !== undefined) writer.u8(RTA.PREF, spec.preference);
  if (spec.expires !== undefined) writer.u32(RTA.EXPIRES, spec.expires);
  return writer;
}

// The scope `ip route` picks when none is given.
function defaultScope(
  adding: boolean,
  routeType: number,
  hasNexthop: boolean,
): number {
  if (routeType === RTN.LOCAL || routeType === RTN.NAT) return RT_SCOPE.HOST;
  if (
    routeType === RTN.BROADCAST || routeType === RTN.MULTICAST ||
    routeType === RTN.ANYCAST
  ) return RT_SCOPE.LINK;
  if (!adding) return RT_SCOPE.NOWHERE;
  return routeType === RTN.UNICAST && !hasNexthop
    ? RT_SCOPE.LINK
    : RT_SCOPE.UNIVERSE;
}

function describe(verb: string, spec: RouteSpec): string {
  const via = spec.gateway === undefined ? "" : ` via ${spec.gateway}`;
  const dev = spec.device === undefined ? "" : ` dev ${spec.device}`;
  return `${verb} route ${spec.destination}${via}${dev}`;
}

/** Adds a route; fails with EEXIST if an equal one exists. */
export function addRoute(sock: NetlinkSocket, spec: RouteSpec): void {
  const flags = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL;
  sock.execute(
    routeRequest(RTM.NEWROUTE, flags, spec, (link) => linkIndex(sock, link)),
    describe("add", spec),
  );
}

/** Adds a route, or replaces the one with the same destination, table and metric. */
export function replaceRoute(sock: NetlinkSocket, spec: RouteSpec): void {
  const flags = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE;
  sock.execute(
    routeRequest(RTM.NEWROUTE, flags, spec, (link) => linkIndex(sock, link)),
    describe("replace", spec),
  );
}

/** Deletes the route matching `spec` (fields left out match anything). */
export function deleteRoute(sock: NetlinkSocket, spec: RouteSpec): void {
  sock.execute(
    routeRequest(
      RTM.DELROUTE,
      NLM_F.REQUEST | NLM_F.ACK,
      spec,
      (link) => linkIndex(sock, link),
    ),
    describe("delete", spec),
  );
}
