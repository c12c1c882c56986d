/**
 * Lab records: one JSON file per lab under nsnet's state dir
 * (`/run/nsnet/labs` as root, `$XDG_RUNTIME_DIR/nsnet/labs` rootless),
 * written atomically and changed only under the lab's lock. A lab is
 * recorded before anything of it is made, so that what a killed
 * `nsnet lab up` left is found and removed by name.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import { readRecords, writeFileAtomicSync } from "../fs.ts";
import { FileLock } from "../lock.ts";
import { processAlive } from "../process_identity.ts";
import { stateDir } from "../sandbox/store.ts";
import { validateLabName } from "./spec.ts";
import type { Impairment, LabPlan } from "./types.ts";

/** What a lab's record holds. */
export interface LabRecord {
  /** The lab's name. */
  name: string;
  /** `creating` until every piece is made, then `ready`. */
  phase: "creating" | "ready";
  /** The pid of the process that created it. */
  pid: number;
  /** That process's start time (`/proc/PID/stat`), so that a reused pid is not taken for it. */
  start?: string;
  /** When it was created (ISO 8601). */
  created: string;
  /** Whether it was made inside a user namespace (rootless). */
  rootless: boolean;
  /** What was built. */
  plan: LabPlan;
  /** The impairment each segment has now, by segment id (absent: as planned). */
  impairments?: Record<string, Impairment>;
  /** Which end only is impaired, by segment id (absent: as planned). */
  from?: Record<string, string | null>;
  /** Whether the kernel has netem, once a build or change found out. */
  netem?: boolean;
  /** Segments taken down (partitions). */
  down?: string[];
}

/** Where lab records live. */
export function labDir(): string {
  return `${stateDir()}/labs`;
}

function recordPath(name: string): string {
  return `${labDir()}/${name}.json`;
}

/** Takes the exclusive lock of lab `name` (waiting for other holders). */
export function lockLab(name: string): Promise<FileLock> {
  validateLabName(name);
  Deno.mkdirSync(labDir(), { recursive: true, mode: 0o700 });
  return new FileLock(`${labDir()}/.${name}.lock`).acquireAsync();
}

/** Reads the record of lab `name`, or undefined when there is none. */
export function readLabRecord(name: string): LabRecord | undefined {
  validateLabName(name);
  try {
    return JSON.parse(Deno.readTextFileSync(recordPath(name))) as LabRecord;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof SyntaxError) {
      throw new NsnetError(`the record of lab ${name} is damaged`, {
        hint: `remove ${recordPath(name)} and the lab's namespaces by hand`,
        cause: error,
      });
    }
    throw error;
  }
}

/** Writes the record atomically (call with the lab's lock held). */
export function writeLabRecord(record: LabRecord): void {
  Deno.mkdirSync(labDir(), { recursive: true, mode: 0o700 });
  writeFileAtomicSync(
    recordPath(record.name),
    JSON.stringify(record) + "\n",
    0o600,
    { durable: false }, // runtime state on a tmpfs
  );
}

/**
 * Removes the record (missing is fine), and the labs and state dirs once
 * they are empty. The lock file goes when its holder releases it with
 * `remove`.
 */
export function removeLabRecord(name: string): void {
  try {
    Deno.removeSync(recordPath(name));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Removes the labs dir and the state dir when they are empty. */
export function pruneLabDirs(): void {
  for (const dir of [labDir(), stateDir()]) {
    try {
      Deno.removeSync(dir); // only succeeds when empty
    } catch {
      return;
    }
  }
}

/** Every lab record, sorted by name. Damaged records are skipped. */
export function listLabRecords(): LabRecord[] {
  return readRecords<LabRecord>(labDir());
}

/** Whether the process that created lab `record` still runs (checked by pid and start time). */
export function creatorAlive(record: LabRecord): boolean {
  return processAlive(record.pid, record.start);
}
