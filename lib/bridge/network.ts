/**
 * Bridge networks: what one is (a bridge, an IPv4 subnet and its gateway),
 * the built-in default `bridge` network (bridge `nsnet0`, 10.89.0.0/24), and
 * named networks stored as one JSON file each under `/etc/nsnet/networks/`
 * as root or `$XDG_CONFIG_HOME/nsnet/networks/` rootless.
 *
 * @module
 */

import { getEnv } from "../env.ts";
import {
  InvalidArgumentError,
  NetworkNotFoundError,
  NsnetError,
} from "../errors.ts";
import { writeFileAtomicSync } from "../fs.ts";
import { formatIPv6, tryParseIP } from "../netlink/ip_address.ts";
import { validateLinkName } from "../netlink/link.ts";
import { isRootless } from "../rootless/detect.ts";

/** One bridge network. */
export interface NetworkConfig {
  /** The network's name (`bridge` for the default one). */
  name: string;
  /** The bridge interface on the host (or in the rootless namespace). */
  bridge: string;
  /** The IPv4 subnet in canonical CIDR form, e.g. `10.89.0.0/24`. */
  subnet: string;
  /** The bridge's own address and the sandboxes' default gateway. */
  gateway: string;
  /** MTU of the bridge and the veths; the kernel's default when absent. */
  mtu?: number;
  /** No masquerading: sandboxes reach each other and the host, nothing beyond. */
  internal?: boolean;
  /**
   * Dual-stack: the IPv6 subnet (`fd00:1::/64`, prefix 64 to 120). A
   * sandbox's IPv6 address has the same host number as its IPv4 address.
   */
  subnet6?: string;
  /** The bridge's IPv6 address and the sandboxes' IPv6 gateway (with `subnet6`). */
  gateway6?: string;
  /**
   * Where the network's DNS responder forwards names that are not its
   * sandboxes' (`ADDR[:PORT]`); default the host's non-loopback nameservers.
   */
  dnsUpstreams?: string[];
  /** No DNS responder: sandboxes do not resolve each other's names. */
  disableDns?: boolean;
}

/** The name of the default network. */
export const DEFAULT_NETWORK_NAME = "bridge";

/** The default network: bridge `nsnet0`, 10.89.0.0/24, gateway 10.89.0.1. */
export const DEFAULT_NETWORK: Readonly<NetworkConfig> = Object.freeze({
  name: DEFAULT_NETWORK_NAME,
  bridge: "nsnet0",
  subnet: "10.89.0.0/24",
  gateway: "10.89.0.1",
});

/**
 * A network that does not exist: the one class every backend raises (here
 * with `backend: "builtin"`), re-exported where the bridge networks live.
 */
export { NetworkNotFoundError } from "../errors.ts";

/** A network name, bridge or subnet that is already taken. */
export class NetworkExistsError extends NsnetError {
  /** Makes the error. */
  constructor(message: string, hint: string) {
    super(message, { hint });
    this.name = "NetworkExistsError";
  }
}

/** An IPv4 subnet as numbers. */
export interface BridgeSubnet {
  /** The network address as an unsigned 32-bit number. */
  base: number;
  /** The prefix length. */
  prefixLength: number;
  /** How many addresses it spans (2^(32-prefix)). */
  size: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted-quad IPv4 address into an unsigned 32-bit number. */
export function ipv4ToNumber(text: string): number {
  const match = IPV4.exec(text);
  const parts = match?.slice(1).map(Number);
  if (parts === undefined || parts.some((p) => p > 255)) {
    throw new InvalidArgumentError(
      `invalid IPv4 address ${JSON.stringify(text)}`,
    );
  }
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) |
    parts[3]!) >>> 0;
}

/** Formats an unsigned 32-bit number as a dotted-quad IPv4 address. */
export function numberToIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * Parses an IPv4 subnet in CIDR form; host bits must be zero. Prefixes from
 * /8 to /30 are accepted: a /31 or /32 leaves no room for a sandbox.
 */
export function parseSubnet(cidr: string): BridgeSubnet {
  const slash = cidr.indexOf("/");
  const prefixText = cidr.slice(slash + 1);
  if (slash < 0 || !/^\d{1,2}$/.test(prefixText)) {
    throw new InvalidArgumentError(
      `invalid subnet ${JSON.stringify(cidr)}`,
      { hint: "give an IPv4 subnet such as 10.89.1.0/24" },
    );
  }
  const prefixLength = Number(prefixText);
  if (prefixLength < 8 || prefixLength > 30) {
    throw new InvalidArgumentError(
      `subnet ${cidr}: the prefix length must be 8 to 30`,
    );
  }
  const base = ipv4ToNumber(cidr.slice(0, slash));
  const size = 2 ** (32 - prefixLength);
  if (base % size !== 0) {
    const canonical = `${numberToIPv4(base - (base % size))}/${prefixLength}`;
    throw new InvalidArgumentError(
      `subnet ${cidr} has host bits set`,
      { hint: `did you mean ${canonical}?` },
    );
  }
  return { base, prefixLength, size };
}

/** A parsed IPv6 subnet: its base as a 128-bit number and its prefix length. */
export interface BridgeSubnet6 {
  /** The subnet's first address. */
  base: bigint;
  /** Its prefix length (64 to 120). */
  prefixLength: number;
}

function ipv6ToBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** A 128-bit number as an IPv6 address in canonical text. */
export function bigIntToIPv6(n: bigint): string {
  const bytes = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    bytes[i] = Number(n & 255n);
    n >>= 8n;
  }
  return formatIPv6(bytes);
}

/** Parses an IPv6 subnet (`fd00:1::/64`); throws naming what is wrong. */
export function parseSubnet6(cidr: string): BridgeSubnet6 {
  const slash = cidr.indexOf("/");
  const ip = slash < 0 ? undefined : tryParseIP(cidr.slice(0, slash));
  const prefixText = cidr.slice(slash + 1);
  if (ip?.bytes.length !== 16 || !/^\d{1,3}$/.test(prefixText)) {
    throw new InvalidArgumentError(
      `invalid IPv6 subnet ${JSON.stringify(cidr)}`,
      { hint: "give an IPv6 subnet such as fd00:1::/64" },
    );
  }
  const prefixLength = Number(prefixText);
  if (prefixLength < 64 || prefixLength > 120) {
    throw new InvalidArgumentError(
      `subnet ${cidr}: an IPv6 prefix length must be 64 to 120`,
    );
  }
  const base = ipv6ToBigInt(ip.bytes);
  const hostBits = (1n << BigInt(128 - prefixLength)) - 1n;
  if ((base & hostBits) !== 0n) {
    throw new InvalidArgumentError(`subnet ${cidr} has host bits set`, {
      hint: `did you mean ${bigIntToIPv6(base & ~hostBits)}/${prefixLength}?`,
    });
  }
  return { base, prefixLength };
}

/** Whether two IPv6 subnets share an address. */
export function subnets6Overlap(a: BridgeSubnet6, b: BridgeSubnet6): boolean {
  const shorter = Math.min(a.prefixLength, b.prefixLength);
  const shift = BigInt(128 - shorter);
  return (a.base >> shift) === (b.base >> shift);
}

/** Host number `index` of an IPv6 subnet, as an address. */
export function ipv6HostAddress(cidr: string, index: number): string {
  return bigIntToIPv6(parseSubnet6(cidr).base + BigInt(index));
}

/**
 * The IPv6 address a sandbox gets on a dual-stack network: the host number
 * of its IPv4 address in `subnet6`; undefined without `subnet6`.
 */
export function sandboxAddress6(
  network: NetworkConfig,
  address: string,
): string | undefined {
  if (network.subnet6 === undefined) return undefined;
  const index = ipv4ToNumber(address) - parseSubnet(network.subnet).base;
  return ipv6HostAddress(network.subnet6, index);
}

/** Whether two IPv4 subnets share an address. */
export function subnetsOverlap(a: BridgeSubnet, b: BridgeSubnet): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** Checks a network name: 1–63 characters of letters, digits, `_`, `.`, `-`. */
export function validateNetworkName(name: string): void {
  if (!NAME.test(name)) {
    throw new InvalidArgumentError(
      `invalid network name ${JSON.stringify(name)}`,
      {
        hint:
          "a network name has 1 to 63 letters, digits, '_', '.' or '-' and starts with a letter or digit",
      },
    );
  }
}

/**
 * Checks a whole network config (name, bridge name, subnet, gateway inside
 * the subnet and neither its network nor its broadcast address, MTU) and
 * returns it unchanged.
 */
export function validateNetwork(config: NetworkConfig): NetworkConfig {
  validateNetworkName(config.name);
  validateLinkName(config.bridge);
  const subnet = parseSubnet(config.subnet);
  const gateway = ipv4ToNumber(config.gateway);
  if (gateway <= subnet.base || gateway >= subnet.base + subnet.size - 1) {
    throw new InvalidArgumentError(
      `gateway ${config.gateway} is not a host address of ${config.subnet}`,
    );
  }
  if (config.subnet6 !== undefined) {
    const subnet6 = parseSubnet6(config.subnet6);
    const gateway6 = tryParseIP(config.gateway6 ?? "");
    const size = 1n << BigInt(128 - subnet6.prefixLength);
    const g = gateway6?.bytes.length === 16
      ? ipv6ToBigInt(gateway6.bytes)
      : -1n;
    if (g <= subnet6.base || g >= subnet6.base + size - 1n) {
      throw new InvalidArgumentError(
        `IPv6 gateway ${config.gateway6} is not a host address of ${config.subnet6}`,
      );
    }
  } else if (config.gateway6 !== undefined) {
    throw new InvalidArgumentError(
      `IPv6 gateway ${config.gateway6} without an IPv6 subnet`,
      { hint: "give the IPv6 subnet too: --subnet fd00:N::/64" },
    );
  }
  for (const upstream of config.dnsUpstreams ?? []) {
    const host = upstream.startsWith("[")
      ? upstream.slice(1, upstream.indexOf("]"))
      : upstream.split(":").length === 2
      ? upstream.split(":")[0]!
      : upstream;
    if (tryParseIP(host) === undefined) {
      throw new InvalidArgumentError(
        `invalid DNS upstream ${JSON.stringify(upstream)}`,
        { hint: "give ADDR, ADDR:PORT or [IPV6]:PORT with an IP address" },
      );
    }
  }
  if (
    config.mtu !== undefined &&
    (!Number.isInteger(config.mtu) || config.mtu < 68 || config.mtu > 65535)
  ) {
    throw new InvalidArgumentError(`invalid MTU ${config.mtu}`, {
      hint: "an MTU is 68 to 65535",
    });
  }
  return config;
}

/**
 * Where named networks are stored: `$NSNET_NETWORKS_DIR` if set, else
 * `/etc/nsnet/networks` as root and `$XDG_CONFIG_HOME/nsnet/networks`
 * rootless.
 */
export function defaultNetworksDir(): string {
  const override = getEnv("NSNET_NETWORKS_DIR");
  if (override !== undefined && override !== "") return override;
  if (!isRootless()) return "/etc/nsnet/networks";
  const config = getEnv("XDG_CONFIG_HOME") ??
    `${getEnv("HOME") ?? "/"}/.config`;
  return `${config}/nsnet/networks`;
}

/** Options of the network store functions. */
export interface NetworkStoreOptions {
  /** The directory holding the network files (default {@linkcode defaultNetworksDir}). */
  dir?: string;
}

function fileOf(dir: string, name: string): string {
  return `${dir}/${name}.json`;
}

function readNetworkFile(path: string): NetworkConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Deno.readTextFileSync(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw error;
    throw new NsnetError(`cannot read network file ${path}: ${error}`, {
      hint: "fix or remove the file",
      cause: error,
    });
  }
  const config = parsed as NetworkConfig;
  try {
    return validateNetwork(config);
  } catch (error) {
    throw new NsnetError(
      `network file ${path} is invalid: ${(error as Error).message}`,
      { hint: "fix or remove the file", cause: error },
    );
  }
}

/**
 * The network called `name`: a stored one, or the built-in default for
 * `bridge` unless a file overrides it.
 */
export function getNetwork(
  name: string,
  options: NetworkStoreOptions = {},
): NetworkConfig {
  validateNetworkName(name);
  const dir = options.dir ?? defaultNetworksDir();
  try {
    return readNetworkFile(fileOf(dir, name));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (name === DEFAULT_NETWORK_NAME) return { ...DEFAULT_NETWORK };
  throw new NetworkNotFoundError(name);
}

/** Every network, the default first, then the stored ones by name. */
export function listNetworks(
  options: NetworkStoreOptions = {},
): NetworkConfig[] {
  const dir = options.dir ?? defaultNetworksDir();
  const stored: NetworkConfig[] = [];
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (!entry.isFile || !entry.name.endsWith(".json")) continue;
      if (entry.name.startsWith(".")) continue;
      stored.push(readNetworkFile(`${dir}/${entry.name}`));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  stored.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  if (stored.some((n) => n.name === DEFAULT_NETWORK_NAME)) return stored;
  return [{ ...DEFAULT_NETWORK }, ...stored];
}

/** What {@linkcode createNetwork} needs; everything but the name can be chosen for you. */
export interface CreateNetworkOptions extends NetworkStoreOptions {
  /** IPv4 subnet; default the first free 10.89.N.0/24. */
  subnet?: string;
  /** Bridge name; default the first free `nsnetN`. */
  bridge?: string;
  /** Gateway; default the subnet's first host address. */
  gateway?: string;
  /** MTU. */
  mtu?: number;
  /** No masquerading. */
  internal?: boolean;
  /** IPv6 subnet, for a dual-stack network (`fd00:1::/64`). */
  subnet6?: string;
  /** IPv6 gateway; default the IPv6 subnet's first host address. */
  gateway6?: string;
  /** The DNS responder's upstreams (`ADDR[:PORT]`). */
  dnsUpstreams?: string[];
  /** No DNS responder. */
  disableDns?: boolean;
}

/**
 * Creates and stores network `name`. Fails if the name, the bridge or an
 * overlapping subnet is taken by another network.
 */
export function createNetwork(
  name: string,
  options: CreateNetworkOptions = {},
): NetworkConfig {
  validateNetworkName(name);
  const dir = options.dir ?? defaultNetworksDir();
  const existing = listNetworks({ dir });
  if (existing.some((n) => n.name === name)) {
    throw new NetworkExistsError(
      `a network named ${JSON.stringify(name)} already exists`,
      "choose another name, or remove it with `nsnet network rm`",
    );
  }
  const bridge = options.bridge ?? firstFreeBridge(existing);
  const clash = existing.find((n) => n.bridge === bridge);
  if (clash !== undefined) {
    throw new NetworkExistsError(
      `bridge ${bridge} is already used by network ${clash.name}`,
      "choose another bridge name with --bridge",
    );
  }
  const subnetText = options.subnet ?? firstFreeSubnet(existing);
  const subnet = parseSubnet(subnetText);
  const overlap = existing.find((n) =>
    subnetsOverlap(parseSubnet(n.subnet), subnet)
  );
  if (overlap !== undefined) {
    throw new NetworkExistsError(
      `subnet ${subnetText} overlaps ${overlap.subnet} of network ${overlap.name}`,
      "choose another subnet with --subnet",
    );
  }
  const config: NetworkConfig = {
    name,
    bridge,
    subnet: subnetText,
    gateway: options.gateway ?? numberToIPv4(subnet.base + 1),
  };
  if (options.mtu !== undefined) config.mtu = options.mtu;
  if (options.internal) config.internal = true;
  if (options.dnsUpstreams !== undefined && options.dnsUpstreams.length > 0) {
    config.dnsUpstreams = [...options.dnsUpstreams];
  }
  if (options.disableDns) config.disableDns = true;
  if (options.subnet6 !== undefined) {
    const subnet6 = parseSubnet6(options.subnet6);
    const overlap6 = existing.find((n) =>
      n.subnet6 !== undefined &&
      subnets6Overlap(parseSubnet6(n.subnet6), subnet6)
    );
    if (overlap6 !== undefined) {
      throw new NetworkExistsError(
        `subnet ${options.subnet6} overlaps ${overlap6.subnet6} of network ${overlap6.name}`,
        "choose another IPv6 subnet with --subnet",
      );
    }
    config.subnet6 = options.subnet6;
    config.gateway6 = options.gateway6 ?? bigIntToIPv6(subnet6.base + 1n);
  } else if (options.gateway6 !== undefined) {
    config.gateway6 = options.gateway6; // refused by validateNetwork
  }
  validateNetwork(config);
  Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = fileOf(dir, name);
  try {
    Deno.openSync(path, { write: true, createNew: true, mode: 0o644 }).close();
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new NetworkExistsError(
        `a network named ${JSON.stringify(name)} already exists`,
        "choose another name",
      );
    }
    throw error;
  }
  writeFileAtomicSync(path, JSON.stringify(config, null, 2) + "\n");
  return config;
}

/** Removes stored network `name`. The built-in default cannot be removed. */
export function removeNetwork(
  name: string,
  options: NetworkStoreOptions = {},
): void {
  validateNetworkName(name);
  const dir = options.dir ?? defaultNetworksDir();
  try {
    Deno.removeSync(fileOf(dir, name));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    if (name === DEFAULT_NETWORK_NAME) {
      throw new NsnetError("the default network cannot be removed");
    }
    throw new NetworkNotFoundError(name);
  }
}

function firstFreeBridge(existing: NetworkConfig[]): string {
  for (let i = 1;; i++) {
    const name = `nsnet${i}`;
    if (!existing.some((n) => n.bridge === name)) return name;
  }
}

function firstFreeSubnet(existing: NetworkConfig[]): string {
  const taken = existing.map((n) => parseSubnet(n.subnet));
  for (let i = 1; i < 256; i++) {
    const candidate = parseSubnet(`10.89.${i}.0/24`);
    if (!taken.some((t) => subnetsOverlap(t, candidate))) {
      return `10.89.${i}.0/24`;
    }
  }
  throw new NsnetError("no free subnet left in 10.89.0.0/16", {
    hint: "give one with --subnet",
  });
}
