/**
 * Removing named network namespaces: detach the mount, remove the file,
 * tolerate what is already gone, and retry a busy file for a bounded time.
 *
 * @module
 */

import { MNT, umount2 } from "../../ffi/syscalls.ts";
import { NsnetError, SyscallError } from "../errors.ts";
import { debug } from "../log.ts";
import { checkFault } from "./_faults.ts";
import type { NetNS } from "./netns.ts";

/** Options for {@linkcode unmountNS}. */
export interface UnmountOptions {
  /** How long to keep retrying a file that is busy (EBUSY), in ms. Default 10 s. */
  busyTimeoutMs?: number;
}

/**
 * Unmounts and removes a namespace file, closing the handle if one is given.
 * Paths under `/proc` (a process's own namespace) are only closed. A mount
 * or file that is already gone is not an error; the namespace itself lives
 * on while a process or open fd still uses it. A file left by a crash or a
 * reboot (no namespace behind it) is removed too.
 *
 * Needs root, or a script inside nsnet's user namespace (`nsnet unshare`,
 * where the run dir is `$XDG_RUNTIME_DIR/netns`); `--allow-ffi`,
 * `--allow-read` and `--allow-write` for the run dir.
 *
 * @example `ip netns del blue`
 * ```ts
 * import { unmountNS } from "@nsnet/nsnet";
 *
 * unmountNS("/run/netns/blue");
 * ```
 */
export function unmountNS(
  ns: NetNS | string,
  options: UnmountOptions = {},
): void {
  const path = typeof ns === "string" ? ns : ns.path;
  if (typeof ns !== "string") ns.close();
  if (path.startsWith("/proc/")) return;
  detachAndRemove(path, options.busyTimeoutMs);
}

/**
 * Lazily unmounts `path` and removes the file. A file that is still a mount
 * point here (mounts stacked on it, or one made in between) is busy: detach
 * again and retry every 10 ms until `busyTimeoutMs` has passed.
 */
export function detachAndRemove(path: string, busyTimeoutMs = 10_000): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    detach(path);
    try {
      checkFault("remove-busy");
      Deno.removeSync(path);
      debug(`removed namespace ${path}`);
      return;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      // Deno raises EBUSY from unlink as a plain Error carrying the code.
      const busy = (error as { code?: string }).code === "EBUSY" ||
        isInjected(error);
      if (!busy || Date.now() >= deadline) {
        throw new NsnetError(
          `cannot remove namespace file ${path}: ${(error as Error).message}`,
          {
            hint: busy
              ? `still mounted after ${busyTimeoutMs} ms: see \`grep ${path} /proc/self/mountinfo\``
              : undefined,
            cause: error,
          },
        );
      }
      sleepSync(10);
    }
  }
}

function detach(path: string): void {
  try {
    umount2(path, MNT.DETACH);
  } catch (error) {
    // EINVAL: not a mount point (a stale file, or done); ENOENT: already gone.
    if (
      !(error instanceof SyscallError) ||
      (error.code !== "EINVAL" && error.code !== "ENOENT")
    ) {
      throw error;
    }
  }
}

function isInjected(error: unknown): boolean {
  return error instanceof NsnetError &&
    error.message.startsWith("injected fault");
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
