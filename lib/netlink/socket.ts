/**
 * The rtnetlink transport: a NETLINK_ROUTE socket created inside a given
 * namespace, and the three exchanges nsnet needs — a request answered by an
 * ACK, a request answered by one message, and a dump.
 *
 * The namespace of a netlink socket is fixed when `socket()` runs, so only
 * that call happens inside the namespace; later sends and receives can be
 * made from anywhere. Receives block the calling thread: the kernel answers
 * rtnetlink requests at once.
 *
 * @module
 */

import { close } from "../../ffi/syscalls.ts";
import {
  bind,
  getsockname,
  MSG,
  recv,
  recvIfQueued,
  sendto,
  setsockoptInt,
  SOCK,
  socket,
} from "../../ffi/socket.ts";
import { NsnetError } from "../errors.ts";
import type { NetNS } from "../netns/netns.ts";
import {
  align,
  type MessageHeader,
  type MessageWriter,
  readHeader,
  replyStatus,
} from "./codec.ts";
import { NETLINK, NLM_F, NLMSG, SIZE } from "./constants.ts";
import {
  NetlinkDecodeError,
  NetlinkDumpInterruptedError,
  NetlinkError,
} from "./errors.ts";

/** The smallest receive buffer: the kernel sizes dump datagrams up to 32 KiB. */
export const MIN_RECEIVE_BUFFER = 32 * 1024;

/** How often an interrupted dump is retried before it is reported. */
export const DEFAULT_DUMP_RETRIES = 10;

/** Options for {@linkcode NetlinkSocket.open}. */
export interface NetlinkSocketOptions {
  /** Receive buffer size in bytes (at least 32 KiB; grown for larger messages). */
  bufferSize?: number;
  /** Turn on NETLINK_GET_STRICT_CHK, so dump filters are honoured (default true). */
  strictCheck?: boolean;
  /** How many times to retry an interrupted dump (default 10). */
  dumpRetries?: number;
}

/**
 * Decodes one data message of a reply. `body` is the offset after the
 * netlink header and `end` the end of the message. Return undefined to skip it.
 * `header` is given to decoders declared with it (a fifth parameter, or a
 * rest parameter); a dump does not build it for those declared without.
 */
export type MessageDecoder<T> = (
  bytes: Uint8Array,
  view: DataView,
  body: number,
  end: number,
  header: MessageHeader,
) => T | undefined;

const SOCKADDR_NL_SIZE = 12;

function kernelAddress(): Uint8Array<ArrayBuffer> {
  const address = new Uint8Array(SOCKADDR_NL_SIZE);
  new DataView(address.buffer).setUint16(0, NETLINK.AF_NETLINK, true);
  return address;
}

/** An open NETLINK_ROUTE socket bound to one network namespace. */
export class NetlinkSocket {
  /** The port id the kernel assigned at bind time. */
  readonly portId: number;
  #fd: number;
  #seq: number;
  #bytes: Uint8Array<ArrayBuffer>;
  #view: DataView<ArrayBuffer>;
  readonly #dumpRetries: number;
  #retried = 0;
  #inFlight = false;
  readonly #peer = kernelAddress();

  /** Wraps a bound socket. Use {@linkcode NetlinkSocket.open} instead. */
  constructor(fd: number, portId: number, options: NetlinkSocketOptions = {}) {
    this.#fd = fd;
    this.portId = portId;
    this.#seq = Math.floor(Math.random() * 0x7fff_0000) + 1;
    this.#bytes = new Uint8Array(
      Math.max(options.bufferSize ?? 0, MIN_RECEIVE_BUFFER),
    );
    this.#view = new DataView(this.#bytes.buffer);
    this.#dumpRetries = options.dumpRetries ?? DEFAULT_DUMP_RETRIES;
  }

  /**
   * Opens a socket in namespace `ns` (the calling thread's when omitted):
   * `socket()` runs inside it on this thread, the rest outside.
   */
  static open(ns?: NetNS, options: NetlinkSocketOptions = {}): NetlinkSocket {
    const create = (): number =>
      socket(NETLINK.AF_NETLINK, SOCK.RAW | SOCK.CLOEXEC, NETLINK.ROUTE);
    const fd = ns === undefined
      ? create()
      : ns.socket(NETLINK.AF_NETLINK, SOCK.RAW | SOCK.CLOEXEC, NETLINK.ROUTE);
    try {
      bind(fd, kernelAddress());
      const address = new Uint8Array(SOCKADDR_NL_SIZE);
      getsockname(fd, address);
      const portId = new DataView(address.buffer).getUint32(4, true);
      setsockoptInt(fd, NETLINK.SOL_NETLINK, NETLINK.EXT_ACK, 1);
      if (options.strictCheck ?? true) {
        setsockoptInt(fd, NETLINK.SOL_NETLINK, NETLINK.GET_STRICT_CHK, 1);
      }
      return new NetlinkSocket(fd, portId, options);
    } catch (error) {
      close(fd);
      throw error;
    }
  }

  /** How many dumps this socket has run again because the kernel flagged them interrupted. */
  get retriedDumps(): number {
    return this.#retried;
  }

  /** Whether {@linkcode NetlinkSocket.close} has been called. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Closes the socket. Idempotent. */
  close(): void {
    if (this.#fd >= 0) {
      const fd = this.#fd;
      this.#fd = -1;
      close(fd);
    }
  }

  /** Closes the socket at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  #send(writer: MessageWriter): number {
    if (this.#fd < 0) throw new NsnetError("netlink socket is closed");
    if (this.#inFlight) this.#drain();
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    sendto(this.#fd, writer.finish(this.#seq, this.portId), 0, this.#peer);
    this.#inFlight = true;
    return this.#seq;
  }

  /**
   * Discards what is left of an exchange abandoned half-way (its decoder
   * threw): the kernel refuses a new dump with EBUSY while one is unfinished.
   * Each receive makes the kernel queue the dump's next part, so the queue
   * runs empty exactly when the dump is over.
   */
  #drain(): void {
    while (
      recvIfQueued(this.#fd, this.#bytes, this.#bytes.length, 0) !== undefined
    ) {
      // discard
    }
    this.#inFlight = false;
  }

  /** Receives one datagram into the buffer, growing it first if the datagram is larger. */
  #receive(): number {
    // A zero-length peek with MSG_TRUNC returns the datagram's size without copying it.
    const size = recv(this.#fd, this.#bytes, 0, MSG.PEEK | MSG.TRUNC);
    if (size > this.#bytes.length) {
      this.#bytes = new Uint8Array(align(size) + 4096);
      this.#view = new DataView(this.#bytes.buffer);
    }
    return recv(this.#fd, this.#bytes, this.#bytes.length, 0);
  }

  /**
   * Walks the replies to request `seq` until `step` returns true. Messages of
   * other requests (left over from an abandoned exchange) and other ports are
   * skipped. Returns whether any reply carried NLM_F_DUMP_INTR. The header
   * is read in place: `step` gets its fields, and an object only when it
   * asks for one (#headerAt), which dumps of 100k messages spare.
   */
  #replies(
    seq: number,
    step: (offset: number, length: number, type: number) => boolean,
  ): boolean {
    let interrupted = false;
    for (;;) {
      const end = this.#receive();
      const view = this.#view;
      let offset = 0;
      while (offset + SIZE.NLMSGHDR <= end) {
        const length = view.getUint32(offset, true);
        if (length < SIZE.NLMSGHDR || offset + length > end) {
          throw new NetlinkDecodeError(
            `message length ${length} does not fit the ${
              end - offset
            } bytes left`,
            offset,
          );
        }
        if (
          view.getUint32(offset + 8, true) === seq &&
          view.getUint32(offset + 12, true) === this.portId
        ) {
          const type = view.getUint16(offset + 4, true);
          if ((view.getUint16(offset + 6, true) & NLM_F.DUMP_INTR) !== 0) {
            interrupted = true;
          }
          if (type === NLMSG.DONE || type === NLMSG.ERROR) {
            this.#inFlight = false;
          }
          if (step(offset, length, type)) {
            this.#inFlight = false;
            return interrupted;
          }
        }
        offset += align(length);
      }
      if (offset < end) {
        throw new NetlinkDecodeError(
          "trailing bytes after the last message",
          offset,
        );
      }
    }
  }

  /** The header of the message at `offset` of the current datagram, as an object. */
  #headerAt(offset: number, length: number): MessageHeader {
    const view = this.#view;
    return {
      length,
      type: view.getUint16(offset + 4, true),
      flags: view.getUint16(offset + 6, true),
      seq: view.getUint32(offset + 8, true),
      pid: view.getUint32(offset + 12, true),
    };
  }

  /** Raises the kernel's error for a failed request, with its extended-ACK text. */
  #check(
    offset: number,
    length: number,
    type: number,
    operation: string,
  ): "data" | "end" {
    if (type !== NLMSG.DONE && type !== NLMSG.ERROR) return "data";
    const status = replyStatus(
      this.#bytes,
      this.#view,
      offset,
      this.#headerAt(offset, length),
    );
    if (status.kind === "data") return "data";
    if (status.error < 0) {
      throw new NetlinkError(operation, -status.error, status.message);
    }
    return "end";
  }

  /** Sends a request built by `writer` with NLM_F_ACK and waits for the kernel's ACK. */
  execute(writer: MessageWriter, operation: string): void {
    const seq = this.#send(writer);
    this.#replies(
      seq,
      (offset, length, type) =>
        this.#check(offset, length, type, operation) === "end",
    );
  }

  /**
   * Sends a request answered by one message (a GET without NLM_F_DUMP) and
   * decodes the answer.
   */
  get<T>(
    writer: MessageWriter,
    operation: string,
    decode: MessageDecoder<T>,
  ): T {
    const seq = this.#send(writer);
    let result: T | undefined;
    this.#replies(seq, (offset, length, type) => {
      if (this.#check(offset, length, type, operation) === "end") {
        throw new NetlinkDecodeError(
          "the kernel answered without a message",
          offset,
        );
      }
      result = decode(
        this.#bytes,
        this.#view,
        offset + SIZE.NLMSGHDR,
        offset + length,
        this.#headerAt(offset, length),
      );
      return result !== undefined;
    });
    return result!;
  }

  /**
   * Sends a dump request built by `writer` (which must carry NLM_F_DUMP) and
   * decodes every message until NLMSG_DONE. A dump interrupted by concurrent
   * changes is run again, up to the retry limit, then reported.
   */
  dump<T>(
    writer: MessageWriter,
    operation: string,
    decode: MessageDecoder<T>,
  ): T[] {
    // A decoder declared with four parameters or fewer (nsnet's own) never
    // sees the header: it is not built for each of a dump's messages then.
    const wantsHeader = decode.length === 0 || decode.length > 4;
    for (let attempt = 1;; attempt++) {
      const results: T[] = [];
      const seq = this.#send(writer);
      const interrupted = this.#replies(seq, (offset, length, type) => {
        if (this.#check(offset, length, type, operation) === "end") {
          return true;
        }
        const item = decode(
          this.#bytes,
          this.#view,
          offset + SIZE.NLMSGHDR,
          offset + length,
          wantsHeader ? this.#headerAt(offset, length) : undefined!,
        );
        if (item !== undefined) results.push(item);
        return false;
      });
      if (!interrupted) return results;
      if (attempt > this.#dumpRetries) {
        throw new NetlinkDumpInterruptedError(operation, attempt);
      }
      this.#retried++;
    }
  }

  /**
   * Sends a dump request and returns the raw reply datagrams, unchanged
   * (for captures, tests and benchmarks of the decoder).
   */
  dumpRaw(writer: MessageWriter): Uint8Array[] {
    const seq = this.#send(writer);
    const datagrams: Uint8Array[] = [];
    for (;;) {
      const length = this.#receive();
      datagrams.push(this.#bytes.slice(0, length));
      let offset = 0;
      while (offset + SIZE.NLMSGHDR <= length) {
        const header = readHeader(this.#view, offset, length);
        if (
          header.seq === seq &&
          (header.type === NLMSG.DONE || header.type === NLMSG.ERROR)
        ) {
          this.#inFlight = false;
          return datagrams;
        }
        offset += align(header.length);
      }
    }
  }
}
