/**
 * Running a command inside a sandbox: its network namespace, and a private
 * mount namespace where its own resolv.conf sits where /etc/resolv.conf
 * really lives and /sys shows its own devices (as `ip netns exec`).
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import { pathExists } from "../fs.ts";
import { resolveResolvConfPath } from "../resolv_conf/path.ts";
import {
  type MountStep,
  spawnWithMounts,
  type SpawnWithMountsOptions,
} from "../rootless/inside.ts";
import { sandboxResolvConf } from "./lifecycle.ts";
import type { SandboxRecord } from "./types.ts";

/** The mount steps for a command in `record`'s sandbox. */
export function sandboxMountPlan(record: SandboxRecord): MountStep[] {
  const steps: MountStep[] = [];
  const resolv = sandboxResolvConf(record.owner ?? record.name);
  // Without a resolv.conf of its own, the host's stays.
  if (pathExists(resolv)) {
    steps.push({
      op: "bind",
      source: resolv,
      target: resolveResolvConfPath({ stopUnderRun: false }),
    });
  }
  steps.push({ op: "sysfs", target: "/sys" });
  return steps;
}

/** Spawns `command` inside the sandbox of `record`. */
export function spawnInSandbox(
  record: SandboxRecord,
  command: readonly string[],
  options: SpawnWithMountsOptions = {},
): Deno.ChildProcess {
  if (record.netnsPath === undefined || record.phase !== "ready") {
    throw new NsnetError(
      `sandbox ${record.name} is not ready (phase ${record.phase})`,
      {
        hint: `remove it with \`nsnet sandbox rm ${record.name}\``,
      },
    );
  }
  return spawnWithMounts(
    record.netnsPath,
    sandboxMountPlan(record),
    command,
    options,
  );
}
