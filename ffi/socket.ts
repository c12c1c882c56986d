/**
 * Typed wrappers over the libc socket calls netlink needs. Each checks the
 * result, reads errno on the same thread right after a failure, and raises a
 * {@linkcode SyscallError}. All calls are synchronous (never `nonblocking`):
 * `socket()` must run on the thread that is inside the target namespace.
 *
 * @module
 */

import { SyscallError } from "../lib/errors.ts";
import { Errno } from "./errno.ts";
import { errno, libc } from "./libc.ts";

/** Socket type and flag constants (x86_64 and aarch64 share them). */
export const SOCK = {
  STREAM: 1,
  DGRAM: 2,
  RAW: 3,
  NONBLOCK: 0o4000,
  CLOEXEC: 0x80000,
} as const;

/** `recv` flags. */
export const MSG = { PEEK: 0x2, TRUNC: 0x20, DONTWAIT: 0x40 } as const;

/** `SOL_SOCKET` options. */
export const SOL_SOCKET = 1;
/** Socket option numbers at `SOL_SOCKET`. */
export const SO = { REUSEADDR: 2, SNDBUF: 7, RCVBUF: 8 } as const;

function fail(call: string, subject: string): never {
  throw new SyscallError(call, errno(), subject);
}

/** `socket(domain, type, protocol)`: returns the new fd. */
export function socket(domain: number, type: number, protocol: number): number {
  const fd = libc().socket(domain, type, protocol);
  if (fd < 0) fail("socket", `domain ${domain} protocol ${protocol}`);
  return fd;
}

/** `bind(fd, address)`. */
export function bind(fd: number, address: Uint8Array<ArrayBuffer>): void {
  if (libc().bind(fd, address, address.length) < 0) fail("bind", `fd ${fd}`);
}

/** `listen(fd, backlog)`. */
export function listen(fd: number, backlog: number): void {
  if (libc().listen(fd, backlog) < 0) fail("listen", `fd ${fd}`);
}

/**
 * `connect(fd, address)`. On a `SOCK.NONBLOCK` socket it returns false
 * instead of waiting (EINPROGRESS): the connection completes later, and the
 * socket turns writable when it has.
 */
export function connect(fd: number, address: Uint8Array<ArrayBuffer>): boolean {
  if (libc().connect(fd, address, address.length) === 0) return true;
  const code = errno();
  if (code === Errno.EINPROGRESS) return false;
  throw new SyscallError("connect", code, `fd ${fd}`);
}

/** `getsockname(fd)` into `address`; returns the length the kernel wrote. */
export function getsockname(
  fd: number,
  address: Uint8Array<ArrayBuffer>,
): number {
  const length = new Uint32Array([address.length]);
  if (libc().getsockname(fd, address, length) < 0) {
    fail("getsockname", `fd ${fd}`);
  }
  return length[0]!;
}

/** `setsockopt(fd, level, name, &value, 4)` for an int option. */
export function setsockoptInt(
  fd: number,
  level: number,
  name: number,
  value: number,
): void {
  const cell = new Int32Array([value]);
  if (libc().setsockopt(fd, level, name, cell, 4) < 0) {
    fail("setsockopt", `fd ${fd} level ${level} option ${name}`);
  }
}

/** `sendto(fd, data, flags, address)`: returns the bytes sent. */
export function sendto(
  fd: number,
  data: Uint8Array<ArrayBuffer>,
  flags: number,
  address: Uint8Array<ArrayBuffer>,
): number {
  const n = Number(
    libc().sendto(
      fd,
      data,
      BigInt(data.length),
      flags,
      address,
      address.length,
    ),
  );
  if (n < 0) fail("sendto", `fd ${fd}`);
  return n;
}

/**
 * `recv(fd, buffer, length, flags)`: returns the datagram's length (its full
 * length with `MSG_TRUNC`, even when larger than `length`). EINTR is retried.
 */
export function recv(
  fd: number,
  buffer: Uint8Array<ArrayBuffer>,
  length: number,
  flags: number,
): number {
  for (;;) {
    const n = Number(libc().recv(fd, buffer, BigInt(length), flags));
    if (n >= 0) return n;
    const code = errno();
    if (code !== Errno.EINTR) throw new SyscallError("recv", code, `fd ${fd}`);
  }
}

/**
 * `recv(fd, buffer, length, flags | MSG_DONTWAIT)`: the datagram's length, or
 * undefined when nothing is queued (EAGAIN). EINTR is retried.
 */
export function recvIfQueued(
  fd: number,
  buffer: Uint8Array<ArrayBuffer>,
  length: number,
  flags: number,
): number | undefined {
  for (;;) {
    const n = Number(
      libc().recv(fd, buffer, BigInt(length), flags | MSG.DONTWAIT),
    );
    if (n >= 0) return n;
    const code = errno();
    if (code === Errno.EAGAIN) return undefined;
    if (code !== Errno.EINTR) throw new SyscallError("recv", code, `fd ${fd}`);
  }
}
