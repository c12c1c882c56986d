/**
 * The worker of `runOnThrowawayThread` (`thread_run.ts`): enters the
 * rootless network namespace, then a private copy of the holder's mount
 * namespace, evaluates the function it is sent as source text, runs it, and
 * posts its result or what it threw. The creator then terminates the thread.
 *
 * @module
 */

import { bindLibcSymbols } from "../../ffi/libc.ts";
import { CLONE, setns, unshare } from "../../ffi/syscalls.ts";
import { SyscallError } from "../errors.ts";
import { workerScope } from "../worker.ts";
import type { ThreadRunAnswer, ThreadRunRequest } from "./thread_run.ts";

function enter(netFd: number, mntFd: number): void {
  bindLibcSymbols(["setns", "unshare"]); // one dlopen for both
  setns(netFd, CLONE.NEWNET, "network namespace");
  // A thread sharing its filesystem context cannot change mount namespace.
  unshare(CLONE.FS);
  setns(mntFd, CLONE.NEWNS, "mount namespace");
  // A private copy: what the function mounts stays its own.
  unshare(CLONE.NEWNS);
}

const scope = workerScope<ThreadRunRequest, ThreadRunAnswer>();

scope.onmessage = async ({ data }): Promise<void> => {
  const { netFd, mntFd, source, args } = data;
  try {
    enter(netFd, mntFd);
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error;
    const { syscall: call, subject = "", errno } = error;
    scope.postMessage({ ok: false, entering: { call, subject, errno } });
    return;
  }
  try {
    // Indirect eval: the function sees globals only, as documented.
    // deno-lint-ignore no-eval
    const fn = (0, eval)(`(${source})`) as (...args: unknown[]) => unknown;
    const value = await fn(...args);
    scope.postMessage({ ok: true, value });
  } catch (error) {
    const thrown = error as { name?: string; message?: string; stack?: string };
    scope.postMessage({
      ok: false,
      name: thrown?.name ?? "Error",
      message: thrown?.message ?? String(error),
      stack: thrown?.stack,
    });
  }
};
