/**
 * The names iproute2 gives rtnetlink values, and their reverse parse: route
 * protocols, scopes, tables, route types, route and nexthop flags. The tables
 * are the ones iproute2 ships in `/etc/iproute2/rt_*` and its source; a value
 * without a name prints as its number, as `ip` prints it, and a number parses
 * as itself. Pure: no FFI and no Deno APIs (the files are not read, so names
 * a host adds locally are not known).
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";

// scopeName lives with the address decoder (N2's module); it is re-exported here so
// every value name can be found in one place.
export { scopeName } from "./address_message.ts";

function lookup(names: ReadonlyMap<number, string>, value: number): string {
  return names.get(value) ?? String(value);
}

function reverse(
  names: ReadonlyMap<number, string>,
  what: string,
  text: string,
  max: number,
): number {
  for (const [value, name] of names) if (name === text) return value;
  // iproute2 accepts decimal and 0x-hex numbers for all of these.
  if (/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(text)) {
    const value = Number(text);
    if (value <= max) return value;
  }
  throw new InvalidArgumentError(`"${text}" is not a ${what}`);
}

const PROTOCOLS: ReadonlyMap<number, string> = new Map([
  [0, "unspec"],
  [1, "redirect"],
  [2, "kernel"],
  [3, "boot"],
  [4, "static"],
  [8, "gated"],
  [9, "ra"],
  [10, "mrt"],
  [11, "zebra"],
  [12, "bird"],
  [13, "dnrouted"],
  [14, "xorp"],
  [15, "ntk"],
  [16, "dhcp"],
  [18, "keepalived"],
  [42, "babel"],
  [99, "openr"],
  [186, "bgp"],
  [187, "isis"],
  [188, "ospf"],
  [189, "rip"],
  [192, "eigrp"],
]);

/** The name `ip route` gives a route protocol (`kernel`, `static`, ..., else the number). */
export function routeProtocolName(protocol: number): string {
  return lookup(PROTOCOLS, protocol);
}

/** The protocol number for `ip route`'s `proto` word (a name or a number 0-255). */
export function parseRouteProtocol(text: string): number {
  return reverse(PROTOCOLS, "route protocol", text, 255);
}

const SCOPES: ReadonlyMap<number, string> = new Map([
  [0, "global"],
  [200, "site"],
  [253, "link"],
  [254, "host"],
  [255, "nowhere"],
]);

/** The scope number for `ip`'s `scope` word (`global`, `link`, `host`, ..., or 0-255). */
export function parseScope(text: string): number {
  // iproute2 also takes "universe" for 0.
  if (text === "universe") return 0;
  return reverse(SCOPES, "scope", text, 255);
}

const TABLES: ReadonlyMap<number, string> = new Map([
  [0, "unspec"],
  [253, "default"],
  [254, "main"],
  [255, "local"],
]);

/** The name `ip route` gives a table (`main`, `local`, `default`, `unspec`, or the number). */
export function tableName(table: number): string {
  return lookup(TABLES, table);
}

/** The table id for `ip route`'s `table` word (a name or a number up to 2^32-1). */
export function parseTable(text: string): number {
  return reverse(TABLES, "routing table", text, 0xffffffff);
}

const ROUTE_TYPES: ReadonlyMap<number, string> = new Map([
  [0, "none"],
  [1, "unicast"],
  [2, "local"],
  [3, "broadcast"],
  [4, "anycast"],
  [5, "multicast"],
  [6, "blackhole"],
  [7, "unreachable"],
  [8, "prohibit"],
  [9, "throw"],
  [10, "nat"],
  [11, "xresolve"],
]);

/** The name `ip route` gives a route type (`unicast`, `blackhole`, ..., else the number). */
export function routeTypeName(type: number): string {
  return lookup(ROUTE_TYPES, type);
}

/** The route type for one of `ip route`'s type words (`unicast`, `blackhole`, ...). */
export function parseRouteType(text: string): number {
  return reverse(ROUTE_TYPES, "route type", text, 255);
}

/** Whether `word` names a route type (so `ip route add blackhole 10.0.0.0/8` can be told apart). */
export function isRouteTypeName(word: string): boolean {
  for (const name of ROUTE_TYPES.values()) if (name === word) return true;
  return false;
}

/** `RTNH_F_*`: flags of a route's (or one nexthop's) next hop, as `ip` names them. */
const NEXTHOP_FLAGS: readonly (readonly [number, string])[] = [
  [0x1, "dead"],
  [0x2, "pervasive"],
  [0x4, "onlink"],
  [0x8, "offload"],
  [0x10, "linkdown"],
  [0x20, "unresolved"],
  [0x40, "trap"],
];

/** `RTM_F_*`: flags of the route itself, as `ip` names them in its `flags` list. */
const ROUTE_ONLY_FLAGS: readonly (readonly [number, string])[] = [
  [0x100, "notify"],
  [0x4000, "rt_offload"],
  [0x8000, "rt_trap"],
  [0x20000000, "rt_offload_failed"],
];

const ROUTE_FLAGS = [...NEXTHOP_FLAGS, ...ROUTE_ONLY_FLAGS];

function flagNames(
  table: readonly (readonly [number, string])[],
  flags: number,
): string[] {
  const names: string[] = [];
  for (const [bit, name] of table) if ((flags & bit) !== 0) names.push(name);
  return names;
}

/**
 * The names in `ip -j route`'s `flags` list for `rtm_flags`, in ip's order.
 * Bits ip does not print (RTM_F_CLONED and other request flags) are left out.
 */
export function routeFlagNames(flags: number): string[] {
  return flagNames(ROUTE_FLAGS, flags);
}

/** The names of a nexthop's `rtnh_flags` (`onlink`, `dead`, `linkdown`, ...), in ip's order. */
export function nexthopFlagNames(flags: number): string[] {
  return flagNames(NEXTHOP_FLAGS, flags);
}

/** The `RTNH_F_*` bit for one of `ip route`'s nexthop flag words (`onlink`, `pervasive`, ...). */
export function parseNexthopFlag(text: string): number {
  for (const [bit, name] of NEXTHOP_FLAGS) if (name === text) return bit;
  throw new InvalidArgumentError(`"${text}" is not a nexthop flag`);
}

const PREFERENCES: ReadonlyMap<number, string> = new Map([
  [0, "medium"],
  [1, "high"],
  [3, "low"],
]);

/** The name `ip -6 route` gives a router preference (RTA_PREF): `low`, `medium`, `high`, else the number. */
export function routePreferenceName(preference: number): string {
  return lookup(PREFERENCES, preference);
}

/** The RTA_PREF value for `ip route`'s `pref` word (`low`, `medium`, `high`, or 0-255). */
export function parseRoutePreference(text: string): number {
  return reverse(PREFERENCES, "route preference", text, 255);
}
