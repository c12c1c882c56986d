/**
 * The plugin's links, over nsnet's rtnetlink: the bridge (made when
 * missing, holding the gateways when `isGateway`), a veth pair per
 * attachment with its inner end made straight in the container's namespace
 * under CNI_IFNAME, addresses (IPv6 without DAD, usable at once), routes,
 * hairpin mode, forwarding; and their removal, which tolerates whatever is
 * already gone.
 *
 * @module
 */

import { sha256Hex } from "../../sha256.ts";
import { addAddress, listAddresses } from "../../netlink/address.ts";
import { AF } from "../../netlink/constants.ts";
import { LinkNotFoundError } from "../../netlink/errors.ts";
import { formatMac } from "../../netlink/ip_address.ts";
import {
  createLink,
  deleteLink,
  getLink,
  type LinkRef,
  setLink,
} from "../../netlink/link.ts";
import type { Link } from "../../netlink/link_message.ts";
import { addRoute, listRoutes } from "../../netlink/route.ts";
import { NetlinkSocket } from "../../netlink/socket.ts";
import type { NetNS } from "../../netns/netns.ts";
import { CNI_ERROR, CniError } from "./errors.ts";

/** A short hash naming an attachment's host-side devices. */
function attachmentHash(
  network: string,
  containerId: string,
  ifname: string,
): string {
  return sha256Hex(`${network}\0${containerId}\0${ifname}`).slice(0, 12);
}

/** The host end of an attachment's veth pair: `nsc` and 12 hex digits. */
export function hostVethName(
  network: string,
  containerId: string,
  ifname: string,
): string {
  return `nsc${attachmentHash(network, containerId, ifname)}`;
}

/** The ifb device of an attachment's egress shaping: `nsb` and 12 hex digits. */
export function ifbName(
  network: string,
  containerId: string,
  ifname: string,
): string {
  return `nsb${attachmentHash(network, containerId, ifname)}`;
}

/** A locally administered unicast MAC, at random. */
export function randomMac(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return formatMac(bytes, 0, 6);
}

/** The link `name`, or undefined when there is none. */
export function findLink(sock: NetlinkSocket, name: LinkRef): Link | undefined {
  try {
    return getLink(sock, name, { stats: false });
  } catch (error) {
    if (error instanceof LinkNotFoundError) return undefined;
    throw error;
  }
}

/** Deletes a link if it is there; whether it was. */
export function deleteIfPresent(sock: NetlinkSocket, name: LinkRef): boolean {
  try {
    deleteLink(sock, name);
    return true;
  } catch (error) {
    if (error instanceof LinkNotFoundError) return false;
    throw error;
  }
}

/**
 * Makes sure `name` is an up bridge holding `gateways` (`ADDRESS/PREFIX`);
 * returns it and whether it was made here.
 */
export function ensureBridge(
  sock: NetlinkSocket,
  name: string,
  gateways: readonly string[],
  mtu: number | undefined,
): { link: Link; created: boolean } {
  let link = findLink(sock, name);
  let created = false;
  if (link !== undefined && link.kind !== "bridge") {
    throw new CniError(
      CNI_ERROR.INVALID_NETWORK_CONFIG,
      `${name} exists but is a ${link.kind ?? "plain"} link, not a bridge`,
      "remove it, or give the network another bridge name",
    );
  }
  if (link === undefined) {
    try {
      createLink(sock, { kind: "bridge", name, up: true, mtu });
      created = true;
    } catch (error) {
      // Another plugin process made it first.
      if ((error as { code?: string }).code !== "EEXIST") throw error;
    }
    link = getLink(sock, name, { stats: false });
  }
  if (gateways.length > 0) {
    const have = new Set(
      listAddresses(sock, { link: link.index }).map((a) =>
        `${a.address}/${a.prefixLength}`
      ),
    );
    for (const gateway of gateways) {
      if (have.has(gateway)) continue;
      addAddress(sock, link.index, gateway, {
        replace: true,
        noDad: gateway.includes(":"),
      });
    }
  }
  if ((link.flags & 1) === 0) setLink(sock, link.index, { up: true });
  return { link, created };
}

/** What {@linkcode attachVeth} sets up. */
export interface VethPlan {
  /** The host end's name. */
  hostVeth: string;
  /** The bridge's index. */
  bridgeIndex: number;
  /** CNI_IFNAME. */
  ifname: string;
  /** The container's namespace. */
  ns: NetNS;
  /** The container interface's MAC. */
  mac: string;
  /** MTU of both ends. */
  mtu?: number;
  /** Addresses (`ADDRESS/PREFIX`) on the container interface. */
  addresses: readonly string[];
  /** Routes in the container: destination and next hop. */
  routes: readonly { dst: string; gw?: string }[];
  /** Hairpin mode on the bridge port. */
  hairpin: boolean;
}

/**
 * Makes the veth pair (inner end straight in the namespace), enslaves and
 * raises the host end, and gives the inner end its addresses and routes.
 * Returns the host end's MAC.
 */
export function attachVeth(host: NetlinkSocket, plan: VethPlan): string {
  createLink(host, {
    kind: "veth",
    name: plan.hostVeth,
    master: plan.bridgeIndex,
    up: true,
    mtu: plan.mtu,
    peer: { name: plan.ifname, netns: plan.ns, mac: plan.mac },
  });
  if (plan.hairpin) {
    Deno.writeTextFileSync(
      `/sys/class/net/${plan.hostVeth}/brport/hairpin_mode`,
      "1",
    );
  }
  const hostMac = getLink(host, plan.hostVeth, { stats: false }).mac ?? "";
  const inner = NetlinkSocket.open(plan.ns);
  try {
    setLink(inner, plan.ifname, { up: true });
    for (const address of plan.addresses) {
      addAddress(inner, plan.ifname, address, { noDad: address.includes(":") });
    }
    for (const route of plan.routes) {
      const isDefault = route.dst === "0.0.0.0/0" || route.dst === "::/0";
      try {
        addRoute(inner, {
          destination: isDefault ? "default" : route.dst,
          family: route.dst.includes(":") ? AF.INET6 : AF.INET,
          gateway: route.gw,
          device: plan.ifname,
        });
      } catch (error) {
        // A second interface on the network: the first one's default route stays.
        if (!isDefault || (error as { code?: string }).code !== "EEXIST") {
          throw error;
        }
      }
    }
  } finally {
    inner.close();
  }
  return hostMac;
}

/** What CHECK finds wrong with the container interface, or undefined. */
export function checkInner(
  ns: NetNS,
  ifname: string,
  addresses: readonly string[],
  mac: string | undefined,
): string | undefined {
  const inner = NetlinkSocket.open(ns);
  try {
    const link = findLink(inner, ifname);
    if (link === undefined) return `${ifname} is missing from ${ns.path}`;
    if ((link.flags & 1) === 0) return `${ifname} is down`;
    if (mac !== undefined && link.mac?.toLowerCase() !== mac.toLowerCase()) {
      return `${ifname} has MAC ${link.mac}, not ${mac}`;
    }
    const have = new Set(
      listAddresses(inner, { link: link.index }).map((a) =>
        `${a.address}/${a.prefixLength}`
      ),
    );
    for (const address of addresses) {
      if (!have.has(address)) return `${ifname} lacks address ${address}`;
    }
    return undefined;
  } finally {
    inner.close();
  }
}

/** Whether the container has a default route of each family it has addresses of. */
export function missingDefaultRoute(
  ns: NetNS,
  families: readonly number[],
): number | undefined {
  const inner = NetlinkSocket.open(ns);
  try {
    const routes = listRoutes(inner);
    return families.find((family) =>
      !routes.some((r) => r.family === family && r.destination === undefined)
    );
  } finally {
    inner.close();
  }
}

/** Turns on forwarding of `version` in the plugin's (the host's) namespace. */
export function enableForwarding(version: 4 | 6): void {
  const path = version === 4
    ? "/proc/sys/net/ipv4/ip_forward"
    : "/proc/sys/net/ipv6/conf/all/forwarding";
  if (Deno.readTextFileSync(path).trim() !== "1") {
    Deno.writeTextFileSync(path, "1");
  }
}
