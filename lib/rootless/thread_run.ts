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
 * The worker's code is `_thread_run_worker.ts`; only the function itself
 * travels as text.
 *
 * @module
 */

import { close, O, openPath } from "../../ffi/syscalls.ts";
import { NsnetError, SyscallError } from "../errors.ts";
import { workerUrl } from "../worker.ts";

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

/** What `run` sends its thread: the namespaces' fds and the function. */
export interface ThreadRunRequest {
  /** An fd of the network namespace to enter. */
  netFd: number;
  /** An fd of the mount namespace to copy. */
  mntFd: number;
  /** The function's source text. */
  source: string;
  /** Its arguments (structured-cloned). */
  args: unknown[];
}

/** What the thread answers: the value, or what failed. */
export interface ThreadRunAnswer {
  /** Whether the function returned. */
  ok: boolean;
  /** The call that failed while entering the namespaces, if one did. */
  entering?: { call: string; subject: string; errno: number };
  /** What the function returned. */
  value?: unknown;
  /** The name of what the function threw. */
  name?: string;
  /** Its message. */
  message?: string;
  /** Its stack. */
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
  const netFd = openPath(netnsPath, O.RDONLY);
  let mntFd = -1;
  let worker: Worker | undefined;
  try {
    mntFd = openPath(mntnsPath, O.RDONLY);
    worker = new Worker(workerUrl("rootless/_thread_run_worker"), {
      type: "module",
    });
    const answer = await new Promise<ThreadRunAnswer>((resolve, reject) => {
      worker!.onmessage = (event: MessageEvent<ThreadRunAnswer>): void =>
        resolve(event.data);
      worker!.onerror = (event) => {
        event.preventDefault();
        reject(
          new NsnetError(
            `the thread running the function failed: ${event.message}`,
          ),
        );
      };
      const request: ThreadRunRequest = { netFd, mntFd, source, args };
      worker!.postMessage(request);
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
