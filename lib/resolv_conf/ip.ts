/**
 * Strict IPv4 and IPv6 address parsing, enough to sort nameservers into
 * loopback, link-local and reachable ones.
 *
 * @module
 */

/** A parsed IP address. */
export interface IPAddress {
  /** 4 or 6. */
  family: 4 | 6;
  /** The address in network byte order: 4 or 16 bytes. */
  bytes: Uint8Array;
  /** The IPv6 zone (`eth0` in `fe80::1%eth0`), if any. */
  zone: string | undefined;
}

const DECIMAL_OCTET = /^(0|[1-9][0-9]{0,2})$/;

/**
 * Parses a dotted-quad IPv4 address into a 32-bit unsigned number. Only the
 * four-part decimal form is accepted: `127.1` or `010.0.0.1` (which libc
 * would read in other ways) are refused.
 */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!DECIMAL_OCTET.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** Formats a 32-bit unsigned number as a dotted-quad IPv4 address. */
export function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256)
    .join(".");
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const ZONE = /^[A-Za-z0-9_.\-]{1,64}$/;

function parseIPv6Groups(text: string): number[] | undefined {
  if (text === "") return [];
  const groups: number[] = [];
  const parts = text.split(":");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIPv4(part);
      if (v4 === undefined) return undefined;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
    } else if (HEX_GROUP.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

/** Parses an IPv6 address, with an optional `%zone`, into 16 bytes. */
export function parseIPv6(
  text: string,
): { bytes: Uint8Array; zone: string | undefined } | undefined {
  let address = text;
  let zone: string | undefined;
  const percent = text.indexOf("%");
  if (percent >= 0) {
    zone = text.slice(percent + 1);
    address = text.slice(0, percent);
    if (!ZONE.test(zone)) return undefined;
  }
  if (!address.includes(":")) return undefined;
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const head = parseIPv6Groups(halves[0]!);
    const tail = parseIPv6Groups(halves[1]!);
    if (head === undefined || tail === undefined) return undefined;
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    const all = parseIPv6Groups(address);
    if (all === undefined || all.length !== 8) return undefined;
    groups = all;
  }
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return { bytes, zone };
}

/** Parses an IPv4 or IPv6 address; `undefined` when `text` is neither. */
export function parseIPAddress(text: string): IPAddress | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, v4);
    return { family: 4, bytes, zone: undefined };
  }
  const v6 = parseIPv6(text);
  return v6 === undefined ? undefined : { family: 6, ...v6 };
}

function isIPv4MappedIPv6(bytes: Uint8Array): boolean {
  return bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) &&
    bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * Whether the address only reaches the host it is used on: 127.0.0.0/8,
 * `::1`, the unspecified addresses (which the resolver reads as "this host")
 * and IPv4-mapped forms of those. Such a nameserver is useless inside
 * another network namespace.
 */
export function isLocalAddress(address: IPAddress): boolean {
  let v4 = address.family === 4 ? address.bytes : undefined;
  if (address.family === 6) {
    if (isIPv4MappedIPv6(address.bytes)) v4 = address.bytes.subarray(12);
    else {
      const head = address.bytes.subarray(0, 15);
      const last = address.bytes[15]!;
      return head.every((b) => b === 0) && (last === 0 || last === 1);
    }
  }
  return v4![0] === 127 || v4!.every((b) => b === 0);
}

/** Whether an IPv6 address is link-local (fe80::/10). */
export function isIPv6LinkLocal(address: IPAddress): boolean {
  return address.family === 6 && address.bytes[0] === 0xfe &&
    (address.bytes[1]! & 0xc0) === 0x80;
}
