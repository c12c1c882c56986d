/**
 * A socket made inside a network namespace by a thread that then ends: for a
 * rootless caller, whose thread could enter the namespace but never come back
 * to the host's. A short-lived Worker (its own OS thread) enters, calls
 * `socket()`, hands the fd back through shared memory, and is terminated, so
 * nothing else ever runs on a thread in the wrong namespace.
 *
 * The worker's code is self-contained (it opens libc itself) and loaded from
 * a data URL, so it survives `deno bundle` and `deno compile`.
 *
 * @module
 */

import { SyscallError } from "../errors.ts";
import { getEnv } from "../env.ts";

const WORKER_SOURCE = `
const lib = Deno.dlopen(LIBC, {
  setns: { parameters: ["i32", "i32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
});
const errno = () => {
  const cell = new Int32Array(1);
  lib.symbols.memcpy(cell, lib.symbols.__errno_location(), 4n);
  return cell[0];
};
self.onmessage = (event) => {
  const { nsFd, domain, type, protocol, shared } = event.data;
  const cell = new Int32Array(shared);
  let result;
  if (lib.symbols.setns(nsFd, 0x40000000) !== 0) {
    result = [-1, errno(), 1];
  } else {
    const fd = lib.symbols.socket(domain, type, protocol);
    result = fd < 0 ? [-1, errno(), 2] : [fd, 0, 0];
  }
  cell[1] = result[0];
  cell[2] = result[1];
  cell[3] = result[2];
  Atomics.store(cell, 0, 1);
  Atomics.notify(cell, 0);
};
`;

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
  const libcPath = JSON.stringify(getEnv("NSNET_LIBC") ?? "libc.so.6");
  const source = `const LIBC = ${libcPath};\n${WORKER_SOURCE}`;
  const url = `data:application/javascript;base64,${btoa(source)}`;
  const shared = new SharedArrayBuffer(16);
  const cell = new Int32Array(shared);
  const worker = new Worker(url, { type: "module" });
  try {
    worker.postMessage({ nsFd, domain, type, protocol, shared });
    if (Atomics.wait(cell, 0, 0, timeoutMs) === "timed-out") {
      throw new SyscallError("socket", 110, subject, {
        hint:
          `the thread making the socket did not answer within ${timeoutMs} ms`,
      });
    }
  } finally {
    worker.terminate();
  }
  const [fd, code, step] = [cell[1]!, cell[2]!, cell[3]!];
  if (fd < 0) {
    throw new SyscallError(step === 1 ? "setns" : "socket", code, subject);
  }
  return fd;
}
