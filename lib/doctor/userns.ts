/**
 * `nsnet doctor`'s user-namespace checks, what rootless nsnet stands on: the
 * kernel's limit (`/proc/sys/user/max_user_namespaces`) and Debian's switch,
 * AppArmor's `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu 23.10+),
 * the calling user's subordinate id ranges, and `newuidmap`/`newgidmap`
 * being able to map them (setuid root, or file capabilities).
 *
 * @module
 */

import { type DoctorCheck, type DoctorContext, result } from "./types.ts";

function readSysctl(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

/** The result for `user.max_user_namespaces` holding `value` (undefined: no such file). */
export function userNamespaceLimitResult(
  ctx: DoctorContext,
  value: string | undefined,
): DoctorCheck {
  const check = "user namespaces: limit";
  const fix =
    "sysctl -w user.max_user_namespaces=28633 (and set it in /etc/sysctl.d/ to keep it)";
  if (value === undefined) {
    return result(
      check,
      "skip",
      "/proc/sys/user/max_user_namespaces is missing",
    );
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n > 0) {
    return result(check, "ok", `user.max_user_namespaces = ${value}`);
  }
  return result(
    check,
    ctx.rootless ? "fail" : "warn",
    "user.max_user_namespaces = 0: no user namespace can be made, so rootless nsnet cannot run",
    fix,
  );
}

/** The result for Debian's `kernel.unprivileged_userns_clone` holding `value`. */
export function unprivilegedCloneResult(
  ctx: DoctorContext,
  value: string | undefined,
): DoctorCheck {
  const check = "user namespaces: unprivileged";
  if (value === undefined) {
    return result(
      check,
      "ok",
      "no kernel.unprivileged_userns_clone switch on this kernel: unprivileged users may make them",
    );
  }
  if (value !== "0") {
    return result(check, "ok", `kernel.unprivileged_userns_clone = ${value}`);
  }
  return result(
    check,
    ctx.rootless ? "fail" : "warn",
    "kernel.unprivileged_userns_clone = 0: unprivileged users may not make user namespaces",
    "sysctl -w kernel.unprivileged_userns_clone=1 (and set it in /etc/sysctl.d/ to keep it)",
  );
}

/** The result for `kernel.apparmor_restrict_unprivileged_userns` holding `value` (undefined: absent). */
export function apparmorResult(
  ctx: DoctorContext,
  value: string | undefined,
): DoctorCheck {
  const check = "apparmor: user namespaces";
  if (value === undefined) {
    return result(
      check,
      "ok",
      "no kernel.apparmor_restrict_unprivileged_userns on this kernel: AppArmor does not restrict user namespaces",
    );
  }
  if (value === "0") {
    return result(
      check,
      "ok",
      "kernel.apparmor_restrict_unprivileged_userns = 0",
    );
  }
  if (!ctx.rootless) {
    return result(
      check,
      "ok",
      `kernel.apparmor_restrict_unprivileged_userns = ${value}: does not apply to root`,
    );
  }
  return result(
    check,
    "fail",
    `kernel.apparmor_restrict_unprivileged_userns = ${value}: AppArmor denies unprivileged user namespaces (unshare, slirp4netns and pasta get EPERM)`,
    "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (and set it in /etc/sysctl.d/), or give unshare an AppArmor profile with `userns,`",
  );
}

/** A subordinate id range of one user. */
export interface SubordinateRange {
  /** First id. */
  start: number;
  /** How many. */
  count: number;
}

/** The ranges in an /etc/subuid-style `text` for `user` (by name or uid). */
export function subordinateRanges(
  text: string,
  user: string,
  uid: number,
): SubordinateRange[] {
  const ranges: SubordinateRange[] = [];
  for (const line of text.split("\n")) {
    const [owner, start, count] = line.trim().split(":");
    if (owner !== user && owner !== String(uid)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isSafeInteger(s) && Number.isSafeInteger(c) && c > 0) {
      ranges.push({ start: s, count: c });
    }
  }
  return ranges;
}

function readOrEmpty(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function describeRanges(ranges: readonly SubordinateRange[]): string {
  return ranges.map((r) => `${r.start}-${r.start + r.count - 1}`).join(", ");
}

/** The result for the user's ranges in /etc/subuid (`subuid`) and /etc/subgid (`subgid`). */
export function subordinateIdsResult(
  ctx: DoctorContext,
  subuid: string,
  subgid: string,
): DoctorCheck {
  const check = "subordinate ids";
  if (!ctx.rootless) {
    return result(check, "skip", "root needs no subordinate ids");
  }
  const uids = subordinateRanges(subuid, ctx.user, ctx.uid);
  const gids = subordinateRanges(subgid, ctx.user, ctx.uid);
  if (uids.length > 0 && gids.length > 0) {
    return result(
      check,
      "ok",
      `${ctx.user}: uids ${describeRanges(uids)}, gids ${describeRanges(gids)}`,
    );
  }
  const missing = [
    uids.length === 0 ? "/etc/subuid" : "",
    gids.length === 0 ? "/etc/subgid" : "",
  ].filter((f) => f !== "").join(" and ");
  return result(
    check,
    "warn",
    `${ctx.user} (uid ${ctx.uid}) has no range in ${missing}: inside nsnet's user namespace only your own id is mapped, so programs that change user or group fail there`,
    `as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${ctx.user}`,
  );
}

/** What is known about an id-mapping binary. */
export interface IdMapBinary {
  /** Its path, undefined when not found. */
  path?: string;
  /** Its mode bits and owner, when found. */
  mode?: number;
  /** Its owner's uid. */
  uid?: number;
  /** Whether it has file capabilities (getcap), undefined when unknown. */
  capabilities?: boolean;
}

/** The result for `newuidmap` or `newgidmap` (`name`), `hasRanges` saying whether the user has ranges to map. */
export function idMapResult(
  ctx: DoctorContext,
  name: string,
  binary: IdMapBinary,
  hasRanges: boolean,
): DoctorCheck {
  const check = `${name}`;
  if (!ctx.rootless) {
    return result(check, "skip", "root maps no subordinate ids");
  }
  const bad = hasRanges ? "fail" : "warn";
  const why = hasRanges
    ? "your subordinate ids cannot be mapped, so nsnet's user namespace cannot be made"
    : "needed once you have subordinate ids";
  if (binary.path === undefined) {
    return result(
      check,
      bad,
      `${name} is not installed: ${why}`,
      "install it (apt-get install uidmap; dnf install shadow-utils)",
    );
  }
  const setuidRoot = binary.uid === 0 && ((binary.mode ?? 0) & 0o4000) !== 0;
  if (setuidRoot) {
    return result(check, "ok", `${binary.path} is setuid root`);
  }
  if (binary.capabilities === true) {
    return result(check, "ok", `${binary.path} has file capabilities`);
  }
  return result(
    check,
    bad,
    `${binary.path} is neither setuid root nor given capabilities (mode ${
      ((binary.mode ?? 0) & 0o7777).toString(8).padStart(4, "0")
    }): ${why}`,
    `as root: chown root ${binary.path} && chmod u+s ${binary.path} (or reinstall uidmap)`,
  );
}

const BIN_DIRS = ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"];

/** Finds `name` in PATH and the usual dirs; undefined when absent. */
export function findBinary(name: string): string | undefined {
  let path: string[] = [];
  try {
    path = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  } catch { /* no --allow-env: the usual dirs */ }
  for (const dir of [...path, ...BIN_DIRS]) {
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) {
        return `${dir}/${name}`;
      }
    } catch { /* not here */ }
  }
  return undefined;
}

function describeIdMapBinary(name: string): IdMapBinary {
  const path = findBinary(name);
  if (path === undefined) return {};
  const info = Deno.statSync(path);
  const binary: IdMapBinary = {
    path,
    mode: info.mode ?? 0,
    uid: info.uid ?? undefined,
  };
  if (((binary.mode ?? 0) & 0o4000) === 0) {
    try {
      const out = new Deno.Command("getcap", {
        args: [path],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      binary.capabilities = /cap_set[ug]id/.test(
        new TextDecoder().decode(out.stdout),
      );
    } catch { /* no getcap */ }
  }
  return binary;
}

/** All user-namespace checks. */
export function userNamespaceChecks(ctx: DoctorContext): DoctorCheck[] {
  const subuid = readOrEmpty("/etc/subuid");
  const subgid = readOrEmpty("/etc/subgid");
  const hasRanges = subordinateRanges(subuid, ctx.user, ctx.uid).length > 0 &&
    subordinateRanges(subgid, ctx.user, ctx.uid).length > 0;
  return [
    userNamespaceLimitResult(
      ctx,
      readSysctl("/proc/sys/user/max_user_namespaces"),
    ),
    unprivilegedCloneResult(
      ctx,
      readSysctl("/proc/sys/kernel/unprivileged_userns_clone"),
    ),
    apparmorResult(
      ctx,
      readSysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
    ),
    subordinateIdsResult(ctx, subuid, subgid),
    idMapResult(ctx, "newuidmap", describeIdMapBinary("newuidmap"), hasRanges),
    idMapResult(ctx, "newgidmap", describeIdMapBinary("newgidmap"), hasRanges),
  ];
}
