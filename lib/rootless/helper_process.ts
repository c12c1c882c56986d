/**
 * Recognising and stopping a network helper (slirp4netns, pasta) by its pid
 * file without ever hitting a foreign process: the pid is pinned with a pidfd
 * first, then checked to be the helper started for this namespace, and only
 * then signalled through the pidfd, so a reused pid cannot be hit.
 *
 * @module
 */

import {
  close,
  getuid,
  pidfdOpen,
  pidfdSendSignal,
} from "../../ffi/syscalls.ts";
import { SyscallError } from "../errors.ts";
import { warn } from "../log.ts";

/** What identifies the helper process of one namespace. */
export interface HelperIdentity {
  /** The helper's program name: `slirp4netns` or `pasta`. */
  program: string;
  /** The namespace path it was started for (it is on its command line). */
  netnsPath: string;
}

/** The pid in a pid file, or undefined when it is missing or holds no pid. */
export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(Deno.readTextFileSync(path).trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is this user's helper for the given namespace: its program
 * name matches and the namespace path is one of its arguments.
 */
export function isHelperProcess(
  pid: number,
  identity: HelperIdentity,
): boolean {
  try {
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    const program = argv[0]?.split("/").pop();
    if (program !== identity.program) return false;
    if (
      !argv.some((a) =>
        a === identity.netnsPath || a.endsWith(`=${identity.netnsPath}`)
      )
    ) {
      return false;
    }
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    if (/^State:\s+Z/m.test(status)) return false;
    return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === getuid();
  } catch {
    return false;
  }
}

/** What {@linkcode stopHelper} did. */
export type StopResult = "stopped" | "signalled" | "gone" | "refused";

/** Options for {@linkcode stopHelper}. */
export interface StopHelperOptions {
  /** How long SIGTERM has before SIGKILL follows; default 2000 ms. */
  graceMs?: number;
  /**
   * Wait until it has exited (default true). Without waiting it is only sent
   * SIGTERM, as Podman does: its exit takes the kernel 15–20 ms to tear its
   * tap device down, which a namespace that is gone need not wait for.
   */
  wait?: boolean;
}

const SIGTERM = 15;
const SIGKILL = 9;

/**
 * Stops the helper `pid` if, and only if, it is the helper described by
 * `identity`: SIGTERM, then SIGKILL after the grace time. A pid that names
 * another process (a tampered pid file, a reused pid) is refused with a
 * warning.
 */
export async function stopHelper(
  pid: number,
  identity: HelperIdentity,
  options: StopHelperOptions = {},
): Promise<StopResult> {
  const { graceMs = 2000, wait = true } = options;
  let pidfd: number;
  try {
    pidfd = pidfdOpen(pid);
  } catch (error) {
    if (error instanceof SyscallError && error.code === "ESRCH") return "gone";
    throw error;
  }
  try {
    if (hasExited(pid)) return "gone";
    // Checked after the pidfd pins the process: the pid cannot be reused in between.
    if (!isHelperProcess(pid, identity)) {
      warn(
        `not stopping pid ${pid}: it is not the ${identity.program} of ${identity.netnsPath} (tampered pid file or reused pid)`,
      );
      return "refused";
    }
    signal(pidfd, SIGTERM);
    if (!wait) return "signalled";
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      if (hasExited(pid)) return "stopped";
      await new Promise((r) => setTimeout(r, 1));
    }
    signal(pidfd, SIGKILL);
    while (!hasExited(pid)) await new Promise((r) => setTimeout(r, 1));
    return "stopped";
  } finally {
    close(pidfd);
  }
}

/**
 * Whether `pid` has finished exiting: reaped, or a zombie. Not merely "no
 * longer looks like the helper": an exiting process drops its memory (and its
 * command line) before it closes its files, so its ports would still be bound.
 */
function hasExited(pid: number): boolean {
  try {
    return /^State:\s+[ZX]/m.test(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return true;
  }
}

function signal(pidfd: number, sig: number): void {
  try {
    pidfdSendSignal(pidfd, sig);
  } catch (error) {
    if (!(error instanceof SyscallError) || error.code !== "ESRCH") throw error;
  }
}
