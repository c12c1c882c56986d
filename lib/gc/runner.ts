/**
 * `nsnet gc`: removes every leftover nsnet can prove is its own, in an
 * order where each removal takes what depends on it along (a sandbox its
 * lease, veth and DNAT chains), and reports each. It never touches what is
 * not nsnet's: namespaces it has no record of (`ip netns add`, Podman's,
 * nsnet's own `newNS()` ones in use), other tables, other users' state and
 * processes.
 *
 * @module
 */

import {
  bridgeStateDir,
  dnsResponderGroup,
  firewallGroup,
  leaseGroup,
} from "./bridge.ts";
import { emptyDirGroup, rootlessNetnsGroup, strayFileGroup } from "./files.ts";
import { dnatGroup } from "./ports.ts";
import { forwarderGroup, helperGroup } from "./processes.ts";
import {
  damagedRecordGroup,
  namespaceGoneGroup,
  orphanedSandboxGroup,
} from "./sandboxes.ts";
import type { GcEntry, LeftoverGroup } from "./types.ts";

export type { GcEntry, GcStatus, Leftover, LeftoverKind } from "./types.ts";
export { bridgeStateDir };

/** The groups in the order they run. */
const GROUPS: readonly LeftoverGroup[] = [
  damagedRecordGroup,
  orphanedSandboxGroup,
  namespaceGoneGroup,
  forwarderGroup,
  helperGroup,
  leaseGroup,
  dnsResponderGroup,
  dnatGroup,
  firewallGroup,
  rootlessNetnsGroup,
  strayFileGroup,
  emptyDirGroup,
];

/** Options for {@linkcode collectGarbage}. */
export interface GcOptions {
  /** List what would be removed, and remove nothing. */
  dryRun?: boolean;
}

/**
 * Finds nsnet's leftovers and (unless `dryRun`) removes them, one group
 * after another; a removal that fails is reported and the rest go on. A
 * dry run lists what the first pass would find: what a removal takes along
 * (a sandbox's lease) is not listed again.
 *
 * @example
 * ```ts
 * import { collectGarbage } from "./runner.ts";
 * for (const e of await collectGarbage({ dryRun: true })) console.log(e.kind, e.name, e.detail);
 * ```
 */
export async function collectGarbage(
  options: GcOptions = {},
): Promise<GcEntry[]> {
  const entries: GcEntry[] = [];
  const seen = new Set<string>();
  for (const group of GROUPS) {
    let found;
    try {
      found = await group.find();
    } catch (error) {
      entries.push({
        kind: "file",
        name: group.name,
        detail: "could not be searched",
        status: "failed",
        error: (error as Error).message ?? String(error),
      });
      continue;
    }
    for (const leftover of found) {
      // A sandbox both orphaned and without its namespace is listed once.
      const key = `${leftover.kind}\0${leftover.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const entry: GcEntry = {
        kind: leftover.kind,
        name: leftover.name,
        detail: leftover.detail,
        status: "would remove",
      };
      if (!options.dryRun) {
        try {
          await leftover.remove();
          entry.status = "removed";
        } catch (error) {
          entry.status = "failed";
          entry.error = error instanceof Error ? error.message : String(error);
        }
      }
      entries.push(entry);
    }
  }
  return entries;
}
