/**
 * Network I/O of a namespace: received and sent bytes summed over its
 * interfaces, plus every 64-bit counter per interface.
 *
 * @module
 */

import type { NetNS } from "./netns/netns.ts";
import { IFF } from "./netlink/constants.ts";
import { getLink, listLinks } from "./netlink/link.ts";
import type { Link, LinkStats } from "./netlink/link_message.ts";
import { NetlinkSocket } from "./netlink/socket.ts";

/** Summed bytes and the full counters of each interface. */
export interface NetIO {
  /** Bytes received, summed over the interfaces. */
  rxBytes: number;
  /** Bytes sent, summed over the interfaces. */
  txBytes: number;
  /** Every stats64 counter, by interface name. */
  interfaces: Record<string, LinkStats>;
}

/**
 * The network I/O of namespace `ns`, summed as Podman's NetIO, and per
 * interface. With `interfaces`, those links (each asked for by name, no
 * dump); without, every link but loopback. No namespace means no statistics
 * (undefined), not an error. Needs `--allow-ffi`.
 *
 * @example Bytes in and out of a namespace
 * ```ts
 * import { getNS, netIO } from "@nsnet/nsnet";
 *
 * using ns = getNS("/run/netns/blue");
 * const io = netIO(ns);
 * console.log(io?.rxBytes, io?.txBytes, Object.keys(io?.interfaces ?? {}));
 * ```
 */
export function netIO(
  ns: NetNS | undefined,
  interfaces?: readonly string[],
): NetIO | undefined {
  if (ns === undefined) return undefined;
  using sock = NetlinkSocket.open(ns);
  return readNetIO(sock, interfaces);
}

/** {@linkcode netIO} on an open socket, for callers that poll (`stats --watch`). */
export function readNetIO(
  sock: NetlinkSocket,
  interfaces?: readonly string[],
): NetIO {
  const links: Link[] = interfaces === undefined
    ? listLinks(sock).filter((link) => (link.flags & IFF.LOOPBACK) === 0)
    : interfaces.map((name) => getLink(sock, name));
  const result: NetIO = { rxBytes: 0, txBytes: 0, interfaces: {} };
  for (const link of links) {
    if (link.stats === undefined) continue;
    result.rxBytes += link.stats.rxBytes;
    result.txBytes += link.stats.txBytes;
    result.interfaces[link.name] = link.stats;
  }
  return result;
}
