/**
 * IP and MAC addresses between their text forms and the bytes netlink
 * carries. Pure: no FFI and no Deno APIs.
 *
 * @module
 */

import { AF } from "./constants.ts";
import { InvalidArgumentError } from "../errors.ts";

/** An IP address in wire form. */
export interface IPBytes {
  /** `AF.INET` or `AF.INET6`. */
  family: number;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

/** An address with a prefix length, e.g. `10.0.0.1/24`. */
export interface IPPrefix extends IPBytes {
  /** Prefix length in bits. */
  prefixLength: number;
}

const DECIMAL: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => String(i),
);
const DECIMAL_DOT: readonly string[] = DECIMAL.map((d) => d + ".");

// A small direct-mapped cache of the first three bytes as text ("10.0.1."):
// a dump's addresses share a few prefixes (a route dump's 100k destinations
// run through 10.x.y.0-255, its gateways repeat), and one concatenation is
// cheaper than three. Every slot starts as key 0 = "0.0.0.", so a lookup never
// sees a stale pair.
const CACHE_SIZE = 1024;
const cacheKeys = new Int32Array(CACHE_SIZE);
const cacheText: string[] = new Array<string>(CACHE_SIZE).fill("0.0.0.");

/** Formats 4 bytes at `offset` as dotted-quad IPv4. */
export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  const a = bytes[offset]!;
  const b = bytes[offset + 1]!;
  const c = bytes[offset + 2]!;
  const key = (a << 16) | (b << 8) | c;
  const slot = (c ^ (b << 2) ^ (a << 5)) & (CACHE_SIZE - 1);
  let prefix: string;
  if (cacheKeys[slot] === key) {
    prefix = cacheText[slot]!;
  } else {
    prefix = DECIMAL_DOT[a]! + DECIMAL_DOT[b]! + DECIMAL_DOT[c]!;
    cacheKeys[slot] = key;
    cacheText[slot] = prefix;
  }
  return prefix + DECIMAL[bytes[offset + 3]!]!;
}

// A byte in hex, without and with a leading zero: an IPv6 group is one or both.
const HEX_BYTE: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => i.toString(16),
);
const HEX_BYTE_PADDED: readonly string[] = HEX_BYTE.map((h) =>
  h.padStart(2, "0")
);

/** Formats 16 bytes at `offset` as IPv6 in RFC 5952 form (longest zero run compressed, IPv4-mapped kept). */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  // The longest run of zero groups (the first of equal ones), without an array of groups.
  let bestStart = -1;
  let bestLength = 0;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if ((bytes[offset + 2 * i]! | bytes[offset + 2 * i + 1]!) === 0) {
      if (runStart < 0) runStart = i;
      if (i - runStart + 1 > bestLength) {
        bestStart = runStart;
        bestLength = i - runStart + 1;
      }
    } else {
      runStart = -1;
    }
  }
  if (
    bestStart === 0 && bestLength === 5 && bytes[offset + 10] === 0xff &&
    bytes[offset + 11] === 0xff
  ) {
    return "::ffff:" + formatIPv4(bytes, offset + 12);
  }
  if (bestLength < 2) bestStart = -1;
  let text = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += "::";
      i += bestLength - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLength) text += ":";
    const high = bytes[offset + 2 * i]!;
    const low = bytes[offset + 2 * i + 1]!;
    text += high === 0
      ? HEX_BYTE[low]!
      : HEX_BYTE[high]! + HEX_BYTE_PADDED[low]!;
  }
  return text;
}

/** Formats an address of `length` 4 or 16 bytes; anything else as hex (never throws). */
export function formatIP(
  bytes: Uint8Array,
  offset: number,
  length: number,
): string {
  if (length === 4) return formatIPv4(bytes, offset);
  if (length === 16) return formatIPv6(bytes, offset);
  return formatMac(bytes, offset, length);
}

// ASCII codes of the 16 hex digits, for building a MAC's text in one call.
const HEX_CODE: readonly number[] = Array.from(
  { length: 16 },
  (_, i) => i.toString(16).charCodeAt(0),
);

/** Formats a link-layer address as colon-separated lowercase hex. */
export function formatMac(
  bytes: Uint8Array,
  offset: number,
  length: number,
): string {
  if (length === 6) {
    // Ethernet, nearly every address a dump carries: one flat string, no concatenations.
    const a = bytes[offset]!;
    const b = bytes[offset + 1]!;
    const c = bytes[offset + 2]!;
    const d = bytes[offset + 3]!;
    const e = bytes[offset + 4]!;
    const f = bytes[offset + 5]!;
    return String.fromCharCode(
      HEX_CODE[a >> 4]!,
      HEX_CODE[a & 15]!,
      58,
      HEX_CODE[b >> 4]!,
      HEX_CODE[b & 15]!,
      58,
      HEX_CODE[c >> 4]!,
      HEX_CODE[c & 15]!,
      58,
      HEX_CODE[d >> 4]!,
      HEX_CODE[d & 15]!,
      58,
      HEX_CODE[e >> 4]!,
      HEX_CODE[e & 15]!,
      58,
      HEX_CODE[f >> 4]!,
      HEX_CODE[f & 15]!,
    );
  }
  let s = "";
  for (let i = 0; i < length; i++) {
    const b = bytes[offset + i]!;
    s += (i === 0 ? "" : ":") + (b < 16 ? "0" : "") + b.toString(16);
  }
  return s;
}

/** Parses `aa:bb:cc:dd:ee:ff` into 6 bytes. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new InvalidArgumentError(
      `invalid MAC address ${JSON.stringify(text)}`,
      {
        hint: "write it as six hex bytes, e.g. 02:00:00:00:00:01",
      },
    );
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

function parseIPv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out[i] = Number(p);
  }
  return out;
}

function parseIPv6(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = parseIPv4(piece);
        if (v4 === undefined) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined;
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [
    ...head,
    ...new Array<number>(halves.length === 2 ? missing : 0).fill(0),
    ...tail,
  ];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Parses an IPv4 or IPv6 address, or returns undefined. */
export function tryParseIP(text: string): IPBytes | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { family: AF.INET, bytes: v4 };
  const v6 = text.includes(":") ? parseIPv6(text) : undefined;
  if (v6 !== undefined) return { family: AF.INET6, bytes: v6 };
  return undefined;
}

/** Parses an IPv4 or IPv6 address. */
export function parseIP(text: string): IPBytes {
  const ip = tryParseIP(text);
  if (ip === undefined) {
    throw new InvalidArgumentError(
      `invalid IP address ${JSON.stringify(text)}`,
    );
  }
  return ip;
}

/** Parses `ADDRESS/PREFIX` (a bare address means a host prefix: /32 or /128). */
export function parsePrefix(text: string): IPPrefix {
  const slash = text.indexOf("/");
  const ip = parseIP(slash < 0 ? text : text.slice(0, slash));
  const max = ip.bytes.length * 8;
  if (slash < 0) return { ...ip, prefixLength: max };
  const p = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
    throw new InvalidArgumentError(
      `invalid prefix length in ${JSON.stringify(text)}`,
      {
        hint: `a prefix length is 0 to ${max}`,
      },
    );
  }
  return { ...ip, prefixLength: Number(p) };
}

/** Whether `ip` lies inside `prefix` (same family, first `prefixLength` bits equal). */
export function prefixContains(prefix: IPPrefix, ip: IPBytes): boolean {
  if (prefix.family !== ip.family) return false;
  let bits = prefix.prefixLength;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((prefix.bytes[i]! ^ ip.bytes[i]!) & mask) !== 0) return false;
  }
  return true;
}

/** Whether an address is link-local unicast (169.254/16, fe80::/10) or link-local multicast (224.0.0/24, ff02::/16). */
export function isLinkLocal(ip: IPBytes): boolean {
  const b = ip.bytes;
  if (ip.family === AF.INET) {
    return (b[0] === 169 && b[1] === 254) ||
      (b[0] === 224 && b[1] === 0 && b[2] === 0);
  }
  return (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) ||
    (b[0] === 0xff && (b[1]! & 0x0f) === 0x02);
}
