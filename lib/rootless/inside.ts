/**
 * Running a command inside the rootless namespace: its network
 * namespace, plus a fresh mount namespace (slave propagation, so unmounts on
 * the host never get stuck on it) with the five binds of S6 in their order.
 *
 * The plan is computed here; a child process carries it out (util-linux
 * `nsenter --net` and `unshare --mount`, then `mount`), so the caller's own
 * network and mount namespaces never change.
 *
 * @module
 */

import { pathExists, writeFileAtomicSync } from "../fs.ts";
import { resolveResolvConfPath } from "../resolv_conf/path.ts";
import { getEnv } from "../env.ts";
import { pausePid, type UserNSAccess } from "./access.ts";
import { runtimeDir } from "./runtime_dir.ts";
import type { RootlessPaths } from "./state.ts";

/** One mount step inside the new mount namespace. */
export type MountStep =
  | { op: "rbind"; source: string; target: string }
  | { op: "bind"; source: string; target: string }
  | { op: "rshared"; target: string }
  | { op: "tmpfs"; target: string }
  | { op: "mkfile"; target: string }
  | { op: "sysfs"; target: string };

/** What the plan depends on, read from the host unless given (tests give them). */
export interface MountPlanInput {
  /** `$XDG_RUNTIME_DIR`. */
  runtimeDir?: string;
  /** Where /etc/resolv.conf really lives. */
  resolvConfTarget?: string;
  /** Whether /run/systemd exists. */
  hasRunSystemd?: boolean;
  /** The nearest existing of /var/lib/cni and its parents. */
  cniDir?: string;
}

/** /var/lib/cni, or its nearest existing parent. */
export function nearestExisting(path: string): string {
  let current = path;
  while (current !== "/" && !pathExists(current)) {
    current = current.slice(0, current.lastIndexOf("/")) || "/";
  }
  return current;
}

function mirror(paths: RootlessPaths, path: string): string {
  return path === "/run"
    ? paths.run
    : `${paths.run}${path.slice("/run".length)}`;
}

/**
 * The mounts of S6, in order: (1) the runtime dir onto its mirror, recursive
 * and shared; (2) /run/systemd onto its mirror; (3) the namespace's
 * resolv.conf onto where /etc/resolv.conf really lives (a tmpfs on the mirror
 * of /run/systemd/resolve first when it is there, and the file made when it is
 * under /run); (4) the mirror of /var/lib/cni (or of its nearest existing
 * parent) over it; (5) the new run dir over /run, recursively.
 */
export function insideMountPlan(
  paths: RootlessPaths,
  input: MountPlanInput = {},
): MountStep[] {
  const runtime = input.runtimeDir ?? runtimeDir();
  const resolvTarget = input.resolvConfTarget ?? resolveResolvConfPath();
  const hasSystemd = input.hasRunSystemd ?? pathExists("/run/systemd");
  const cni = input.cniDir ?? nearestExisting("/var/lib/cni");
  const steps: MountStep[] = [];
  if (runtime.startsWith("/run/")) {
    steps.push({
      op: "rbind",
      source: runtime,
      target: mirror(paths, runtime),
    });
    steps.push({ op: "rshared", target: mirror(paths, runtime) });
  }
  if (hasSystemd) {
    steps.push({
      op: "rbind",
      source: "/run/systemd",
      target: mirror(paths, "/run/systemd"),
    });
  }
  if (resolvTarget.startsWith("/run/")) {
    if (resolvTarget.startsWith("/run/systemd/resolve/")) {
      // systemd-resolved replaces its file on the host; a tmpfs of our own keeps
      // that from unmounting the bind below.
      steps.push({
        op: "tmpfs",
        target: mirror(paths, "/run/systemd/resolve"),
      });
    }
    steps.push({ op: "mkfile", target: mirror(paths, resolvTarget) });
    steps.push({
      op: "bind",
      source: paths.resolvConf,
      target: mirror(paths, resolvTarget),
    });
  } else {
    steps.push({ op: "bind", source: paths.resolvConf, target: resolvTarget });
  }
  if (cni !== "/") {
    steps.push({ op: "bind", source: `${paths.dir}${cni}`, target: cni });
  }
  steps.push({ op: "rbind", source: paths.run, target: "/run" });
  // Beyond S6, as `ip netns exec` does: /sys shows this namespace's devices.
  steps.push({ op: "sysfs", target: "/sys" });
  return steps;
}

/**
 * The script the child runs: apply the steps given as arguments (no shell
 * quoting involved), then exec the command. A failed mount exits 125 naming
 * the step; only the sysfs remount is best effort (a kernel may refuse it).
 */
const APPLY_AND_EXEC = `
fail() { echo "nsnet: inside the rootless namespace: $*" >&2; exit 125; }
while [ "$1" != "--" ]; do
  case "$1" in
    rbind) mount --rbind "$2" "$3" || fail "mount --rbind $2 $3"; shift 3 ;;
    bind) mount --bind "$2" "$3" || fail "mount --bind $2 $3"; shift 3 ;;
    rshared) mount --make-rshared "$2" || fail "mount --make-rshared $2"; shift 2 ;;
    tmpfs) mount -t tmpfs -o mode=0755 tmpfs "$2" || fail "mount tmpfs on $2"; shift 2 ;;
    mkfile) mkdir -p "\${2%/*}" && : >> "$2" || fail "create $2"; shift 2 ;;
    sysfs) mount -t sysfs sysfs "$2" 2>/dev/null; shift 2 ;;
    fstab) mount -a -T "$2" || fail "mount -a -T $2"; shift 2 ;;
    *) fail "unknown step $1" ;;
  esac
done
shift
# The shell's own words for a missing command name the script ("nsnet-inside:
# 16: exec: …"); say it as nsnet does elsewhere, with a shell's statuses.
case "$1" in
  */*) [ -e "$1" ] || { echo "nsnet: $1: command not found" >&2; exit 127; }
       [ -f "$1" ] && [ -x "$1" ] || { echo "nsnet: $1: permission denied" >&2; exit 126; } ;;
  *) command -v -- "$1" >/dev/null 2>&1 || { echo "nsnet: $1: command not found" >&2; exit 127; } ;;
esac
exec "$@"
`;

/** The arguments that carry `steps` to {@linkcode APPLY_AND_EXEC}. */
export function stepArguments(steps: readonly MountStep[]): string[] {
  return steps.flatMap((step) =>
    "source" in step
      ? [step.op, step.source, step.target]
      : [step.op, step.target]
  );
}

/**
 * The arguments that carry `steps` to {@linkcode APPLY_AND_EXEC}, with each
 * run of binds and tmpfs mounts written to an fstab file in `dir` and applied
 * by one `mount -a -T`, not one `mount` each (a `rshared` joins the bind
 * before it). The files are named `PREFIX-N.fstab`.
 */
export function batchedStepArguments(
  steps: readonly MountStep[],
  dir: string,
  prefix: string,
): string[] {
  const args: string[] = [];
  let batch: string[][] = [];
  let files = 0;
  const flush = (): void => {
    if (batch.length === 0) return;
    const file = `${dir}/${prefix}-${++files}.fstab`;
    writeFileAtomicSync(
      file,
      batch.map((fields) => fields.join(" ")).join("\n") + "\n",
      0o600,
      { durable: false },
    );
    args.push("fstab", file);
    batch = [];
  };
  for (const step of steps) {
    const last = batch[batch.length - 1];
    if (step.op === "rbind" || step.op === "bind") {
      batch.push([
        fstabField(step.source),
        fstabField(step.target),
        "none",
        step.op,
        "0",
        "0",
      ]);
    } else if (step.op === "tmpfs") {
      // A source of its own: `mount -a` skips what looks mounted already.
      batch.push([
        "nsnet-tmpfs",
        fstabField(step.target),
        "tmpfs",
        "mode=0755",
        "0",
        "0",
      ]);
    } else if (
      step.op === "rshared" && last !== undefined &&
      last[1] === fstabField(step.target) && last[2] === "none"
    ) {
      last[3] += ",rshared";
    } else {
      flush();
      args.push(...stepArguments([step]));
    }
  }
  flush();
  return args;
}

/** `text` as an fstab field: space, tab, newline and backslash in octal. */
function fstabField(text: string): string {
  return text.replace(
    /[ \t\n\\]/g,
    (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`,
  );
}

/** PATH with /usr/sbin and /sbin on it, where iptables and friends live. */
export function pathWithSbin(path = getEnv("PATH") ?? "/usr/bin:/bin"): string {
  const dirs = path.split(":");
  for (const sbin of ["/usr/sbin", "/sbin"]) {
    if (!dirs.includes(sbin)) dirs.push(sbin);
  }
  return dirs.join(":");
}

/** Options for {@linkcode spawnWithMounts}. */
export interface SpawnWithMountsOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Where the child's output goes; default inherited. */
  stdout?: "inherit" | "piped" | "null";
  /** Where the child's errors go; default inherited. */
  stderr?: "inherit" | "piped" | "null";
  /** The child's input; default inherited. */
  stdin?: "inherit" | "piped" | "null";
  /**
   * Also enter the user and mount namespaces of this process first (the
   * pause process): how an unprivileged nsnet reaches its user namespace
   * without running itself again. `netnsPath` is then opened from there.
   */
  joinUserNamespaceOf?: number;
  /** Start it in a session of its own (`setsid`), so a terminal's signals do not reach it. */
  detach?: boolean;
  /**
   * Write the binds to fstab files in this directory and apply them with one
   * `mount -a` per run of them: fewer programs started.
   */
  fstabDir?: string;
}

/**
 * Spawns `command` in the network namespace at `netnsPath` and a fresh mount
 * namespace (slave propagation) where `steps` were applied first. The caller's
 * own namespaces never change: the child enters them itself.
 */
export function spawnWithMounts(
  netnsPath: string,
  steps: readonly MountStep[],
  command: readonly string[],
  options: SpawnWithMountsOptions = {},
): Deno.ChildProcess {
  const pause = options.joinUserNamespaceOf;
  const enter = pause === undefined ? [`--net=${netnsPath}`] : [
    "--target",
    String(pause),
    "--user",
    "--mount",
    `--net=/proc/${pause}/root${netnsPath}`,
  ];
  const [program, ...prefix] = options.detach
    ? ["setsid", "nsenter"]
    : ["nsenter"];
  return new Deno.Command(program!, {
    args: [
      ...prefix,
      ...enter,
      "--",
      "unshare",
      "--mount",
      "--propagation",
      "slave",
      "--",
      "sh",
      "-c",
      APPLY_AND_EXEC,
      "nsnet-inside",
      ...(options.fstabDir === undefined
        ? stepArguments(steps)
        : batchedStepArguments(steps, options.fstabDir, "mounts")),
      "--",
      ...command,
    ],
    env: { PATH: pathWithSbin(), ...options.env },
    stdin: options.stdin ?? "inherit",
    stdout: options.stdout ?? "inherit",
    stderr: options.stderr ?? "inherit",
  }).spawn();
}

/** Options for {@linkcode spawnInside} and `RootlessNetNS.spawn`. */
export interface SpawnInsideOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Where the child's output goes; default inherited. */
  stdout?: "inherit" | "piped" | "null";
  /** Where the child's errors go; default inherited. */
  stderr?: "inherit" | "piped" | "null";
  /** The child's input; default inherited. */
  stdin?: "inherit" | "piped" | "null";
}

/**
 * Spawns `command` inside the rootless namespace of `paths` with S6's mounts
 * applied anew (the way when its mount holder is gone), reaching the user
 * namespace as `access` says.
 */
export function spawnInside(
  paths: RootlessPaths,
  access: UserNSAccess,
  command: readonly string[],
  options: SpawnInsideOptions = {},
): Deno.ChildProcess {
  return spawnWithMounts(
    paths.netns,
    insideMountPlan(paths),
    command,
    { ...options, joinUserNamespaceOf: pausePid(access) },
  );
}
