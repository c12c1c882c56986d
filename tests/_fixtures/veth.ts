/**
 * A veth pair from the host into a test namespace, for tests that reach a
 * sandbox address from the host (nftables DNAT).
 *
 * @module
 */

import type { NetNS } from "../../lib/netns/netns.ts";
import {
  addAddress,
  createLink,
  deleteLink,
  NetlinkSocket,
  setLink,
} from "../../lib/netlink/mod.ts";
import { enableRouteLocalnet } from "../../lib/ports/nftables_dnat.ts";

/** The two ends of a wired namespace. */
export interface Wire {
  /** The host end's address. */
  host: string;
  /** The namespace end's address (on its `eth0`). */
  sandbox: string;
  /** The host end's name. */
  iface: string;
}

/**
 * A veth from the host into `ns` (`eth0` inside, `lo` up), on a /30 of
 * 10.234.x.y chosen from the pid and `index` so that concurrent test
 * processes do not clash; route_localnet on the host end so that DNAT from
 * 127.0.0.1 works. Needs root.
 */
export function wire(ns: NetNS, index: number): Wire {
  const base = 4 * ((Deno.pid * 7 + index * 13) % 16000);
  const prefix = `10.234.${Math.floor(base / 256)}.`;
  const [host, sandbox] = [
    `${prefix}${(base % 256) + 1}`,
    `${prefix}${(base % 256) + 2}`,
  ];
  const iface = `nsp${Deno.pid % 100000}x${index}`;
  const sock = NetlinkSocket.open();
  try {
    createLink(sock, {
      kind: "veth",
      name: iface,
      peer: { name: "eth0", netns: ns },
    });
    addAddress(sock, iface, `${host}/30`);
    setLink(sock, iface, { up: true });
  } finally {
    sock.close();
  }
  const inner = NetlinkSocket.open(ns);
  try {
    addAddress(inner, "eth0", `${sandbox}/30`);
    setLink(inner, "eth0", { up: true });
    setLink(inner, "lo", { up: true });
  } finally {
    inner.close();
  }
  enableRouteLocalnet(iface);
  return { host, sandbox, iface };
}

/** Deletes the host end of a wire (a no-op once its namespace took it away). */
export function unwire(iface: string): void {
  const sock = NetlinkSocket.open();
  try {
    deleteLink(sock, iface);
  } catch {
    // gone with the namespace already
  } finally {
    sock.close();
  }
}

/** `lo` up inside `ns`: enough for a server on 127.0.0.1 there. */
export function loopbackUp(ns: NetNS): void {
  const sock = NetlinkSocket.open(ns);
  try {
    setLink(sock, "lo", { up: true });
  } finally {
    sock.close();
  }
}
