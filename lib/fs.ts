/**
 * Writing files atomically: a temp file in the same directory, flushed, given
 * its mode (whatever the umask), then renamed over the target, so that a
 * reader sees the old file or the new one and never a part. On failure the
 * temp file is removed and the error names the path and the fix.
 *
 * @module
 */

import { NsnetError } from "./errors.ts";

function tempPathFor(path: string): string {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const base = path.slice(slash + 1);
  // Not crypto.randomUUID(): its first call loads Deno's crypto, 0.5 ms of a
  // warm rootless exec. Unique enough: the file is created exclusively.
  const salt = Math.random().toString(36).slice(2, 10);
  return `${dir}/.${base}.${Deno.pid}.${salt}.tmp`;
}

function writeError(path: string, error: unknown): NsnetError {
  const message = error instanceof Error ? error.message : String(error);
  return new NsnetError(`cannot write ${path}: ${message}`, {
    cause: error,
    hint: error instanceof Deno.errors.NotFound
      ? "create the directory first"
      : error instanceof Deno.errors.PermissionDenied
      ? "the directory is not writable by this user"
      : undefined,
  });
}

function toBytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
}

/**
 * Writes `data` to `path` atomically with `mode` (default 0644), flushed to
 * disk first unless `durable: false`.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
  options: { durable?: boolean } = {},
): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true, mode });
    try {
      const bytes = toBytes(data);
      let written = 0;
      while (written < bytes.length) {
        written += await file.write(bytes.subarray(written));
      }
      if (options.durable ?? true) await file.syncData();
    } finally {
      file.close();
    }
    await Deno.chmod(tmp, mode);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw writeError(path, error);
  }
}

/**
 * {@linkcode writeFileAtomic}, synchronously: for small state files written
 * under a lock. `durable: false` skips the flush to disk: enough for runtime
 * state on a tmpfs, which must survive nsnet crashing, not the power failing.
 */
export function writeFileAtomicSync(
  path: string,
  data: string | Uint8Array,
  mode = 0o644,
  options: { durable?: boolean } = {},
): void {
  const tmp = tempPathFor(path);
  try {
    const file = Deno.openSync(tmp, { write: true, createNew: true, mode });
    try {
      const bytes = toBytes(data);
      let written = 0;
      while (written < bytes.length) {
        written += file.writeSync(bytes.subarray(written));
      }
      if (options.durable ?? true) file.syncDataSync();
    } finally {
      file.close();
    }
    Deno.chmodSync(tmp, mode);
    Deno.renameSync(tmp, path);
  } catch (error) {
    try {
      Deno.removeSync(tmp);
    } catch { /* never made */ }
    throw writeError(path, error);
  }
}

/**
 * Whether `path` exists, following links unless `followLinks: false` (then
 * a dangling link exists too). A path that cannot be looked at (no
 * permission) counts as missing.
 */
export function pathExists(
  path: string,
  options: { followLinks?: boolean } = {},
): boolean {
  try {
    if (options.followLinks ?? true) Deno.statSync(path);
    else Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `path` is a file someone may execute (following links), as a
 * search of `PATH` wants it.
 */
export function isExecutableFile(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * The JSON record files of a state directory (`NAME.json`, not hidden), by
 * name with their text; a missing directory has none, a file that vanishes
 * while being read is skipped. Parsing is the caller's: some skip damaged
 * records, `nsnet gc` collects them.
 */
export function readRecordFiles(
  dir: string,
): { name: string; text: string }[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return [];
  }
  const files: { name: string; text: string }[] = [];
  for (const entry of entries) {
    if (
      !entry.isFile || !entry.name.endsWith(".json") ||
      entry.name.startsWith(".")
    ) continue;
    try {
      files.push({
        name: entry.name.slice(0, -".json".length),
        text: Deno.readTextFileSync(`${dir}/${entry.name}`),
      });
    } catch { /* vanished */ }
  }
  return files;
}

/** The records of {@linkcode readRecordFiles} that parse, sorted by name; damaged ones are skipped. */
export function readRecords<T extends { name: string }>(dir: string): T[] {
  const records: T[] = [];
  for (const { text } of readRecordFiles(dir)) {
    try {
      records.push(JSON.parse(text));
    } catch { /* damaged */ }
  }
  return records.sort((a, b) => a.name.localeCompare(b.name));
}
