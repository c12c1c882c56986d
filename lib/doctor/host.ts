/**
 * `nsnet doctor`'s checks of the host around the kernel: `/dev/net/tun`
 * (rootless helpers open it as the user), `XDG_RUNTIME_DIR` (set, yours,
 * 0700, its real path: Podman #14606), whether the state lives on a tmpfs
 * (else it survives a reboot), and IP forwarding and forward-hook policies
 * for bridge networks.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import { runtimeDir } from "../rootless/runtime_dir.ts";
import { type DoctorCheck, type DoctorContext, result } from "./types.ts";

/** The tun device. */
export const TUN_DEVICE = "/dev/net/tun";

const TUN_FIX =
  `chmod 0666 ${TUN_DEVICE} (as distributions ship it; a udev rule KERNEL=="tun", MODE="0666" keeps it across reboots)`;

/** The `/dev/net/tun` check: it exists, and rootless helpers (run as the user) can open it. */
export function tunDeviceCheck(ctx: DoctorContext): DoctorCheck {
  const check = "/dev/net/tun";
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(TUN_DEVICE);
  } catch {
    return result(
      check,
      ctx.rootless ? "fail" : "warn",
      `${TUN_DEVICE} does not exist: slirp4netns, pasta and tun/tap links need it`,
      `as root: modprobe tun; mkdir -p /dev/net && mknod -m 0666 ${TUN_DEVICE} c 10 200`,
    );
  }
  const mode = (info.mode ?? 0) & 0o7777;
  const octal = mode.toString(8).padStart(4, "0");
  if (info.isCharDevice === false) {
    return result(
      check,
      "fail",
      `${TUN_DEVICE} is not a character device (mode ${octal})`,
      `as root: rm ${TUN_DEVICE} && mknod -m 0666 ${TUN_DEVICE} c 10 200`,
    );
  }
  if (ctx.rootless) {
    try {
      Deno.openSync(TUN_DEVICE, { read: true, write: true }).close();
    } catch (error) {
      const code = (error as { code?: string }).code ?? String(error);
      return result(
        check,
        "fail",
        `you cannot open ${TUN_DEVICE} (mode ${octal}, ${code}): slirp4netns and pasta run as you and need it`,
        `as root: ${TUN_FIX}`,
      );
    }
    return result(check, "ok", `mode ${octal}, you can open it`);
  }
  if ((mode & 0o666) !== 0o666) {
    return result(
      check,
      "warn",
      `mode ${octal}: root can open it, but rootless users of this machine cannot (slirp4netns and pasta run as them)`,
      TUN_FIX,
    );
  }
  return result(check, "ok", `mode ${octal}`);
}

/** The `XDG_RUNTIME_DIR` check: rootless only, as the rootless state dir checks it, and 0700. */
export function runtimeDirCheck(ctx: DoctorContext): DoctorCheck {
  const check = "XDG_RUNTIME_DIR";
  if (!ctx.rootless) {
    return result(check, "skip", "root keeps its state in /run/nsnet");
  }
  let dir: string;
  try {
    dir = runtimeDir();
  } catch (error) {
    if (!(error instanceof NsnetError)) throw error;
    return result(check, "fail", error.message, error.hint ?? "");
  }
  const mode = (Deno.statSync(dir).mode ?? 0) & 0o7777;
  if (mode !== 0o700) {
    return result(
      check,
      "warn",
      `${dir} has mode ${
        mode.toString(8).padStart(4, "0")
      }, not 0700: other users may look into your runtime files`,
      `chmod 0700 ${dir}`,
    );
  }
  return result(check, "ok", `${dir}, yours, mode 0700`);
}

/** A mount as /proc/self/mountinfo lists it. */
interface Mount {
  /** Where it is mounted. */
  point: string;
  /** Its filesystem type. */
  type: string;
}

function unescapeMount(text: string): string {
  return text.replace(
    /\\([0-7]{3})/g,
    (_m, o: string) => String.fromCharCode(parseInt(o, 8)),
  );
}

/** The mounts of this mount namespace, from /proc/self/mountinfo. */
export function readMounts(): Mount[] {
  const mounts: Mount[] = [];
  for (
    const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
  ) {
    const [left, right] = line.split(" - ");
    if (left === undefined || right === undefined) continue;
    const point = left.split(" ")[4];
    const type = right.split(" ")[0];
    if (point !== undefined && type !== undefined) {
      mounts.push({ point: unescapeMount(point), type });
    }
  }
  return mounts;
}

/** The filesystem type of the mount that holds `path` (the longest mount point above it). */
export function filesystemOf(path: string, mounts: readonly Mount[]): string {
  let best: Mount | undefined;
  for (const mount of mounts) {
    const inside = mount.point === "/" || path === mount.point ||
      path.startsWith(`${mount.point}/`);
    if (
      inside && (best === undefined || mount.point.length >= best.point.length)
    ) {
      best = mount;
    }
  }
  return best?.type ?? "unknown";
}

/** The result for state dir `path` living on a filesystem of `type`. */
export function volatileStateResult(path: string, type: string): DoctorCheck {
  const check = "state on tmpfs";
  if (type === "tmpfs" || type === "ramfs") {
    return result(
      check,
      "ok",
      `${path} is on a ${type}: it goes with a reboot`,
    );
  }
  return result(
    check,
    "warn",
    `${path} is on ${type}, not a tmpfs: nsnet's records and namespace files survive a reboot, naming namespaces that are gone`,
    "mount a tmpfs on /run at boot (systemd does), or run `nsnet gc` after each boot",
  );
}

/** The /run-is-tmpfs check, for root's /run or the rootless runtime dir. */
export function volatileStateCheck(ctx: DoctorContext): DoctorCheck {
  let path = "/run";
  if (ctx.rootless) {
    try {
      path = runtimeDir();
    } catch {
      return result(
        "state on tmpfs",
        "skip",
        "no usable XDG_RUNTIME_DIR (see its check)",
      );
    }
  }
  return volatileStateResult(path, filesystemOf(path, readMounts()));
}

/** The IP forwarding check: bridge networks route through the host as root. */
export function forwardingCheck(ctx: DoctorContext): DoctorCheck {
  const check = "ip forwarding";
  if (ctx.rootless) {
    return result(
      check,
      "skip",
      "rootless bridges live in nsnet's rootless namespace, where nsnet turns forwarding on itself",
    );
  }
  let value: string;
  try {
    value = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward").trim();
  } catch (error) {
    return result(check, "skip", `cannot read net.ipv4.ip_forward: ${error}`);
  }
  if (value === "1") return result(check, "ok", "net.ipv4.ip_forward = 1");
  return result(
    check,
    "warn",
    "net.ipv4.ip_forward = 0: the first bridge sandbox turns it on, for the whole host; until then bridge networks reach nothing outside",
    "sysctl -w net.ipv4.ip_forward=1 (and set it in /etc/sysctl.d/ to have it from boot)",
  );
}

interface NftChain {
  family?: string;
  table?: string;
  name?: string;
  hook?: string;
  policy?: string;
}

/** The chains of `nft -j list chains` output with a forward hook and policy drop, outside nsnet's tables. */
export function droppingForwardChains(json: string): string[] {
  const parsed = JSON.parse(json) as { nftables?: { chain?: NftChain }[] };
  return (parsed.nftables ?? []).map((item) => item.chain).filter((c) =>
    c !== undefined && c.hook === "forward" && c.policy === "drop" &&
    !(c.table ?? "").startsWith("nsnet")
  ).map((c) => `${c!.family} ${c!.table} ${c!.name}`);
}

/** Root: whether another firewall drops forwarded traffic, which bridge networks need. */
export async function forwardPolicyCheck(
  ctx: DoctorContext,
): Promise<DoctorCheck> {
  const check = "firewall: forward";
  if (ctx.rootless) {
    return result(
      check,
      "skip",
      "rootless bridges are not forwarded by the host",
    );
  }
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("nft", {
      args: ["-j", "list", "chains"],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch {
    return result(check, "skip", "nft is not installed (see its check)");
  }
  if (!out.success) {
    return result(
      check,
      "skip",
      `nft list chains failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  const dropping = droppingForwardChains(new TextDecoder().decode(out.stdout));
  if (dropping.length === 0) {
    return result(
      check,
      "ok",
      "no forward chain of another firewall drops by default",
    );
  }
  return result(
    check,
    "warn",
    `forward chain(s) with policy drop: ${
      dropping.join("; ")
    }: traffic of bridge networks is dropped unless allowed there`,
    'allow nsnet\'s bridges (iifname "nsnet*" accept, oifname "nsnet*" accept) in that chain',
  );
}
