/**
 * nsnet's built-in bridge backend, in pure TypeScript over rtnetlink: a
 * bridge per network where the bridge lives (the host's namespace as root,
 * the shared rootless namespace rootless), a veth pair per sandbox with its
 * inner end straight in the sandbox, an address from the file-locked IPAM,
 * a default route via the bridge, IP forwarding, and masquerading through
 * one nftables batch whenever the set of networks in use changes.
 *
 * Setup and teardown of one state dir run one at a time (a file lock, and a
 * queue within the process). Setup either completes or undoes everything it
 * did; teardown tolerates pieces already gone, goes on after an error, and
 * raises the first one at the end. The bridge, its firewall rules and every
 * state file go with the last sandbox of a network.
 *
 * @module
 */

import { sha256Hex } from "../sha256.ts";
import { InvalidArgumentError, NsnetError } from "../errors.ts";
import type { StatusBlock } from "../inspect.ts";
import { type FileLock, withFileLock } from "../lock.ts";
import { debug, warn } from "../log.ts";
import { addAddress } from "../netlink/address.ts";
import { LinkNotFoundError } from "../netlink/errors.ts";
import { formatMac, parseMac } from "../netlink/ip_address.ts";
import {
  createLink,
  deleteLink,
  getLink,
  type LinkRef,
  setLink,
  validateLinkName,
} from "../netlink/link.ts";
import { addRoute } from "../netlink/route.ts";
import { NetlinkSocket } from "../netlink/socket.ts";
import { checkFault } from "../netns/_faults.ts";
import { getNS, type NetNS } from "../netns/netns.ts";
import {
  dnsEnabled,
  type DnsPlace,
  startNetworkDns,
  stopNetworkDns,
} from "../dns/network_dns.ts";
import { Ipam, networksInUse } from "./ipam.ts";
import {
  type NetworkConfig,
  parseSubnet,
  parseSubnet6,
  sandboxAddress6,
  validateNetwork,
} from "./network.ts";
import {
  applyFirewall,
  type NftTarget,
  type PendingBatch,
  startFirewall,
} from "./nftables.ts";

/** Where the backend works and keeps its state. */
export interface BridgeContext {
  /** Where the bridges live: the host's namespace as root, the rootless namespace rootless. */
  hostNS: NetNS;
  /** The path `hostNS` was opened from (for `nsenter --net=` rootless). */
  hostNSPath: string;
  /** The backend's state dir: IPAM files and the lock. */
  stateDir: string;
  /** Rootless: commands in `hostNS` run through `nsenter` in a child. */
  rootless: boolean;
  /** The nftables table (default `nsnet`). */
  nftTable?: string;
  /** The `nft` program (default `nft` from PATH). */
  nft?: string;
}

/** The sandbox already holds an address on the network: set up before, or left by a crash. */
export class AlreadyConnectedError extends NsnetError {
  /** Makes the error for sandbox `sandboxId` on `network`. */
  constructor(sandboxId: string, network: string, address: string) {
    super(
      `sandbox ${sandboxId} is already connected to network ${network} (${address})`,
      {
        hint:
          "tear it down first (teardown also clears what a crashed setup left)",
      },
    );
    this.name = "AlreadyConnectedError";
  }
}

/** Options of {@linkcode setupBridge} and {@linkcode teardownBridge}. */
export interface BridgeOptions {
  /** The interface name inside the sandbox (default `eth0`). */
  interfaceName?: string;
  /**
   * Whether an address holder is gone for good: its address is released
   * before a new one is handed out (what a failed teardown left).
   */
  isStale?: (sandboxId: string) => boolean;
  /**
   * Start the network's DNS responder (`lib/dns/network_dns.ts`) unless it
   * runs; default false. It stops with the network's last sandbox.
   */
  dns?: boolean;
  /** The sandbox's IPv4 address (`--ip`), else the next free one. */
  address?: string;
  /** The MAC address of its interface (`--mac`), else a random local one. */
  mac?: string;
  /** Its other names on the network's DNS responder (`--alias`). */
  aliases?: readonly string[];
}

/** The default state dir as root. */
export const ROOT_BRIDGE_STATE_DIR = "/run/nsnet/bridge";

/**
 * The context as root: bridges in the process's own network namespace,
 * state in {@linkcode ROOT_BRIDGE_STATE_DIR} unless `stateDir` is given.
 * Close `hostNS` when done.
 */
export function rootBridgeContext(
  stateDir: string = ROOT_BRIDGE_STATE_DIR,
): BridgeContext {
  const hostNSPath = "/proc/self/ns/net";
  return { hostNS: getNS(hostNSPath), hostNSPath, stateDir, rootless: false };
}

/**
 * The context rootless: bridges inside the shared rootless namespace at
 * `rootlessNSPath`, state under `stateDir` (best inside the rootless
 * namespace's own state dir, so that it goes with the namespace). The
 * caller holds a reference on the rootless namespace for each sandbox.
 */
export function rootlessBridgeContext(
  rootlessNSPath: string,
  stateDir: string,
): BridgeContext {
  return {
    hostNS: getNS(rootlessNSPath),
    hostNSPath: rootlessNSPath,
    stateDir,
    rootless: true,
  };
}

/**
 * The host-side veth name of a sandbox on a network: `nsv` and 8 hex digits
 * of a hash of both, so unique per pair and within the kernel's 15 bytes.
 */
export function hostVethName(sandboxId: string, networkName: string): string {
  const hash = sha256Hex(`${networkName}\0${sandboxId}`);
  return `nsv${hash.slice(0, 8)}`;
}

function ipamDir(ctx: BridgeContext): string {
  return `${ctx.stateDir}/ipam`;
}

function dnsPlace(ctx: BridgeContext): DnsPlace {
  return {
    stateDir: ctx.stateDir,
    ipamDir: ipamDir(ctx),
    nsPath: ctx.rootless ? ctx.hostNSPath : undefined,
  };
}

function lockPath(ctx: BridgeContext): string {
  return `${ctx.stateDir}/bridge.lock`;
}

function nftTarget(ctx: BridgeContext): NftTarget {
  return {
    ns: ctx.hostNS,
    nsPath: ctx.hostNSPath,
    viaNsenter: ctx.rootless,
    table: ctx.nftTable,
    nft: ctx.nft,
  };
}

function randomMac(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  bytes[0] = (bytes[0]! & 0xfe) | 0x02; // unicast, locally administered
  return formatMac(bytes, 0, 6);
}

const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";
const IPV6_FORWARD = "/proc/sys/net/ipv6/conf/all/forwarding";

/** Turns on IPv4 forwarding (and IPv6's, for `ipv6`) in the bridge's namespace. */
async function enableForwarding(
  ctx: BridgeContext,
  ipv6 = false,
): Promise<void> {
  const files = ipv6 ? [IP_FORWARD, IPV6_FORWARD] : [IP_FORWARD];
  if (!ctx.rootless) {
    // /proc/sys/net is resolved in the opening thread's namespace.
    ctx.hostNS.run(() => {
      for (const file of files) {
        if (Deno.readTextFileSync(file).trim() !== "1") {
          Deno.writeTextFileSync(file, "1\n");
        }
      }
    });
    return;
  }
  const out = await new Deno.Command("nsenter", {
    args: [
      `--net=${ctx.hostNSPath}`,
      "sh",
      "-c",
      files.map((file) => `echo 1 > ${file}`).join(" && "),
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new NsnetError(
      `cannot turn on IP forwarding in ${ctx.hostNSPath}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

/**
 * Makes sure the network's bridge exists, is up and holds the gateway
 * address; returns its index. The address is (re)set only when the bridge
 * is new or the network had no sandbox, so a bridge left half-made by a
 * crash is repaired by the next first sandbox.
 */
function ensureBridge(
  sock: NetlinkSocket,
  network: NetworkConfig,
  repair: boolean,
): { index: number; created: boolean } {
  let index: number | undefined;
  try {
    const link = getLink(sock, network.bridge, { stats: false });
    if (link.kind !== "bridge") {
      throw new NsnetError(
        `${network.bridge} exists but is a ${
          link.kind ?? "plain"
        } link, not a bridge`,
        { hint: "remove it, or give the network another bridge name" },
      );
    }
    index = link.index;
  } catch (error) {
    if (!(error instanceof LinkNotFoundError)) throw error;
  }
  const created = index === undefined;
  if (created) {
    createLink(sock, {
      kind: "bridge",
      name: network.bridge,
      up: true,
      mtu: network.mtu,
      // A MAC of its own: else the bridge takes its lowest port's, and changes
      // it when that sandbox goes, so the others' neighbour entries for the
      // gateway (and its DNS responder) point nowhere for seconds.
      mac: randomMac(),
    });
    debug(`created bridge ${network.bridge}`);
  }
  if (created || repair) {
    const prefix = parseSubnet(network.subnet).prefixLength;
    addAddress(sock, network.bridge, `${network.gateway}/${prefix}`, {
      replace: true,
    });
    if (network.subnet6 !== undefined && network.gateway6 !== undefined) {
      const prefix6 = parseSubnet6(network.subnet6).prefixLength;
      addAddress(sock, network.bridge, `${network.gateway6}/${prefix6}`, {
        replace: true,
        noDad: true,
      });
    }
    setLink(sock, network.bridge, { up: true });
  }
  index ??= getLink(sock, network.bridge, { stats: false }).index;
  return { index, created };
}

function deleteIfPresent(sock: NetlinkSocket, link: LinkRef): boolean {
  try {
    deleteLink(sock, link);
    return true;
  } catch (error) {
    if (error instanceof LinkNotFoundError) return false;
    throw error;
  }
}

/**
 * Connects `sandboxNS` to `network`: bridge (made if missing), veth pair with
 * `eth0` (or `interfaceName`) inside, an address from the IPAM, the default
 * route via the gateway, forwarding and masquerading. Returns the sandbox's
 * status in Podman's shape. On any failure everything it did is undone
 * before the error is raised. A sandbox already on the network is refused
 * with {@linkcode AlreadyConnectedError}, and nothing is touched.
 */
export async function setupBridge(
  ctx: BridgeContext,
  sandboxNS: NetNS,
  sandboxId: string,
  network: NetworkConfig,
  options: BridgeOptions = {},
): Promise<StatusBlock> {
  validateNetwork(network);
  if (options.mac !== undefined && (parseMac(options.mac)[0]! & 1) !== 0) {
    throw new InvalidArgumentError(
      `MAC address ${options.mac} is a multicast address`,
      {
        hint:
          "an interface's MAC address has the lowest bit of its first byte clear, e.g. 02:00:00:00:00:01",
      },
    );
  }
  const ifname = options.interfaceName ?? "eth0";
  validateLinkName(ifname);
  Deno.mkdirSync(ctx.stateDir, { recursive: true, mode: 0o700 });
  return await withFileLock(lockPath(ctx), async (lock) => {
    try {
      return await configure(
        ctx,
        sandboxNS,
        sandboxId,
        network,
        ifname,
        options,
      );
    } catch (error) {
      // Nothing was done, and what is there belongs to the earlier setup.
      if (error instanceof AlreadyConnectedError) throw error;
      const errors: unknown[] = [];
      await unconfigure(ctx, sandboxNS, sandboxId, network, ifname, errors);
      for (const e of errors) {
        warn(
          `undoing the bridge setup of ${sandboxId}: ${(e as Error).message}`,
        );
      }
      throw error;
    } finally {
      try {
        releaseLock(ctx, lock);
      } catch (error) {
        warn(`releasing the bridge state lock: ${(error as Error).message}`);
      }
    }
  });
}

/**
 * Disconnects a sandbox from `network`: its veth (from the host side, or
 * from inside `sandboxNS` when that fails), its address, and with the last
 * sandbox of the network the bridge and the network's firewall rules.
 * Pieces already gone are fine; after an error it goes on, and raises the
 * first error at the end.
 */
export async function teardownBridge(
  ctx: BridgeContext,
  sandboxNS: NetNS | undefined,
  sandboxId: string,
  network: NetworkConfig,
  options: BridgeOptions = {},
): Promise<void> {
  const ifname = options.interfaceName ?? "eth0";
  Deno.mkdirSync(ctx.stateDir, { recursive: true, mode: 0o700 });
  await withFileLock(lockPath(ctx), async (lock) => {
    const errors: unknown[] = [];
    try {
      await unconfigure(ctx, sandboxNS, sandboxId, network, ifname, errors);
    } finally {
      try {
        releaseLock(ctx, lock);
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  });
}

/** Releases the backend lock; with no network in use, the lock file and the IPAM dir go too. */
function releaseLock(ctx: BridgeContext, lock: FileLock): void {
  const idle = networksInUse(ipamDir(ctx)).length === 0;
  if (idle) {
    try {
      Deno.removeSync(ipamDir(ctx));
    } catch {
      // absent, or holds another user's files
    }
  }
  lock.release({ remove: idle });
}

async function configure(
  ctx: BridgeContext,
  sandboxNS: NetNS,
  sandboxId: string,
  network: NetworkConfig,
  ifname: string,
  options: BridgeOptions,
): Promise<StatusBlock> {
  const { isStale, dns = false } = options;
  let address: string;
  let first: boolean;
  {
    using ipam = Ipam.open(ipamDir(ctx), network);
    if (isStale !== undefined) {
      for (const stale of ipam.prune((id) => id !== sandboxId && isStale(id))) {
        warn(`released ${stale} on ${network.name}: its sandbox is gone`);
      }
    }
    const held = ipam.addressOf(sandboxId);
    if (held !== undefined) {
      throw new AlreadyConnectedError(sandboxId, network.name, held);
    }
    first = ipam.size === 0;
    address = ipam.allocate(sandboxId, {
      address: options.address,
      aliases: options.aliases,
    });
  }
  checkFault("bridge:after-ipam");
  const target = nftTarget(ctx);
  let pending: PendingBatch | undefined;
  const ipv6 = network.subnet6 !== undefined;
  if (first) {
    await enableForwarding(ctx, ipv6);
    // nft commits in its own process while the links are made here.
    pending = await startFirewall(target, networksInUse(ipamDir(ctx)));
  }
  let status: StatusBlock;
  try {
    const connected = connect(
      ctx,
      sandboxNS,
      hostVethName(sandboxId, network.name),
      network,
      address,
      ifname,
      first,
      options.mac,
    );
    status = connected.status;
    if (pending === undefined && connected.bridgeCreated) {
      // The bridge had vanished under running sandboxes: set it all up again.
      await enableForwarding(ctx, ipv6);
      await applyFirewall(target, networksInUse(ipamDir(ctx)));
    }
  } catch (error) {
    await pending?.done().catch(() => {});
    throw error;
  }
  await pending?.done();
  checkFault("bridge:after-firewall");
  if (dns && dnsEnabled(network)) {
    // Names are a convenience: a responder that cannot start leaves the sandbox working.
    await startNetworkDns(dnsPlace(ctx), network).catch((error) =>
      warn(`network ${network.name}: no name resolution: ${error.message}`)
    );
  }
  debug(`sandbox ${sandboxId} on ${network.name}: ${address} via ${ifname}`);
  return status;
}

/** Bridge, veth, address and route: the synchronous part of a setup. */
function connect(
  ctx: BridgeContext,
  sandboxNS: NetNS,
  vethName: string,
  network: NetworkConfig,
  address: string,
  ifname: string,
  first: boolean,
  staticMac: string | undefined,
): { status: StatusBlock; bridgeCreated: boolean } {
  const prefix = parseSubnet(network.subnet).prefixLength;
  const address6 = sandboxAddress6(network, address);
  const prefix6 = network.subnet6 === undefined
    ? 0
    : parseSubnet6(network.subnet6).prefixLength;
  const mac = staticMac ?? randomMac();
  let bridgeCreated: boolean;
  {
    using host = NetlinkSocket.open(ctx.hostNS);
    const bridge = ensureBridge(host, network, first);
    bridgeCreated = bridge.created;
    checkFault("bridge:after-bridge");
    createLink(host, {
      kind: "veth",
      name: vethName,
      master: bridge.index,
      up: true,
      mtu: network.mtu,
      peer: { name: ifname, netns: sandboxNS, mac },
    });
  }
  checkFault("bridge:after-veth");
  {
    using inner = NetlinkSocket.open(sandboxNS);
    setLink(inner, "lo", { up: true });
    setLink(inner, ifname, { up: true });
    addAddress(inner, ifname, `${address}/${prefix}`);
    addRoute(inner, {
      destination: "default",
      gateway: network.gateway,
      device: ifname,
    });
    if (address6 !== undefined) {
      addAddress(inner, ifname, `${address6}/${prefix6}`, { noDad: true });
      addRoute(inner, {
        destination: "default",
        gateway: network.gateway6,
        device: ifname,
      });
    }
  }
  checkFault("bridge:after-route");
  return {
    bridgeCreated,
    status: {
      interfaces: {
        [ifname]: {
          subnets: [
            { ipnet: `${address}/${prefix}`, gateway: network.gateway },
            ...(address6 === undefined ? [] : [{
              ipnet: `${address6}/${prefix6}`,
              gateway: network.gateway6!,
            }]),
          ],
          "mac_address": mac,
        },
      },
    },
  };
}

function attempt(errors: unknown[], fn: () => void): void {
  try {
    fn();
  } catch (error) {
    errors.push(error);
  }
}

async function unconfigure(
  ctx: BridgeContext,
  sandboxNS: NetNS | undefined,
  sandboxId: string,
  network: NetworkConfig,
  ifname: string,
  errors: unknown[],
): Promise<void> {
  const dir = ipamDir(ctx);
  // The network's last sandbox takes its firewall rules along: nft commits
  // in its own process while the links go here.
  let last = false;
  attempt(errors, () => {
    using ipam = Ipam.open(dir, network);
    const mine = ipam.addressOf(sandboxId) === undefined ? 0 : 1;
    last = ipam.size - mine === 0;
  });
  const others = (): NetworkConfig[] =>
    networksInUse(dir).filter((n) => n.name !== network.name);
  let pending: PendingBatch | undefined;
  if (last) {
    await stopNetworkDns(ctx.stateDir, network.name).catch((error) =>
      errors.push(error)
    );
    try {
      checkFault("bridge:teardown-firewall");
      pending = await startFirewall(nftTarget(ctx), others());
    } catch (error) {
      errors.push(error);
    }
  }
  let host: NetlinkSocket | undefined;
  attempt(errors, () => host = NetlinkSocket.open(ctx.hostNS));
  try {
    let vethGone = false;
    attempt(errors, () => {
      checkFault("bridge:teardown-veth");
      if (host === undefined) return;
      deleteIfPresent(host, hostVethName(sandboxId, network.name));
      vethGone = true;
    });
    if (!vethGone && sandboxNS !== undefined && !sandboxNS.closed) {
      attempt(errors, () => {
        using inner = NetlinkSocket.open(sandboxNS);
        const link = getLink(inner, ifname, { stats: false });
        if (link.kind === "veth") deleteIfPresent(inner, link.index);
      });
    }
    let remaining: number | undefined;
    attempt(errors, () => {
      using ipam = Ipam.open(dir, network);
      ipam.release(sandboxId);
      remaining = ipam.size;
    });
    if (remaining === 0) {
      attempt(errors, () => {
        checkFault("bridge:teardown-bridge");
        if (host !== undefined && deleteIfPresent(host, network.bridge)) {
          debug(`removed bridge ${network.bridge}`);
        }
      });
    }
  } finally {
    host?.close();
    if (pending !== undefined) {
      try {
        await pending.done();
      } catch (error) {
        errors.push(error);
      }
    }
  }
}
