/**
 * A function run inside the rootless namespace on a thread of its own, for
 * `RootlessNetNS.run(fn)`. Inside nsnet's user namespace a thread can enter
 * the rootless network namespace but never return to the host's (that
 * namespace belongs to the initial user namespace), so the caller's threads
 * never move: a Worker (its own OS thread) enters the network namespace,
 * then a private copy of the holder's mount namespace (S6's mounts), runs
 * the function, answers, and is terminated.
 *
 * A function cannot cross to another thread with its closure: it travels as
 * its source text, so it must be self-contained (no free variables but
 * globals), and its arguments and result are structured-cloned. What it does
 * on the Worker's own thread happens inside: sockets (`Deno.listen`,
 * `Deno.connect`), child processes, synchronous file calls. Deno runs
 * asynchronous file calls on other threads, which stay in the host's mount
 * namespace.
 *
 * The Worker's code is self-contained (it opens libc itself) and loaded from
 * a data URL, so that it survives `deno bundle` and `deno compile`.
 *
 * @module
 */

import { close, O, openPath } from "../../ffi/syscalls.ts";
import { getEnv } from "../env.ts";
import { NsnetError, SyscallError } from "../errors.ts";

const WORKER_SOURCE = `
const lib = Deno.dlopen(LIBC, {
  setns: { parameters: ["i32", "i32"], result: "i32" },
  unshare: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
});
const CLONE_FS = 0x200, CLONE_NEWNS = 0x20000, CLONE_NEWNET = 0x40000000;
const errno = () => {
  const cell = new Int32Array(1);
  lib.symbols.memcpy(cell, lib.symbols.__errno_location(), 4n);
  return cell[0];
};
self.onmessage = async (event) => {
  const { netFd, mntFd, source, args } = event.data;
  const steps = [
    ["setns", "network namespace", () => lib.symbols.setns(netFd, CLONE_NEWNET)],
    // A thread sharing its filesystem context cannot change mount namespace.
    ["unshare", "CLONE_FS", () => lib.symbols.unshare(CLONE_FS)],
    ["setns", "mount namespace", () => lib.symbols.setns(mntFd, CLONE_NEWNS)],
    // A private copy: what the function mounts stays its own.
    ["unshare", "CLONE_NEWNS", () => lib.symbols.unshare(CLONE_NEWNS)],
  ];
  for (const [call, subject, run] of steps) {
    if (run() !== 0) {
      self.postMessage({ ok: false, entering: { call, subject, errno: errno() } });
      return;
    }
  }
  try {
    const fn = (0, eval)("(" + source + ")");
    const value = await fn(...args);
    self.postMessage({ ok: true, value });
  } catch (error) {
    self.postMessage({
      ok: false,
      name: error?.name ?? "Error",
      message: error?.message ?? String(error),
      stack: error?.stack,
    });
  }
};
`;

/** Raised when the function given to `run` threw: its name, message and stack. */
export class ThreadRunError extends NsnetError {
  /** The name of the error the function threw (`TypeError`, …). */
  readonly thrownName: string;

  /** Makes the error from what the thread reported. */
  constructor(name: string, message: string, stack?: string) {
    super(`${name}: ${message}`);
    this.name = "ThreadRunError";
    this.thrownName = name;
    if (stack) this.stack = `${this.name}: ${this.message}\n${stack}`;
  }
}

interface Answer {
  ok: boolean;
  entering?: { call: string; subject: string; errno: number };
  value?: unknown;
  name?: string;
  message?: string;
  stack?: string;
}

/**
 * Runs `fn(...args)` on a throwaway thread inside the network namespace at
 * `netnsPath` and a private copy of the mount namespace at `mntnsPath`, and
 * returns its result. See the module documentation for what `fn` may do.
 */
export async function runOnThrowawayThread<A extends unknown[], R>(
  netnsPath: string,
  mntnsPath: string,
  fn: (...args: A) => R | Promise<R>,
  args: A,
): Promise<Awaited<R>> {
  const source = fn.toString();
  if (/^\s*class\b/.test(source) || source.includes("[native code]")) {
    throw new NsnetError("run() needs a function written in JavaScript", {
      hint: "pass an arrow function or a function expression",
    });
  }
  const libcPath = JSON.stringify(getEnv("NSNET_LIBC") ?? "libc.so.6");
  const url = `data:application/javascript;base64,${
    btoa(`const LIBC = ${libcPath};\n${WORKER_SOURCE}`)
  }`;
  const netFd = openPath(netnsPath, O.RDONLY);
  let mntFd = -1;
  let worker: Worker | undefined;
  try {
    mntFd = openPath(mntnsPath, O.RDONLY);
    worker = new Worker(url, { type: "module" });
    const answer = await new Promise<Answer>((resolve, reject) => {
      worker!.onmessage = (event) => resolve(event.data as Answer);
      worker!.onerror = (event) => {
        event.preventDefault();
        reject(
          new NsnetError(
            `the thread running the function failed: ${event.message}`,
          ),
        );
      };
      worker!.postMessage({ netFd, mntFd, source, args });
    });
    if (answer.ok) return answer.value as Awaited<R>;
    if (answer.entering) {
      const { call, subject, errno } = answer.entering;
      throw new SyscallError(call, errno, subject, {
        hint:
          "run() works inside nsnet's user namespace (`nsnet unshare`); from outside use spawn()",
      });
    }
    throw new ThreadRunError(
      answer.name ?? "Error",
      answer.message ?? "",
      answer.stack,
    );
  } finally {
    worker?.terminate();
    if (mntFd >= 0) close(mntFd);
    close(netFd);
  }
}
