/**
 * Sockets that carry a client's own address into a namespace, for the
 * forwarder thread (`_forwarder_worker.ts`): made with `IP_TRANSPARENT`
 * (`IPV6_TRANSPARENT`) and bound to the client's address before they
 * connect to the sandbox, so the server inside sees the real peer. The
 * namespace must deliver the answers to them: see
 * {@linkcode clientAddressBatch} (`client_address.ts`).
 *
 * Calls here are synchronous on the calling thread (so made inside the
 * namespace the thread is in), except the UDP receive, a `nonblocking` FFI
 * call on Deno's blocking pool that {@linkcode TransparentUdp.close} wakes
 * with `shutdown()`. Private to lib/ports.
 *
 * @module
 */

import { Errno } from "../../ffi/errno.ts";
import {
  bind,
  connect,
  setsockoptInt,
  SOCK,
  socket,
} from "../../ffi/socket.ts";
import { close } from "../../ffi/syscalls.ts";
import { SyscallError } from "../errors.ts";
import { AF } from "../netlink/constants.ts";
import { tryParseIP } from "../netlink/ip_address.ts";

const SOL_IP = 0;
const IP_TRANSPARENT = 19;
const SOL_IPV6 = 41;
const IPV6_TRANSPARENT = 75;
const MSG_DONTWAIT = 0x40;
const SHUT_RDWR = 2;

/** A `sockaddr_in`/`sockaddr_in6` for an IP literal; undefined if it is none. */
export function sockaddrOf(
  hostname: string,
  port: number,
): { family: number; bytes: Uint8Array<ArrayBuffer> } | undefined {
  const ip = tryParseIP(hostname);
  if (ip === undefined) return undefined;
  const v6 = ip.bytes.length === 16;
  const bytes = new Uint8Array(v6 ? 28 : 16);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, v6 ? AF.INET6 : AF.INET, true);
  view.setUint16(2, port, false);
  bytes.set(ip.bytes, v6 ? 8 : 4);
  return { family: v6 ? AF.INET6 : AF.INET, bytes };
}

/** `::ffff:a.b.c.d` as `a.b.c.d`; anything else unchanged. */
export function unmapped(hostname: string): string {
  const lower = hostname.toLowerCase();
  return lower.startsWith("::ffff:") && lower.includes(".")
    ? lower.slice(7)
    : hostname;
}

/**
 * Whether a client's address can be kept on the way to `sandbox`: same
 * family, and not a loopback address (127/8, ::1), which no other
 * namespace could answer.
 */
export function keepable(client: string, sandbox: string): boolean {
  const c = tryParseIP(client);
  const s = tryParseIP(sandbox);
  if (c === undefined || s === undefined) return false;
  if (c.bytes.length !== s.bytes.length) return false;
  if (c.bytes.length === 4) return c.bytes[0] !== 127;
  return !c.bytes.every((b, i) => b === (i === 15 ? 1 : 0));
}

/** A socket of `type` with the transparent option on, bound to `client`:`port`. */
function transparentSocket(
  type: number,
  client: string,
  port: number,
): { fd: number; family: number } {
  const local = sockaddrOf(client, port)!;
  const fd = socket(local.family, type | SOCK.CLOEXEC, 0);
  try {
    if (local.family === AF.INET) {
      setsockoptInt(fd, SOL_IP, IP_TRANSPARENT, 1);
    } else {
      setsockoptInt(fd, SOL_IPV6, IPV6_TRANSPARENT, 1);
    }
    try {
      bind(fd, local.bytes);
    } catch (error) {
      // The client's own port is taken here (another session): any port.
      if (
        port === 0 || !(error instanceof SyscallError) ||
        error.errno !== Errno.EADDRINUSE
      ) throw error;
      bind(fd, sockaddrOf(client, 0)!.bytes);
    }
  } catch (error) {
    close(fd);
    throw error;
  }
  return { fd, family: local.family };
}

const SYMBOLS = {
  recvAsync: {
    name: "recv",
    parameters: ["i32", "buffer", "usize", "i32"],
    result: "isize",
    nonblocking: true,
  },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

function pool(): Deno.DynamicLibrary<typeof SYMBOLS> {
  return lib ??= Deno.dlopen(
    Deno.env.get("NSNET_LIBC") ?? "libc.so.6",
    SYMBOLS,
  );
}

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A TCP connection to `target`:`port` from `client` (port chosen by the
 * kernel), made on this thread; resolves with the connected fd (non-blocking)
 * for `new net.Socket({ fd })`.
 */
export async function connectTransparent(
  client: string,
  target: string,
  port: number,
): Promise<number> {
  const { fd } = transparentSocket(SOCK.STREAM | SOCK.NONBLOCK, client, 0);
  const remote = sockaddrOf(target, port)!.bytes;
  try {
    if (connect(fd, remote)) return fd;
    const deadline = Date.now() + CONNECT_TIMEOUT_MS;
    for (let delay = 1;; delay = Math.min(delay * 2, 20)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        if (connect(fd, remote)) return fd;
      } catch (error) {
        if (error instanceof SyscallError && error.errno === Errno.EISCONN) {
          return fd;
        }
        if (!(error instanceof SyscallError) || error.code !== "EALREADY") {
          throw error;
        }
      }
      if (Date.now() > deadline) {
        throw new Error(`connect ${target}:${port}: no answer`);
      }
    }
  } catch (error) {
    close(fd);
    throw error;
  }
}

/** A UDP socket bound to a client's address and connected to the sandbox. */
export class TransparentUdp {
  readonly #fd: number;
  #closed = false;
  #receiving = false;

  /** Binds to `client`:`clientPort` (any port if that one is taken) and connects to `target`:`port`. */
  constructor(
    client: string,
    clientPort: number,
    target: string,
    port: number,
  ) {
    const { fd } = transparentSocket(SOCK.DGRAM, client, clientPort);
    try {
      connect(fd, sockaddrOf(target, port)!.bytes);
    } catch (error) {
      close(fd);
      throw error;
    }
    this.#fd = fd;
  }

  /** Sends one datagram to the sandbox; false if it could not be queued. */
  send(data: Uint8Array): boolean {
    if (this.#closed) return false;
    const copy = new Uint8Array(data);
    const n = pool().symbols.send(
      this.#fd,
      copy,
      BigInt(copy.length),
      MSG_DONTWAIT,
    );
    return Number(n) >= 0;
  }

  /** Calls `onReply` with each datagram the sandbox answers, until closed. */
  async receive(onReply: (data: Uint8Array) => void): Promise<void> {
    if (this.#receiving) return;
    this.#receiving = true;
    const buffer = new Uint8Array(65536);
    try {
      while (!this.#closed) {
        const n = Number(
          await pool().symbols.recvAsync(
            this.#fd,
            buffer,
            BigInt(buffer.length),
            0,
          ),
        );
        if (this.#closed) break;
        // -1 is ECONNREFUSED (an ICMP error for an earlier datagram) or EINTR:
        // both leave the socket usable. 0 after shutdown is the end.
        if (n < 0) continue;
        onReply(buffer.slice(0, n));
      }
    } finally {
      close(this.#fd);
    }
  }

  /** Wakes the receive and closes the socket once it has returned. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    pool().symbols.shutdown(this.#fd, SHUT_RDWR);
    if (!this.#receiving) close(this.#fd);
  }
}
