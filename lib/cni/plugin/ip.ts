/**
 * IPv4 and IPv6 arithmetic for the plugin's IPAM: an address as a bigint,
 * subnets with their first and last usable host, and canonical text.
 *
 * @module
 */

import { formatIP, parseIP } from "../../netlink/ip_address.ts";

/** An IP subnet as numbers. */
export interface IPNet {
  /** 4 or 6. */
  version: 4 | 6;
  /** The network address. */
  base: bigint;
  /** The prefix length. */
  prefix: number;
  /** 32 or 128. */
  bits: number;
}

/** An address parsed into a bigint. */
export interface IPNumber {
  /** 4 or 6. */
  version: 4 | 6;
  /** The address. */
  value: bigint;
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value;
}

/** Parses an IPv4 or IPv6 address (throws on anything else). */
export function parseIPNumber(text: string): IPNumber {
  const ip = parseIP(text);
  return {
    version: ip.bytes.length === 4 ? 4 : 6,
    value: bytesToBigInt(ip.bytes),
  };
}

/** The text of address `value` of `version` (canonical: RFC 5952 for IPv6). */
export function formatIPNumber(version: 4 | 6, value: bigint): string {
  const length = version === 4 ? 4 : 16;
  const bytes = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return formatIP(bytes, 0, length);
}

/** Parses `ADDRESS/PREFIX` into its network (host bits cleared). */
export function parseIPNet(text: string): IPNet {
  const slash = text.indexOf("/");
  if (slash < 0) throw new Error(`${JSON.stringify(text)} has no /prefix`);
  const ip = parseIPNumber(text.slice(0, slash));
  const bits = ip.version === 4 ? 32 : 128;
  const p = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > bits) {
    throw new Error(`invalid prefix length in ${JSON.stringify(text)}`);
  }
  const prefix = Number(p);
  const hostBits = BigInt(bits - prefix);
  const base = (ip.value >> hostBits) << hostBits;
  return { version: ip.version, base, prefix, bits };
}

/** The canonical text of a network, e.g. `10.1.0.0/16`. */
export function formatIPNet(net: IPNet): string {
  return `${formatIPNumber(net.version, net.base)}/${net.prefix}`;
}

/** How many addresses the network spans. */
export function netSize(net: IPNet): bigint {
  return 1n << BigInt(net.bits - net.prefix);
}

/** Whether `ip` lies in `net`. */
export function netContains(net: IPNet, ip: IPNumber): boolean {
  return ip.version === net.version && ip.value >= net.base &&
    ip.value < net.base + netSize(net);
}

/**
 * The first and last address hosts may get: IPv4 leaves out the network
 * and broadcast addresses (not in a /31 or /32), IPv6 the subnet-router
 * anycast address (the base).
 */
export function hostRange(net: IPNet): { first: bigint; last: bigint } {
  const size = netSize(net);
  if (net.version === 4 && net.prefix >= 31) {
    return { first: net.base, last: net.base + size - 1n };
  }
  if (net.version === 4) {
    return { first: net.base + 1n, last: net.base + size - 2n };
  }
  if (net.prefix === 128) return { first: net.base, last: net.base };
  return { first: net.base + 1n, last: net.base + size - 1n };
}
