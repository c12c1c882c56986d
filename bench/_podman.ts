/**
 * Rootless Podman as a benchmark peer: its per-user configuration, the reset
 * that takes it back to "nothing running" (no pause process, no slirp4netns,
 * no rootless netns), and the check that nothing of it is left.
 *
 * Everything here runs as root on behalf of an unprivileged user (the
 * benchmarks pass the test user of `tests/_rootless.ts`). Podman itself is
 * only ever run as that user.
 */
import { rootlessNetNSName } from "../lib/rootless/state.ts";

/** The unprivileged user Podman runs as: what this module needs of it. */
export interface PodmanUser {
  /** Its uid. */
  uid: number;
  /** Its primary gid. */
  gid: number;
  /** Its home directory. */
  home: string;
  /** Its `XDG_RUNTIME_DIR`. */
  runtimeDir: string;
}

type RootlessEnv = PodmanUser;

/** What Podman runs for the rootless-netns comparison. */
export const PODMAN_UNSHARE_NETNS: readonly string[] = [
  "podman",
  "unshare",
  "--rootless-netns",
  "true",
];

/**
 * The test user's `~/.config/containers/containers.conf`. Podman 4.3 detects
 * all of this by itself on a machine without systemd (cgroupfs, file events,
 * runc); pinning it keeps the runs the same wherever they happen, and
 * `default_ulimits = []` keeps Podman from asking for limits a user may not
 * raise.
 */
export const PODMAN_USER_CONF = `# Written by nsnet's bench/_podman.ts.
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`;

/** Debian packages the Podman side needs. */
export const PODMAN_PACKAGES: readonly string[] = [
  "podman",
  "runc",
  "slirp4netns",
  "uidmap",
  "catatonit",
];

/** A process of the test user, as /proc shows it. */
export interface UserProcess {
  pid: number;
  /** `comm`: the kernel's short name (`catatonit`, `podman pause`, `slirp4netns`…). */
  comm: string;
  /** Arguments joined with spaces. */
  cmdline: string;
  /** One-letter state from /proc/PID/status (`Z` for a zombie). */
  state: string;
}

/** Every process whose real uid is `uid` (zombies included, see {@linkcode UserProcess.state}). */
export function userProcesses(uid: number): UserProcess[] {
  const found: UserProcess[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const status = Deno.readTextFileSync(`/proc/${entry.name}/status`);
      const realUid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      if (realUid !== uid) continue;
      const state = /^State:\s+(\S)/m.exec(status)?.[1] ?? "?";
      const comm = Deno.readTextFileSync(`/proc/${entry.name}/comm`).trim();
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`)
        .split("\0").filter((a) => a !== "").join(" ");
      found.push({ pid: Number(entry.name), comm, cmdline, state });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return found;
}

/** nsnet's rootless namespace name for the user, which Podman's resets leave alone. */
function nsnetNetnsName(env: RootlessEnv): string {
  return rootlessNetNSName(`${env.home}/.local/share/nsnet`);
}

/** Whether a process of `env`'s user is one of rootless Podman's long-lived ones. */
export function isPodmanProcess(p: UserProcess, env: RootlessEnv): boolean {
  // The pause process is catatonit when installed, else Podman re-executed.
  if (p.comm === "catatonit" && p.cmdline.includes("-P")) return true;
  if (p.comm === "podman pause") return true;
  // Podman names its namespace rootless-netns-<hash>, as nsnet does: tell them apart by the hash.
  const match = /\/netns\/(rootless-netns-[0-9a-f]+)/.exec(p.cmdline);
  return p.comm === "slirp4netns" && match !== null &&
    match[1] !== nsnetNetnsName(env);
}

/** Paths of rootless Podman's state under the user's runtime dir. */
export interface PodmanPaths {
  /** Podman's tmpdir (`libpod/tmp`): pause.pid, rootless-netns/, alive marker. */
  libpod: string;
  /** containers/storage's run root. */
  storageRun: string;
  pausePid: string;
  slirpPid: string;
  /** Where the rootless netns is bind-mounted (inside Podman's mount namespace). */
  netnsDir: string;
}

/** Where rootless Podman 4 keeps its run-time state for this user. */
export function podmanPaths(env: RootlessEnv): PodmanPaths {
  const libpod = `${env.runtimeDir}/libpod`;
  return {
    libpod,
    storageRun: `${env.runtimeDir}/containers`,
    pausePid: `${libpod}/tmp/pause.pid`,
    slirpPid: `${libpod}/tmp/rootless-netns/rootless-netns-slirp4netns.pid`,
    netnsDir: `${env.runtimeDir}/netns`,
  };
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(Deno.readTextFileSync(file).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Pause and slirp4netns pids Podman recorded, when those processes still run. */
export function podmanPids(
  env: RootlessEnv,
): { pause?: number; slirp4netns?: number } {
  const paths = podmanPaths(env);
  const alive = (pid: number | undefined): number | undefined =>
    pid !== undefined &&
      userProcesses(env.uid).some((p) => p.pid === pid && p.state !== "Z")
      ? pid
      : undefined;
  return {
    pause: alive(readPid(paths.pausePid)),
    slirp4netns: alive(readPid(paths.slirpPid)),
  };
}

function podmanNetnsFiles(env: RootlessEnv): string[] {
  const dir = podmanPaths(env).netnsDir;
  try {
    return [...Deno.readDirSync(dir)]
      .filter((e) =>
        e.name.startsWith("rootless-netns-") && e.name !== nsnetNetnsName(env)
      )
      .map((e) => `${dir}/${e.name}`);
  } catch {
    return [];
  }
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const status = Deno.readTextFileSync(`/proc/${pid}/status`);
      if (/^State:\s+Z/m.test(status)) return true; // dead, only not yet reaped
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return false;
}

/**
 * Takes rootless Podman back to what a fresh login has: kills its pause
 * process and its rootless-netns slirp4netns (from their pid files, and any
 * stray one found in /proc), removes the netns files and its whole run-time
 * state (`$XDG_RUNTIME_DIR/libpod`, `$XDG_RUNTIME_DIR/containers`). Images,
 * storage and configuration in the home directory stay.
 *
 * `podman system migrate` is not enough: it stops the pause process but
 * leaves slirp4netns running and the netns file in place, and the next
 * Podman starts a second slirp4netns beside the first.
 */
export async function resetPodman(env: RootlessEnv): Promise<void> {
  const paths = podmanPaths(env);
  const pids = new Set<number>();
  for (const file of [paths.pausePid, paths.slirpPid]) {
    const pid = readPid(file);
    const p = pid === undefined
      ? undefined
      : userProcesses(env.uid).find((q) => q.pid === pid);
    // A recorded pid is trusted only while it still names a Podman process.
    if (p && isPodmanProcess(p, env)) pids.add(p.pid);
  }
  for (const p of userProcesses(env.uid)) {
    if (isPodmanProcess(p, env) && p.state !== "Z") pids.add(p.pid);
  }
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
  }
  for (const pid of pids) {
    if (!await gone(pid, 2000)) {
      throw new Error(`podman process ${pid} survived SIGKILL`);
    }
  }
  for (const file of podmanNetnsFiles(env)) {
    await Deno.remove(file).catch(() => {});
  }
  await Deno.remove(paths.libpod, { recursive: true }).catch(() => {});
  await Deno.remove(paths.storageRun, { recursive: true }).catch(() => {});
}

/** What of rootless Podman is still there: live processes and netns files, described. */
export function podmanLeftovers(env: RootlessEnv): string[] {
  return [
    ...userProcesses(env.uid)
      .filter((p) => isPodmanProcess(p, env) && p.state !== "Z")
      .map((p) => `process ${p.pid} (${p.cmdline})`),
    ...podmanNetnsFiles(env).map((f) => `netns file ${f}`),
  ];
}

function commandOutput(cmd: string, args: string[]): string | undefined {
  try {
    const out = new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    return out.success
      ? new TextDecoder().decode(out.stdout).trim()
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes the machine and the test user ready for rootless Podman: checks the
 * binaries, opens /dev/net/tun to everyone as distributions ship it (slirp4netns
 * opens it from inside the user namespace, where only the "other" bits count),
 * and writes the user's containers.conf. Returns Podman's version line and
 * what it changed.
 */
export function preparePodman(
  env: RootlessEnv,
): { version: string; changes: string[] } {
  const version = commandOutput("podman", ["--version"]);
  if (!version) {
    throw new Error(
      `podman is not installed: apt-get install ${PODMAN_PACKAGES.join(" ")}`,
    );
  }
  if (!commandOutput("slirp4netns", ["--version"])) {
    throw new Error(
      "slirp4netns is not installed: apt-get install slirp4netns",
    );
  }
  const changes: string[] = [];
  const tun = Deno.statSync("/dev/net/tun");
  if (((tun.mode ?? 0) & 0o006) !== 0o006) {
    Deno.chmodSync("/dev/net/tun", 0o666);
    changes.push("chmod 0666 /dev/net/tun");
  }
  let dir = env.home;
  for (const part of [".config", "containers"]) {
    dir = `${dir}/${part}`;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
    Deno.chownSync(dir, env.uid, env.gid);
  }
  const conf = `${dir}/containers.conf`;
  let current: string | undefined;
  try {
    current = Deno.readTextFileSync(conf);
  } catch { /* none yet */ }
  if (current !== PODMAN_USER_CONF) {
    Deno.writeTextFileSync(conf, PODMAN_USER_CONF, { mode: 0o644 });
    Deno.chownSync(conf, env.uid, env.gid);
    changes.push(`wrote ${conf}`);
  }
  return { version, changes };
}
