/**
 * The holder of the rootless namespace's prepared mount namespace: a process
 * that applied S6's mounts once and then just waits, so that each command
 * joins its namespaces (user, mount, network) and takes a private copy of
 * the mounts, instead of applying five binds anew every time (each a `mount`
 * run). Started with the namespace, checked on every use, restarted when it
 * died, stopped (pidfd, identity checked) at teardown.
 *
 * @module
 */

import {
  close,
  getuid,
  pidfdOpen,
  pidfdSendSignal,
} from "../../ffi/syscalls.ts";
import { NsnetError } from "../errors.ts";
import { debug } from "../log.ts";
import { pausePid, seenFromHere, type UserNSAccess } from "./access.ts";
import {
  insideMountPlan,
  type MountStep,
  pathWithSbin,
  type SpawnInsideOptions,
  spawnWithMounts,
} from "./inside.ts";
import type { RootlessPaths } from "./state.ts";

/** The holder's argv[0]: how it is recognised. */
export const HOLDER_NAME = "nsnet-inside";

/**
 * Whether `pid` is this user's holder for the namespace whose network
 * namespace is `netns` (as `net:[inode]`, what /proc/PID/ns/net reads).
 */
export function isHolderProcess(
  pid: number | undefined,
  netns: string,
): boolean {
  if (pid === undefined) return false;
  try {
    if (
      Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0] !==
        HOLDER_NAME
    ) return false;
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) !== getuid()) return false;
    return Deno.readLinkSync(`/proc/${pid}/ns/net`) === netns;
  } catch {
    return false;
  }
}

/** The `net:[inode]` text of the network namespace mounted at `path`. */
export function netnsLink(path: string): string {
  return `net:[${Deno.statSync(path).ino}]`;
}

/** Options for {@linkcode startHolder}. */
export interface StartHolderOptions {
  /** How the user namespace is reached. */
  access: UserNSAccess;
  /** Called with the holder's pid as soon as it exists (to record it). */
  onSpawn?: (pid: number) => void;
  /** S6's mounts, when the caller worked them out already; else read now. */
  plan?: readonly MountStep[];
  /** How long its mounts may take; default 5000 ms. */
  timeoutMs?: number;
}

/**
 * Starts the holder for the rootless namespace in `paths` (from inside the
 * user namespace) and returns its pid once its mounts are in place.
 */
export async function startHolder(
  paths: RootlessPaths,
  options: StartHolderOptions,
): Promise<number> {
  const { access, onSpawn = () => {}, timeoutMs = 5000 } = options;
  const child = spawnWithMounts(
    paths.netns,
    options.plan ?? insideMountPlan(paths),
    ["bash", "-c", `exec -a ${HOLDER_NAME} sleep infinity`],
    {
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      detach: true,
      joinUserNamespaceOf: pausePid(access),
      fstabDir: paths.dir,
    },
  );
  onSpawn(child.pid);
  const netns = netnsLink(seenFromHere(access, paths.netns));
  const exited = child.status;
  let done: Deno.CommandStatus | undefined;
  exited.then((s) => done = s);
  const deadline = Date.now() + timeoutMs;
  while (!isHolderProcess(child.pid, netns)) {
    if (done !== undefined) {
      const stderr = new TextDecoder().decode(
        new Uint8Array(await new Response(child.stderr).arrayBuffer()),
      ).trim();
      throw new NsnetError(
        `cannot prepare the rootless namespace's mounts: ${
          stderr || `exit ${done.code}`
        }`,
      );
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new NsnetError(
        `the rootless namespace's mounts were not ready within ${timeoutMs} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  child.stderr.cancel().catch(() => {});
  child.unref();
  debug(`holder of ${paths.netns}: pid ${child.pid}`);
  return child.pid;
}

/**
 * Spawns `command` in the holder's namespaces: its user, mount and network
 * namespaces, then a private copy of the mounts (still receiving the host's
 * mount events) so that the command's own mounts stay its own.
 */
export function spawnInHolder(
  holderPid: number,
  command: readonly string[],
  options: SpawnInsideOptions = {},
): Deno.ChildProcess {
  // Joining the user namespace one is already in is EINVAL: only from outside.
  const sameUserNS = Deno.readLinkSync("/proc/self/ns/user") ===
    Deno.readLinkSync(`/proc/${holderPid}/ns/user`);
  return new Deno.Command("nsenter", {
    args: [
      "--target",
      String(holderPid),
      ...(sameUserNS ? [] : ["--user"]),
      "--mount",
      "--net",
      "--",
      "unshare",
      "--mount",
      "--propagation",
      "unchanged",
      "--",
      ...command,
    ],
    env: { PATH: pathWithSbin(), ...options.env },
    stdin: options.stdin ?? "inherit",
    stdout: options.stdout ?? "inherit",
    stderr: options.stderr ?? "inherit",
  }).spawn();
}

/**
 * Stops the holder `pid` if it is one of this user's holders (its namespace
 * is not checked: after a reboot or crash it may be in a stale one). Through
 * a pidfd, so a reused pid is never hit. Missing is fine.
 */
export function stopHolder(pid: number | undefined): void {
  if (pid === undefined) return;
  let pidfd: number;
  try {
    pidfd = pidfdOpen(pid);
  } catch {
    return; // gone
  }
  try {
    const argv0 = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0];
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    if (argv0 === HOLDER_NAME && uid === getuid()) pidfdSendSignal(pidfd, 9);
  } catch {
    // exited in between
  } finally {
    close(pidfd);
  }
}
