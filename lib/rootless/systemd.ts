/**
 * Where the host runs systemd, a helper started from a unit's process would
 * be killed when that unit stops (Podman #13153): move it into a scope of its
 * own in the user's slice. The move is best effort and only logged on failure.
 *
 * @module
 */

import { debug, warn } from "../log.ts";

/** Whether the host runs systemd as its init: `/run/systemd/system` exists (sd_booted's test). */
export function runsOnSystemd(root = ""): boolean {
  try {
    return Deno.statSync(`${root}/run/systemd/system`).isDirectory;
  } catch {
    return false;
  }
}

/**
 * The `busctl` call that asks the user's systemd to put `pid` into a new
 * transient scope under `user.slice` (what Podman does over D-Bus).
 */
export function moveToUserSliceCommand(pid: number, program: string): string[] {
  return [
    "busctl",
    "--user",
    "call",
    "org.freedesktop.systemd1",
    "/org/freedesktop/systemd1",
    "org.freedesktop.systemd1.Manager",
    "StartTransientUnit",
    "ssa(sv)a(sa(sv))",
    `nsnet-${program}-${pid}.scope`,
    "fail",
    "2",
    "PIDs",
    "au",
    "1",
    String(pid),
    "Slice",
    "s",
    "user.slice",
    "0",
  ];
}

/**
 * Moves the helper `pid` into the user's slice when the host runs systemd.
 * Returns what was decided: `skipped` without systemd, `moved`, or `failed`
 * (logged, never raised).
 */
export function moveHelperToUserSlice(
  pid: number,
  program: string,
  root = "",
): "skipped" | "moved" | "failed" {
  if (!runsOnSystemd(root)) {
    debug(`no systemd on this host: ${program} (pid ${pid}) stays where it is`);
    return "skipped";
  }
  const [cmd, ...args] = moveToUserSliceCommand(pid, program);
  try {
    const out = new Deno.Command(cmd!, {
      args,
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (out.success) return "moved";
    warn(
      `could not move ${program} (pid ${pid}) into user.slice: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  } catch (error) {
    warn(
      `could not move ${program} (pid ${pid}) into user.slice: ${
        (error as Error).message
      }`,
    );
  }
  return "failed";
}
