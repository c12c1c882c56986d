/**
 * `nsnet doctor`: every check of what nsnet needs, run in one go, each
 * saying how to fix what fails. A check that throws becomes a failed result
 * naming the error, so one broken check never hides the others.
 *
 * @module
 */

import { getEnv } from "../env.ts";
import { isRootless } from "../rootless/detect.ts";
import { hostUid } from "../rootless/runtime_dir.ts";
import { binaryChecks } from "./binaries.ts";
import {
  forwardingCheck,
  forwardPolicyCheck,
  runtimeDirCheck,
  tunDeviceCheck,
  volatileStateCheck,
} from "./host.ts";
import { kernelChecks } from "./kernel.ts";
import { type DoctorCheck, type DoctorContext, result } from "./types.ts";
import { userNamespaceChecks } from "./userns.ts";

export type { DoctorCheck, DoctorContext, DoctorStatus } from "./types.ts";

/** The user's name for `uid`: $USER when it names that uid, else /etc/passwd, else the uid. */
function userName(uid: number): string {
  let line: string | undefined;
  try {
    line = Deno.readTextFileSync("/etc/passwd").split("\n").find((l) =>
      l.split(":")[2] === String(uid)
    );
  } catch { /* no passwd */ }
  return line?.split(":")[0] ?? getEnv("USER") ?? String(uid);
}

/** The context of the calling process (inside nsnet's user namespace: the user it maps). */
export function doctorContext(): DoctorContext {
  const uid = hostUid();
  return { uid, user: userName(uid), rootless: isRootless() };
}

type CheckGroup = (
  ctx: DoctorContext,
) => DoctorCheck | DoctorCheck[] | Promise<DoctorCheck | DoctorCheck[]>;

const GROUPS: readonly [string, CheckGroup][] = [
  ["kernel", kernelChecks],
  ["user namespaces", userNamespaceChecks],
  ["/dev/net/tun", tunDeviceCheck],
  ["binaries", binaryChecks],
  ["XDG_RUNTIME_DIR", runtimeDirCheck],
  ["state on tmpfs", volatileStateCheck],
  ["ip forwarding", forwardingCheck],
  ["firewall: forward", forwardPolicyCheck],
];

/**
 * Runs every check for the calling user (or `ctx`) and returns the results
 * in a fixed order: kernel, user namespaces, /dev/net/tun, binaries,
 * XDG_RUNTIME_DIR, the state's filesystem, forwarding. Changes nothing on
 * the host (the kernel probes, as root, run in a namespace made and removed
 * for them).
 *
 * @example
 * ```ts
 * import { runDoctor } from "./runner.ts";
 * for (const c of await runDoctor()) console.log(c.status, c.check, c.fix);
 * ```
 */
export async function runDoctor(
  ctx: DoctorContext = doctorContext(),
): Promise<DoctorCheck[]> {
  const groups = await Promise.all(GROUPS.map(async ([name, group]) => {
    try {
      const found = await group(ctx);
      return Array.isArray(found) ? found : [found];
    } catch (error) {
      return [
        result(
          name,
          "fail",
          `the check itself failed: ${
            error instanceof Error ? error.message : String(error)
          }`,
          "report this as a bug in nsnet doctor",
        ),
      ];
    }
  }));
  return groups.flat();
}

/** Whether any check failed (the CLI exits 1 then). */
export function anyFailed(checks: readonly DoctorCheck[]): boolean {
  return checks.some((c) => c.status === "fail");
}
