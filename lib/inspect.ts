/**
 * Inspecting a network namespace the way Podman does for a joined one,
 * returning Podman's StatusBlock shape field for field.
 *
 * @module
 */

import type { NetNS } from "./netns/netns.ts";
import { listAddresses } from "./netlink/address.ts";
import { IFF } from "./netlink/constants.ts";
import {
  type IPBytes,
  isLinkLocal,
  parseIP,
  prefixContains,
} from "./netlink/ip_address.ts";
import { listLinks } from "./netlink/link.ts";
import { defaultRoutes } from "./netlink/route.ts";
import { NetlinkSocket } from "./netlink/socket.ts";

/** One address of an interface, with the default gateway when its subnet holds it. */
export interface NetAddress {
  /** The address with its prefix length, e.g. `10.88.0.2/16`. */
  ipnet: string;
  /** The default gateway, when it lies inside this subnet. */
  gateway?: string;
}

/** One interface of a StatusBlock. */
export interface NetInterface {
  /** Its addresses other than link-local ones; absent when none is left (Go's omitempty). */
  subnets?: NetAddress[];
  /** Its MAC address (`""` when it has none). */
  "mac_address": string;
}

/** Podman's `types.StatusBlock`, as `podman inspect` and netavark write it. */
export interface StatusBlock {
  /** Interfaces by name; absent when there is none (Go's omitempty). */
  interfaces?: Record<string, NetInterface>;
}

/**
 * Inspects namespace `ns` as Podman's StatusBlock, field for field: every
 * interface but loopback and those without addresses; for each, its
 * addresses minus link-local ones, each with the first default gateway
 * (route without destination in the main table) that its subnet contains,
 * and its MAC address. Needs `--allow-ffi` (netlink inside `ns`).
 *
 * @example A container's network, by its pid
 * ```ts
 * import { inspectNetNS, processNS } from "@nsnet/nsnet";
 *
 * using ns = processNS(1234); // podman inspect --format '{{.State.Pid}}' NAME
 * console.log(JSON.stringify(inspectNetNS(ns), null, 2));
 * ```
 */
export function inspectNetNS(ns: NetNS): StatusBlock {
  using sock = NetlinkSocket.open(ns);
  const links = listLinks(sock, { stats: false });
  const addresses = listAddresses(sock);
  const gateways: { text: string; ip: IPBytes }[] = defaultRoutes(sock)
    .flatMap((route) =>
      route.gateway === undefined
        ? []
        : [{ text: route.gateway, ip: parseIP(route.gateway) }]
    );
  const interfaces: Record<string, NetInterface> = {};
  for (const link of links) {
    if ((link.flags & IFF.LOOPBACK) !== 0) continue;
    const own = addresses.filter((a) => a.index === link.index);
    if (own.length === 0) continue;
    const subnets: NetAddress[] = [];
    for (const address of own) {
      const ip = parseIP(address.address);
      if (isLinkLocal(ip)) continue;
      const prefix = { ...ip, prefixLength: address.prefixLength };
      const subnet: NetAddress = {
        ipnet: `${address.address}/${address.prefixLength}`,
      };
      const gateway = gateways.find((g) => prefixContains(prefix, g.ip));
      if (gateway !== undefined) subnet.gateway = gateway.text;
      subnets.push(subnet);
    }
    const entry: NetInterface = subnets.length > 0
      ? { subnets, "mac_address": link.mac ?? "" }
      : { "mac_address": link.mac ?? "" };
    interfaces[link.name] = entry;
  }
  const names = Object.keys(interfaces).sort();
  if (names.length === 0) return {};
  // Go marshals map keys sorted; do the same so the JSON matches byte for byte.
  return {
    interfaces: Object.fromEntries(names.map((n) => [n, interfaces[n]!])),
  };
}
