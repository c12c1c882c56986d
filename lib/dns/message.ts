/**
 * A small DNS message codec (RFC 1035), as much as a network's name
 * responder needs: the header and questions of a query read (compressed
 * names followed, loops refused), and an answer written with A/AAAA records
 * for the question's name, or an error code. Pure TypeScript: nothing here
 * touches the network.
 *
 * @example Answer a query
 * ```ts
 * import { encodeAnswer, parseQuery, TYPE } from "./message.ts";
 *
 * declare const packet: Uint8Array;
 * const query = parseQuery(packet);
 * const reply = encodeAnswer(query, {
 *   rcode: 0,
 *   records: [{ type: TYPE.A, ttl: 60, address: "10.89.0.2" }],
 * });
 * ```
 *
 * @module
 */

import { formatIPv6, tryParseIP } from "../netlink/ip_address.ts";

/** Record types the responder knows. */
export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  AAAA: 28,
  ANY: 255,
} as const;

/** The class of every record here (IN). */
export const CLASS_IN = 1;

/** Response codes. */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** One question of a query. */
export interface DnsQuestion {
  /** The name asked for, lower case, without the trailing dot (`web`, `a.example`). */
  name: string;
  /** The record type. */
  type: number;
  /** The class. */
  class: number;
  /** The name as it was written in the query (its case kept), for the answer. */
  wire: Uint8Array;
}

/** A query as read. */
export interface DnsQuery {
  /** The query id, copied into the answer. */
  id: number;
  /** The header's flags word. */
  flags: number;
  /** Whether the QR bit says this is a response, not a query. */
  isResponse: boolean;
  /** The opcode (0: a standard query). */
  opcode: number;
  /** Whether recursion was desired (RD). */
  recursionDesired: boolean;
  /** The questions (a real query has one). */
  questions: DnsQuestion[];
}

/** A message that is not a DNS message nsnet can read. */
export class DnsFormatError extends Error {
  /** Makes the error saying what is wrong. */
  constructor(message: string) {
    super(`malformed DNS message: ${message}`);
    this.name = "DnsFormatError";
  }
}

const HEADER = 12;
const MAX_NAME = 255;

/** Reads the name at `offset`; returns it and the offset after it (where it was, not where a pointer led). */
function readName(
  bytes: Uint8Array,
  offset: number,
): { labels: string[]; end: number } {
  const labels: string[] = [];
  let end = -1;
  let length = 0;
  for (let jumps = 0;; jumps++) {
    if (jumps > 64) throw new DnsFormatError("a compression loop");
    if (offset >= bytes.length) {
      throw new DnsFormatError("a name runs past the end");
    }
    const n = bytes[offset]!;
    if (n === 0) {
      if (end < 0) end = offset + 1;
      break;
    }
    if ((n & 0xc0) === 0xc0) {
      if (offset + 1 >= bytes.length) throw new DnsFormatError("a cut pointer");
      if (end < 0) end = offset + 2;
      offset = ((n & 0x3f) << 8) | bytes[offset + 1]!;
      continue;
    }
    if ((n & 0xc0) !== 0) throw new DnsFormatError(`label type ${n >> 6}`);
    if (offset + 1 + n > bytes.length) {
      throw new DnsFormatError("a label runs past the end");
    }
    length += n + 1;
    if (length > MAX_NAME) {
      throw new DnsFormatError("a name longer than 255 bytes");
    }
    labels.push(
      String.fromCharCode(...bytes.subarray(offset + 1, offset + 1 + n)),
    );
    offset += 1 + n;
  }
  return { labels, end };
}

/** `labels` in wire format (no compression). */
export function encodeName(name: string): Uint8Array {
  const labels = name.replace(/\.$/, "").split(".").filter((l) => l !== "");
  const out: number[] = [];
  for (const label of labels) {
    const bytes = new TextEncoder().encode(label);
    if (bytes.length > 63) {
      throw new DnsFormatError(`label ${label} is longer than 63 bytes`);
    }
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  if (out.length > MAX_NAME) {
    throw new DnsFormatError("a name longer than 255 bytes");
  }
  return new Uint8Array(out);
}

/** Reads a query's header and questions; throws {@linkcode DnsFormatError}. */
export function parseQuery(bytes: Uint8Array): DnsQuery {
  if (bytes.length < HEADER) throw new DnsFormatError("shorter than a header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = view.getUint16(0);
  const flags = view.getUint16(2);
  const qdcount = view.getUint16(4);
  if (qdcount > 16) throw new DnsFormatError(`${qdcount} questions`);
  const questions: DnsQuestion[] = [];
  let offset = HEADER;
  for (let i = 0; i < qdcount; i++) {
    const { labels, end } = readName(bytes, offset);
    if (end + 4 > bytes.length) throw new DnsFormatError("a cut question");
    questions.push({
      name: labels.join(".").toLowerCase(),
      type: view.getUint16(end),
      class: view.getUint16(end + 2),
      wire: encodeName(labels.join(".")),
    });
    offset = end + 4;
  }
  return {
    id,
    flags,
    isResponse: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    recursionDesired: (flags & 0x0100) !== 0,
    questions,
  };
}

/** One address record of an answer. */
export interface AddressRecord {
  /** `TYPE.A` or `TYPE.AAAA`. */
  type: number;
  /** Time to live, in seconds. */
  ttl: number;
  /** The address (IPv4 for A, IPv6 for AAAA). */
  address: string;
}

/** What {@linkcode encodeAnswer} writes. */
export interface Answer {
  /** The response code. */
  rcode: number;
  /** The records, all for the (first) question's name. */
  records?: readonly AddressRecord[];
  /** Whether the responder is authoritative for the name (AA). */
  authoritative?: boolean;
  /** Whether recursion is available (RA); default true. */
  recursionAvailable?: boolean;
}

/** The answer to `query`: its id and first question, then `answer.records`. */
export function encodeAnswer(query: DnsQuery, answer: Answer): Uint8Array {
  const question = query.questions[0];
  const parts: Uint8Array[] = [];
  const header = new Uint8Array(HEADER);
  const view = new DataView(header.buffer);
  view.setUint16(0, query.id);
  let flags = 0x8000 | (query.opcode << 11) | (query.flags & 0x0100) |
    (answer.rcode & 0xf);
  if (answer.authoritative) flags |= 0x0400;
  if (answer.recursionAvailable ?? true) flags |= 0x0080;
  view.setUint16(2, flags);
  view.setUint16(4, question === undefined ? 0 : 1);
  const records = question === undefined ? [] : answer.records ?? [];
  view.setUint16(6, records.length);
  parts.push(header);
  if (question !== undefined) {
    const tail = new Uint8Array(4);
    new DataView(tail.buffer).setUint16(0, question.type);
    new DataView(tail.buffer).setUint16(2, question.class);
    parts.push(question.wire, tail);
  }
  for (const record of records) {
    const ip = tryParseIP(record.address);
    const size = record.type === TYPE.A ? 4 : 16;
    if (ip === undefined || ip.bytes.length !== size) {
      throw new DnsFormatError(
        `${record.address} is not an address for a type ${record.type} record`,
      );
    }
    const fixed = new Uint8Array(2 + 10);
    const v = new DataView(fixed.buffer);
    v.setUint16(0, 0xc000 | HEADER); // the question's name
    v.setUint16(2, record.type);
    v.setUint16(4, CLASS_IN);
    v.setUint32(6, record.ttl);
    v.setUint16(10, size);
    parts.push(fixed, ip.bytes);
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A query for `name` and `type` (for clients and tests), with id `id`. */
export function encodeQuery(
  id: number,
  name: string,
  type: number,
): Uint8Array {
  const wire = encodeName(name);
  const out = new Uint8Array(HEADER + wire.length + 4);
  const view = new DataView(out.buffer);
  view.setUint16(0, id);
  view.setUint16(2, 0x0100); // RD
  view.setUint16(4, 1);
  out.set(wire, HEADER);
  view.setUint16(HEADER + wire.length, type);
  view.setUint16(HEADER + wire.length + 2, CLASS_IN);
  return out;
}

/** An answer as a client reads it: its id, code and the addresses of its A/AAAA records. */
export interface ParsedAnswer {
  /** The id. */
  id: number;
  /** The response code. */
  rcode: number;
  /** The addresses of the A and AAAA records, in order. */
  addresses: string[];
}

/** Reads an answer's A/AAAA records (for clients and tests). */
export function parseAnswer(bytes: Uint8Array): ParsedAnswer {
  const query = parseQuery(bytes);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ancount = view.getUint16(6);
  let offset = HEADER;
  for (let i = 0; i < query.questions.length; i++) {
    offset = readName(bytes, offset).end + 4;
  }
  const addresses: string[] = [];
  for (let i = 0; i < ancount; i++) {
    const { end } = readName(bytes, offset);
    if (end + 10 > bytes.length) throw new DnsFormatError("a cut record");
    const type = view.getUint16(end);
    const length = view.getUint16(end + 8);
    const data = bytes.subarray(end + 10, end + 10 + length);
    if (data.length !== length) throw new DnsFormatError("cut record data");
    if (type === TYPE.A && length === 4) addresses.push(data.join("."));
    if (type === TYPE.AAAA && length === 16) {
      addresses.push(formatIPv6(data));
    }
    offset = end + 10 + length;
  }
  return { id: query.id, rcode: query.flags & 0xf, addresses };
}
