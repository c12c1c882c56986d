/**
 * A socket made inside a network namespace by a thread that then ends: for a
 * rootless caller, whose thread could enter the namespace but never come back
 * to the host's. A short-lived Worker (its own OS thread, code in
 * `_socket_worker.ts`) enters, calls `socket()`, hands the fd back through
 * shared memory, and is terminated, so nothing else ever runs on a thread in
 * the wrong namespace.
 *
 * @module
 */

import { Errno } from "../../ffi/errno.ts";
import { SyscallError } from "../errors.ts";
import { workerUrl } from "../worker.ts";

/** What the creating thread asks for. */
export interface SocketRequest {
  /** An fd of the network namespace to enter. */
  nsFd: number;
  /** `socket()`'s three arguments. */
  domain: number;
  /** See `domain`. */
  type: number;
  /** See `domain`. */
  protocol: number;
  /** 16 bytes, read as {@linkcode SOCKET_CELL}'s four `Int32` slots. */
  shared: SharedArrayBuffer;
}

/** The `Int32` slots of {@linkcode SocketRequest.shared}. */
export const SOCKET_CELL = {
  /** 0 until the answer is written, then 1 (wait and notify on it). */
  DONE: 0,
  /** The new socket's fd, or -1. */
  FD: 1,
  /** The errno of the call that failed. */
  ERRNO: 2,
  /** Which call failed: one of {@linkcode SOCKET_STEP}. */
  STEP: 3,
} as const;

/** Which call failed, in {@linkcode SOCKET_CELL.STEP}. */
export const SOCKET_STEP = { NONE: 0, SETNS: 1, SOCKET: 2 } as const;

/**
 * Creates a socket inside the network namespace behind `nsFd` on a throwaway
 * thread and returns its fd. Synchronous: the caller waits (at most
 * `timeoutMs`) for the thread to answer.
 */
export function socketOnThrowawayThread(
  nsFd: number,
  domain: number,
  type: number,
  protocol: number,
  subject: string,
  timeoutMs = 10_000,
): number {
  const shared = new SharedArrayBuffer(16);
  const cell = new Int32Array(shared);
  const worker = new Worker(workerUrl("netns/_socket_worker"), {
    type: "module",
  });
  try {
    const request: SocketRequest = { nsFd, domain, type, protocol, shared };
    worker.postMessage(request);
    if (Atomics.wait(cell, SOCKET_CELL.DONE, 0, timeoutMs) === "timed-out") {
      throw new SyscallError("socket", Errno.ETIMEDOUT, subject, {
        hint:
          `the thread making the socket did not answer within ${timeoutMs} ms`,
      });
    }
  } finally {
    worker.terminate();
  }
  const fd = cell[SOCKET_CELL.FD]!;
  if (fd < 0) {
    const step = cell[SOCKET_CELL.STEP]!;
    const call = step === SOCKET_STEP.SETNS ? "setns" : "socket";
    throw new SyscallError(call, cell[SOCKET_CELL.ERRNO]!, subject);
  }
  return fd;
}
