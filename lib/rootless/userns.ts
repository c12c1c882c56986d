/**
 * nsnet's user namespace for rootless use. A Deno process has several threads
 * and can never enter or create a user namespace itself, so the CLI re-runs
 * itself inside one: held by a pause process (made with util-linux `unshare`,
 * mapping the user to root and their /etc/subuid ranges through newuidmap)
 * and joined with `nsenter`. The pause process also holds the mount namespace
 * in which rootless namespace files are mounted, so every nsnet run sees them.
 *
 * @module
 */

import { close, flock, getuid, LOCK, O, openPath } from "../../ffi/syscalls.ts";
import { getEnv } from "../env.ts";
import { NsnetError } from "../errors.ts";
import { waitForwardingSignals } from "../child.ts";
import { pathExists, writeFileAtomicSync } from "../fs.ts";
import { debug, warn } from "../log.ts";
import { nsRunDir } from "../netns/run_dir.ts";
import { isRootless } from "./detect.ts";
import { hostUid, rootlessStateDir } from "./runtime_dir.ts";

/** Marks a process that runs inside nsnet's user namespace. */
export const USERNS_ENV = "_NSNET_USERNS";
/** The name the pause process runs under (its argv[0]), how it is recognised. */
export const PAUSE_NAME = "nsnet-pause";

/** Whether this process runs inside nsnet's user namespace (re-entered, or under `nsnet unshare`). */
export function inNsnetUserNS(): boolean {
  return getEnv(USERNS_ENV) === "1" && isRootless();
}

/** Whether the calling user needs nsnet's user namespace: unprivileged and not yet inside. */
export function needsUserNS(): boolean {
  return getuid() !== 0 && !inNsnetUserNS();
}

/** A running pause process. */
export interface PauseProcess {
  /** Its pid. */
  pid: number;
  /** Whether it was started by this call. */
  started: boolean;
}

/** Path of the pause pid file: `$XDG_RUNTIME_DIR/nsnet/pause.pid`. */
export function pausePidFile(): string {
  return `${rootlessStateDir()}/pause.pid`;
}

/**
 * The pid in `pidFile` if it names a live pause process of this user that
 * holds a user namespace other than ours; undefined when the file is missing
 * or stale (process gone, pid reused by something else).
 */
export function livePause(
  pidFile: string = pausePidFile(),
): number | undefined {
  let pid: number;
  try {
    pid = Number(Deno.readTextFileSync(pidFile).trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return isPauseProcess(pid) ? pid : undefined;
}

/** Whether `pid` is one of this user's pause processes, in a user namespace of its own. */
export function isPauseProcess(pid: number): boolean {
  try {
    const argv0 = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0];
    if (argv0 !== PAUSE_NAME) return false;
    const uid = /^Uid:\s+(\d+)/m.exec(
      Deno.readTextFileSync(`/proc/${pid}/status`),
    )?.[1];
    if (Number(uid) !== getuid()) return false;
    return Deno.readLinkSync(`/proc/${pid}/ns/user`) !==
      Deno.readLinkSync("/proc/self/ns/user");
  } catch {
    return false;
  }
}

/** Whether the user has subordinate id ranges in /etc/subuid and /etc/subgid. */
export function hasSubordinateIds(user: string, uid: number): boolean {
  const listed = (file: string): boolean => {
    try {
      return Deno.readTextFileSync(file).split("\n").some((line) => {
        const owner = line.split(":")[0];
        return owner === user || owner === String(uid);
      });
    } catch {
      return false;
    }
  };
  return listed("/etc/subuid") && listed("/etc/subgid");
}

function userName(uid: number): string {
  const env = getEnv("USER") ?? getEnv("LOGNAME");
  if (env) return env;
  try {
    const line = Deno.readTextFileSync("/etc/passwd").split("\n").find((l) =>
      l.split(":")[2] === String(uid)
    );
    return line?.split(":")[0] ?? String(uid);
  } catch {
    return String(uid);
  }
}

/**
 * Finds this user's pause process, or starts one, under an exclusive lock so
 * that concurrent nsnet runs end up with exactly one.
 */
export async function ensurePause(): Promise<PauseProcess> {
  const dir = rootlessStateDir();
  const lockFd = openPath(`${dir}/pause.lock`, O.RDWR | O.CREAT, 0o600);
  try {
    flock(lockFd, LOCK.EX, `${dir}/pause.lock`);
    const pidFile = `${dir}/pause.pid`;
    const existing = livePause(pidFile);
    if (existing !== undefined) return { pid: existing, started: false };
    if (pathExists(pidFile)) {
      warn(`replacing a stale pause pid file ${pidFile}`);
    }
    const pid = await startPause();
    writeFileAtomicSync(pidFile, `${pid}\n`, 0o600);
    debug(`pause process ${pid} is ready`);
    return { pid, started: true };
  } finally {
    close(lockFd);
  }
}

async function startPause(): Promise<number> {
  const uid = getuid();
  const runDir = nsRunDir();
  Deno.mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const mapping = hasSubordinateIds(userName(uid), uid) ? ["--map-auto"] : [];
  const args = [
    "unshare",
    "--user",
    "--map-root-user",
    ...mapping,
    "--mount",
    "--propagation",
    "slave",
    "--",
    "bash", // dash's exec has no -a to name the process
    "-c",
    // The netns run dir a shared mount point from the start, as `ip netns`
    // makes it: namespaces made later need no step of their own for it.
    `mount --rbind --make-rshared "$1" "$1"; exec -a ${PAUSE_NAME} sleep infinity`,
    PAUSE_NAME,
    runDir,
  ];
  debug(`starting pause process: setsid ${args.join(" ")}`);
  let child: Deno.ChildProcess;
  try {
    // setsid: its own session, so a terminal's Ctrl-C does not reach it.
    child = new Deno.Command("setsid", {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    throw new NsnetError(
      "cannot start nsnet's user namespace: setsid or unshare is missing",
      {
        hint: "install util-linux",
        cause: error,
      },
    );
  }
  const deadline = Date.now() + 5000;
  const ours = Deno.readLinkSync("/proc/self/ns/user");
  let exited: Deno.CommandStatus | undefined;
  child.status.then((s) => exited = s);
  while (Date.now() < deadline) {
    // Waiting first: the child is still being exec'd (reading its /proc
    // files would block until it is), and this thread has other work.
    await new Promise((r) => setTimeout(r, 1));
    if (
      exited === undefined && isPauseProcess(child.pid) &&
      Deno.readLinkSync(`/proc/${child.pid}/ns/user`) !== ours
    ) {
      child.stderr.cancel().catch(() => {});
      child.unref();
      return child.pid;
    }
    if (exited !== undefined) {
      const stderr = new TextDecoder().decode(
        await new Response(child.stderr).arrayBuffer(),
      ).trim();
      throw new NsnetError(
        `cannot create nsnet's user namespace: ${
          stderr || `unshare exited with ${exited.code}`
        }`,
        {
          hint: mapping.length > 0
            ? "check that newuidmap/newgidmap (package uidmap) are installed and setuid, and your /etc/subuid and /etc/subgid ranges"
            : "unprivileged user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces",
        },
      );
    }
  }
  child.kill("SIGKILL");
  throw new NsnetError("nsnet's user namespace was not ready within 5 s");
}

/**
 * How to run this very program again: the compiled binary itself, or
 * `deno run` with the same main module.
 */
export function selfCommand(): string[] {
  const override = getEnv("NSNET_SELF");
  if (override) return override.split(" ");
  if (Deno.mainModule.includes("/deno-compile-")) return [Deno.execPath()];
  return [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--quiet",
    "--no-prompt",
    Deno.mainModule,
  ];
}

/**
 * Re-runs nsnet with `args` inside the pause process's user and mount
 * namespaces (as root there), passing stdio, signals and exit status through.
 */
export async function reexecInUserNS(args: readonly string[]): Promise<number> {
  const pause = await ensurePause();
  const [program, ...rest] = [
    "nsenter",
    "--target",
    String(pause.pid),
    "--user",
    "--mount",
    `--wd=${Deno.cwd()}`,
    "--",
    ...selfCommand(),
    ...args,
  ];
  debug(`re-entering: ${[program, ...rest].join(" ")}`);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program!, {
      args: rest,
      env: { [USERNS_ENV]: "1", _NSNET_HOST_UID: String(hostUid()) },
      stdin: "inherit",
    }).spawn();
  } catch (error) {
    throw new NsnetError(
      "cannot enter nsnet's user namespace: nsenter is not in PATH",
      {
        hint: "install util-linux, and keep /usr/bin in PATH",
        cause: error,
      },
    );
  }
  return await waitForwardingSignals(child);
}
