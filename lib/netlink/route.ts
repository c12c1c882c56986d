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
import { decodeRoute, type Route } from "./route_message.ts";
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
    table?: number;
    protocol?: number;
    scope?: number;
    type?: number;
  },
): MessageWriter {
  return writer.struct(SIZE.RTMSG, (view, at) => {
    view.setUint8(at, fields.family);
    view.setUint8(at + 1, fields.dstLength ?? 0);
    view.setUint8(
      at + 4,
      fields.table === undefined || fields.table > 255 ? 0 : fields.table,
    );
    view.setUint8(at + 5, fields.protocol ?? 0);
    view.setUint8(at + 6, fields.scope ?? 0);
    view.setUint8(at + 7, fields.type ?? 0);
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
  /** Protocol (default static for an add, any for a delete). */
  protocol?: number;
  /** Scope (default: link for a unicast route without gateway, else universe). */
  scope?: number;
  /** Route type (default unicast). */
  type?: number;
  /** Family of a `default` destination without gateway (default IPv4). */
  family?: number;
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
  const family = destination?.family ?? gateway?.family ?? spec.family ??
    AF.INET;
  if (gateway !== undefined && gateway.family !== family) {
    throw new InvalidArgumentError(
      `gateway ${spec.gateway} is not of the same family as ${spec.destination}`,
    );
  }
  const table = spec.table ?? RT_TABLE.MAIN;
  const adding = type === RTM.NEWROUTE;
  const routeType = spec.type ?? (adding ? RTN.UNICAST : RTN.UNSPEC);
  const scope = spec.scope ??
    (adding
      ? (gateway === undefined && routeType === RTN.UNICAST
        ? RT_SCOPE.LINK
        : RT_SCOPE.UNIVERSE)
      : RT_SCOPE.NOWHERE);
  const writer = writeRtmsg(new MessageWriter(type, flags), {
    family,
    dstLength: destination?.prefixLength ?? 0,
    table,
    protocol: spec.protocol ?? (adding ? RTPROT.STATIC : RTPROT.UNSPEC),
    scope,
    type: routeType,
  });
  writer.u32(RTA.TABLE, table);
  if (destination !== undefined) writer.bytes(RTA.DST, destination.bytes);
  if (gateway !== undefined) writer.bytes(RTA.GATEWAY, gateway.bytes);
  if (spec.device !== undefined) {
    writer.u32(RTA.OIF, indexOf(spec.device));
  }
  if (spec.priority !== undefined) writer.u32(RTA.PRIORITY, spec.priority);
  if (spec.source !== undefined) {
    writer.bytes(RTA.PREFSRC, parseIP(spec.source).bytes);
  }
  return writer;
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
