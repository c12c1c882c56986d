/**
 * The netlink wire format: message headers, 4-byte padding, attributes and
 * nested attributes, and a writer that builds requests. Pure: no FFI and no
 * Deno APIs. Everything is host byte order (little-endian on every platform
 * nsnet supports); addresses inside attributes are network byte order.
 *
 * Readers check every length before reading, so any input either decodes or
 * raises {@linkcode NetlinkDecodeError}.
 *
 * @module
 */

import {
  NLA_F,
  NLA_TYPE_MASK,
  NLM_F,
  NLMSG,
  NLMSGERR_ATTR,
  SIZE,
} from "./constants.ts";
import { NetlinkDecodeError } from "./errors.ts";

/** Rounds `n` up to the netlink alignment of 4 bytes (NLMSG_ALIGN, NLA_ALIGN). */
export function align(n: number): number {
  // Not `(n + 3) & ~3`: that wraps to a negative number for lengths of 2^31 and more.
  return n + 3 - ((n + 3) & 3);
}

/** The fixed 16-byte header of every netlink message. */
export interface MessageHeader {
  /** Total length, header included, unpadded. */
  length: number;
  /** Message type (`NLMSG_*` or `RTM_*`). */
  type: number;
  /** `NLM_F_*` flags. */
  flags: number;
  /** Sequence number the reply echoes. */
  seq: number;
  /** Port id: the kernel's replies carry the receiving socket's. */
  pid: number;
}

/** Reads the header at `offset` and checks that the message fits in `end`. */
export function readHeader(
  view: DataView,
  offset: number,
  end: number,
): MessageHeader {
  if (offset + SIZE.NLMSGHDR > end) {
    throw new NetlinkDecodeError(
      `${end - offset} bytes left, a header needs 16`,
      offset,
    );
  }
  const length = view.getUint32(offset, true);
  if (length < SIZE.NLMSGHDR || offset + length > end) {
    throw new NetlinkDecodeError(
      `message length ${length} does not fit the ${end - offset} bytes left`,
      offset,
    );
  }
  return {
    length,
    type: view.getUint16(offset + 4, true),
    flags: view.getUint16(offset + 6, true),
    seq: view.getUint32(offset + 8, true),
    pid: view.getUint32(offset + 12, true),
  };
}

/**
 * Calls `visit(type, offset, length)` for each attribute in `[start, end)`:
 * `type` without the NESTED/BYTEORDER flags, `offset` and `length` of the
 * payload. Whether an attribute is nested is for the caller's schema to say,
 * not the flag (the kernel omits it on IFLA_LINKINFO and IFLA_AF_SPEC).
 */
export function forEachAttribute(
  view: DataView,
  start: number,
  end: number,
  visit: (type: number, offset: number, length: number) => void,
): void {
  let p = start;
  while (p + SIZE.NLATTR <= end) {
    const len = view.getUint16(p, true);
    if (len < SIZE.NLATTR || p + len > end) {
      throw new NetlinkDecodeError(`attribute length ${len} does not fit`, p);
    }
    visit(
      view.getUint16(p + 2, true) & NLA_TYPE_MASK,
      p + SIZE.NLATTR,
      len - SIZE.NLATTR,
    );
    p += align(len);
  }
}

/** Reads an attribute's u8 payload, checking its size. */
export function attrU8(view: DataView, offset: number, length: number): number {
  if (length < 1) throw new NetlinkDecodeError("u8 attribute is empty", offset);
  return view.getUint8(offset);
}

/** Reads an attribute's u16 payload, checking its size. */
export function attrU16(
  view: DataView,
  offset: number,
  length: number,
): number {
  if (length < 2) {
    throw new NetlinkDecodeError(`u16 attribute has ${length} bytes`, offset);
  }
  return view.getUint16(offset, true);
}

/** Reads an attribute's u32 payload, checking its size. */
export function attrU32(
  view: DataView,
  offset: number,
  length: number,
): number {
  if (length < 4) {
    throw new NetlinkDecodeError(`u32 attribute has ${length} bytes`, offset);
  }
  return view.getUint32(offset, true);
}

/** Reads an attribute's s32 payload, checking its size. */
export function attrI32(
  view: DataView,
  offset: number,
  length: number,
): number {
  if (length < 4) {
    throw new NetlinkDecodeError(`s32 attribute has ${length} bytes`, offset);
  }
  return view.getInt32(offset, true);
}

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Reads a NUL-terminated (or attribute-bounded) string. ASCII, the common
 * case for interface names, is decoded without allocating a view.
 */
export function attrString(
  bytes: Uint8Array,
  offset: number,
  length: number,
): string {
  let end = offset;
  const limit = offset + length;
  let ascii = true;
  while (end < limit) {
    const c = bytes[end]!;
    if (c === 0) break;
    if (c >= 0x80) ascii = false;
    end++;
  }
  if (!ascii) return utf8.decode(bytes.subarray(offset, end));
  let s = "";
  for (let i = offset; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** What a reply message says about the request it answers. */
export type ReplyStatus =
  | { kind: "data" }
  | { kind: "done"; error: number; message: string | undefined }
  | { kind: "error"; error: number; message: string | undefined };

/**
 * Classifies a reply: data, NLMSG_DONE (with the error a failed dump ends on)
 * or NLMSG_ERROR (error 0 is an ACK). `error` is the negative errno. The
 * extended-ACK text, when the kernel sent one, is returned as `message`.
 */
export function replyStatus(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  header: MessageHeader,
): ReplyStatus {
  const end = offset + header.length;
  const body = offset + SIZE.NLMSGHDR;
  if (header.type === NLMSG.DONE) {
    // An empty DONE is valid (older kernels); a DONE that carries an error has its TLVs after the int.
    if (end - body < 4) return { kind: "done", error: 0, message: undefined };
    const error = view.getInt32(body, true);
    const message = (header.flags & NLM_F.ACK_TLVS) !== 0
      ? extAckMessage(bytes, view, body + 4, end)
      : undefined;
    return { kind: "done", error, message };
  }
  if (header.type === NLMSG.ERROR) {
    if (end - body < 4) {
      throw new NetlinkDecodeError("NLMSG_ERROR without an error code", offset);
    }
    const error = view.getInt32(body, true);
    let message: string | undefined;
    if ((header.flags & NLM_F.ACK_TLVS) !== 0) {
      // The echoed request follows the int: its header only when CAPPED, else all of it.
      if (body + 4 + SIZE.NLMSGHDR > end) {
        throw new NetlinkDecodeError(
          "NLMSG_ERROR too short for the echoed header",
          offset,
        );
      }
      const echoedLength = view.getUint32(body + 4, true);
      const echoed = (header.flags & NLM_F.CAPPED) !== 0
        ? SIZE.NLMSGHDR
        : align(echoedLength);
      const tlvs = body + 4 + echoed;
      if (tlvs > end) {
        throw new NetlinkDecodeError(
          "echoed request overruns the message",
          offset,
        );
      }
      message = extAckMessage(bytes, view, tlvs, end);
    }
    return { kind: "error", error, message };
  }
  return { kind: "data" };
}

function extAckMessage(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
): string | undefined {
  let message: string | undefined;
  forEachAttribute(view, start, end, (type, offset, length) => {
    if (type === NLMSGERR_ATTR.MSG) message = attrString(bytes, offset, length);
  });
  return message === "" ? undefined : message;
}

/**
 * Builds one netlink request in a growing buffer: the header, a fixed struct,
 * then attributes, possibly nested. {@linkcode MessageWriter.finish} fills in
 * the length and sequence number.
 */
export class MessageWriter {
  #bytes: Uint8Array<ArrayBuffer>;
  #view: DataView<ArrayBuffer>;
  #length: number;
  readonly #nests: number[] = [];

  /** Starts a message of `type` with `flags`; the header's seq and pid are set at the end. */
  constructor(type: number, flags: number, capacity = 256) {
    this.#bytes = new Uint8Array(Math.max(capacity, 64));
    this.#view = new DataView(this.#bytes.buffer);
    this.#view.setUint16(4, type, true);
    this.#view.setUint16(6, flags, true);
    this.#length = SIZE.NLMSGHDR;
  }

  #reserve(n: number): number {
    const at = this.#length;
    const need = at + align(n);
    if (need > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(need, this.#bytes.length * 2));
      grown.set(this.#bytes);
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#length = need;
    return at;
  }

  /** Appends a fixed-size struct (ifinfomsg, ifaddrmsg, rtmsg...) written by `fill`. */
  struct(size: number, fill: (view: DataView, offset: number) => void): this {
    const at = this.#reserve(size);
    fill(this.#view, at);
    return this;
  }

  /** Appends an attribute with raw bytes as its payload. */
  bytes(type: number, payload: Uint8Array): this {
    const at = this.#reserve(SIZE.NLATTR + payload.length);
    this.#view.setUint16(at, SIZE.NLATTR + payload.length, true);
    this.#view.setUint16(at + 2, type, true);
    this.#bytes.set(payload, at + SIZE.NLATTR);
    return this;
  }

  /** Appends a u8 attribute. */
  u8(type: number, value: number): this {
    const at = this.#attr(type, 1);
    this.#view.setUint8(at, value);
    return this;
  }

  /** Appends a u16 attribute. */
  u16(type: number, value: number): this {
    const at = this.#attr(type, 2);
    this.#view.setUint16(at, value, true);
    return this;
  }

  /** Appends a u32 attribute. */
  u32(type: number, value: number): this {
    const at = this.#attr(type, 4);
    this.#view.setUint32(at, value >>> 0, true);
    return this;
  }

  /** Appends a NUL-terminated string attribute. */
  string(type: number, value: string): this {
    return this.bytes(type, encoder.encode(value + "\0"));
  }

  /** Appends an attribute without payload (a flag). */
  flag(type: number): this {
    this.#attr(type, 0);
    return this;
  }

  #attr(type: number, size: number): number {
    const at = this.#reserve(SIZE.NLATTR + size);
    this.#view.setUint16(at, SIZE.NLATTR + size, true);
    this.#view.setUint16(at + 2, type, true);
    return at + SIZE.NLATTR;
  }

  /** Opens a nested attribute; close it with {@linkcode MessageWriter.end}. */
  begin(type: number): this {
    const at = this.#attr(type | NLA_F.NESTED, 0);
    this.#nests.push(at - SIZE.NLATTR);
    return this;
  }

  /** Closes the innermost nested attribute (or struct-prefixed nest) and sets its length. */
  end(): this {
    const at = this.#nests.pop();
    if (at === undefined) {
      throw new Error("MessageWriter.end() without begin()");
    }
    this.#view.setUint16(at, this.#length - at, true);
    return this;
  }

  /** Fills in length, sequence number and port id, and returns the message bytes. */
  finish(seq: number, pid = 0): Uint8Array<ArrayBuffer> {
    if (this.#nests.length > 0) {
      throw new Error("MessageWriter.finish() with an open nest");
    }
    this.#view.setUint32(0, this.#length, true);
    this.#view.setUint32(8, seq >>> 0, true);
    this.#view.setUint32(12, pid >>> 0, true);
    return this.#bytes.subarray(0, this.#length);
  }

  /** The message type this writer builds. */
  get type(): number {
    return this.#view.getUint16(4, true);
  }
}

/**
 * An attribute nsnet does not decode, kept as it came: its type (flags
 * cleared, as {@linkcode forEachAttribute} gives it) and a copy of its
 * payload. Decoded objects carry these in `unknown`, so nothing the kernel
 * said is dropped.
 */
export interface RawAttribute {
  /** The attribute type, `NLA_TYPE_MASK` applied. */
  type: number;
  /** Its payload, copied out of the receive buffer. */
  data: Uint8Array;
}

/** Copies the payload at `offset` (`length` bytes) into a {@linkcode RawAttribute}. */
export function rawAttribute(
  bytes: Uint8Array,
  type: number,
  offset: number,
  length: number,
): RawAttribute {
  return { type, data: bytes.slice(offset, offset + length) };
}
