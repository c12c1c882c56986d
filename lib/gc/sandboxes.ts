/**
 * `nsnet gc`'s sandbox groups: records that are not JSON (removed, with the
 * namespace they name when nsnet made it), sandboxes whose `nsnet run` is
 * gone (removed by the reconciliation `nsnet run` itself does, called, not
 * copied), and sandboxes whose namespace is gone (missing, or a file that
 * holds none). Each goes through `removeSandbox`, which tears down all the
 * record names.
 *
 * @module
 */

import { NsnetError, SandboxNotFoundError } from "../errors.ts";
import { getNS } from "../netns/netns.ts";
import { unmountNS } from "../netns/teardown.ts";
import { readRecordFiles } from "../fs.ts";
import { processAlive } from "../process_identity.ts";
import {
  orphanedSandboxes,
  removeOrphanedSandboxes,
  removeSandbox,
  sandboxResolvConf,
} from "../sandbox/lifecycle.ts";
import {
  listRecords,
  lockSandbox,
  readRecord,
  removeRecord,
  sandboxDir,
} from "../sandbox/store.ts";
import type { Leftover, LeftoverGroup } from "./types.ts";

/** What is at a namespace path: a namespace, nothing, or a file that holds none. */
export function namespaceState(path: string): "ok" | "missing" | "stale" {
  try {
    using ns = getNS(path);
    void ns;
    return "ok";
  } catch (error) {
    try {
      Deno.lstatSync(path);
    } catch (statError) {
      if (statError instanceof Deno.errors.NotFound) return "missing";
      throw error;
    }
    return "stale";
  }
}

/** Whether sandbox `name` has no record; a damaged record counts as one, an invalid name as none proven. */
export function sandboxGone(name: string): boolean {
  try {
    return readRecord(name) === undefined;
  } catch {
    return false;
  }
}

/** The sandbox records that are not JSON (or not a record), by name, with their text. */
function damagedRecords(): { name: string; text: string }[] {
  return readRecordFiles(sandboxDir()).filter(({ text }) => {
    try {
      const parsed = JSON.parse(text);
      return typeof parsed !== "object" || parsed === null;
    } catch {
      return true; // damaged
    }
  });
}

/** The namespace a damaged record still names, when nsnet made it (`"ownsNetns": true`). */
export function ownedNamespaceIn(text: string): string | undefined {
  if (!/"ownsNetns"\s*:\s*true/.test(text)) return undefined;
  return /"netnsPath"\s*:\s*"([^"\\]+)"/.exec(text)?.[1];
}

async function removeDamagedRecord(name: string): Promise<void> {
  using lock = await lockSandbox(name);
  void lock;
  const still = damagedRecords().find((d) => d.name === name);
  if (still === undefined) return; // mended or removed meanwhile
  const netns = ownedNamespaceIn(still.text);
  if (netns !== undefined && namespaceState(netns) !== "missing") {
    unmountNS(netns);
  }
  try {
    Deno.removeSync(sandboxResolvConf(name));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  removeRecord(name);
}

/** Records that are not JSON: nothing can read them, so nothing would ever remove them. */
export const damagedRecordGroup: LeftoverGroup = {
  name: "damaged records",
  find: (): Leftover[] =>
    damagedRecords().map(({ name, text }) => {
      const netns = ownedNamespaceIn(text);
      return {
        kind: "record",
        name,
        detail:
          `${sandboxDir()}/${name}.json is not a sandbox record (not JSON)${
            netns === undefined ? "" : `; its namespace ${netns} goes too`
          }`,
        remove: () => removeDamagedRecord(name),
      };
    }),
};

/** Sandboxes whose `nsnet run` is gone: the reconciliation of `nsnet run`, called once for all. */
export const orphanedSandboxGroup: LeftoverGroup = {
  name: "sandboxes whose runner is gone",
  find(): Leftover[] {
    let reconciled: Promise<string[]> | undefined;
    return orphanedSandboxes().map((record) => ({
      kind: "sandbox",
      name: record.name,
      detail: `its nsnet run (pid ${record.runnerPid}) is gone`,
      async remove(): Promise<void> {
        reconciled ??= removeOrphanedSandboxes();
        await reconciled;
        if (!sandboxGone(record.name)) {
          throw new NsnetError(
            `sandbox ${record.name} is still there after the reconciliation`,
            {
              hint:
                `see its error above, or run nsnet sandbox rm --force ${record.name}`,
            },
          );
        }
      },
    }));
  },
};

/** Sandboxes whose namespace is gone, and whose runner (if any) is gone too or never was. */
export const namespaceGoneGroup: LeftoverGroup = {
  name: "sandboxes whose namespace is gone",
  find(): Leftover[] {
    const found: Leftover[] = [];
    for (const record of listRecords()) {
      if (record.netnsPath === undefined) continue;
      if (
        record.runnerPid !== undefined &&
        processAlive(record.runnerPid, record.runnerStart)
      ) continue; // its runner tears it down
      const state = namespaceState(record.netnsPath);
      if (state === "ok") continue;
      found.push({
        kind: "sandbox",
        name: record.name,
        detail: `its namespace ${record.netnsPath} is ${
          state === "missing" ? "gone" : "a stale file that holds none"
        }`,
        async remove(): Promise<void> {
          try {
            await removeSandbox(record.name, { force: true });
          } catch (error) {
            if (!(error instanceof SandboxNotFoundError)) throw error;
          }
        },
      });
    }
    return found;
  },
};
