/**
 * Sandbox records: one JSON file per sandbox under nsnet's state dir
 * (`/run/nsnet/sandboxes` as root, `$XDG_RUNTIME_DIR/nsnet/sandboxes`
 * rootless), written atomically and changed only under the sandbox's lock,
 * so two nsnet processes never corrupt one and a crash never leaves half.
 *
 * @module
 */

import { FileLock } from "../lock.ts";
import { getEnv } from "../env.ts";
import { NsnetError } from "../errors.ts";
import { readRecords, writeFileAtomicSync } from "../fs.ts";
import { validateNSName } from "../netns/name.ts";
import { isRootless } from "../rootless/detect.ts";
import { rootlessStateDir } from "../rootless/runtime_dir.ts";
import type { SandboxRecord } from "./types.ts";

/** nsnet's state dir: `NSNET_STATE_DIR`, else `/run/nsnet` as root, `$XDG_RUNTIME_DIR/nsnet` rootless. */
export function stateDir(): string {
  const override = getEnv("NSNET_STATE_DIR");
  if (override) return override;
  return isRootless() ? rootlessStateDir() : "/run/nsnet";
}

/** Where sandbox records live (not created: see {@linkcode ensureSandboxDir}). */
export function sandboxDir(): string {
  return `${stateDir()}/sandboxes`;
}

/** Creates the sandbox dir (0700) if needed and returns it: for writers only. */
export function ensureSandboxDir(): string {
  const dir = sandboxDir();
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Checks a sandbox name: the same rules as namespace names, and no leading dot. */
export function validateSandboxName(name: string): void {
  validateNSName(name);
  if (name.startsWith(".")) {
    throw new NsnetError(
      `invalid sandbox name ${JSON.stringify(name)}: it starts with '.'`,
      {
        hint: "use a plain name such as `web` or `ci-42`",
      },
    );
  }
}

/**
 * Takes the exclusive lock of sandbox `name`, waiting for other nsnet
 * processes, and other callers in this one, to release it.
 */
export function lockSandbox(name: string): Promise<FileLock> {
  validateSandboxName(name);
  return new FileLock(`${ensureSandboxDir()}/.${name}.lock`).acquireAsync();
}

/** {@linkcode lockSandbox} for synchronous callers; throws if this process holds it already. */
export function lockSandboxSync(name: string): FileLock {
  validateSandboxName(name);
  return new FileLock(`${ensureSandboxDir()}/.${name}.lock`).acquire();
}

function recordPath(name: string): string {
  return `${sandboxDir()}/${name}.json`;
}

/** Reads the record of sandbox `name`, or undefined when there is none. */
export function readRecord(name: string): SandboxRecord | undefined {
  validateSandboxName(name);
  try {
    return JSON.parse(Deno.readTextFileSync(recordPath(name))) as SandboxRecord;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof SyntaxError) {
      throw new NsnetError(`the record of sandbox ${name} is damaged`, {
        hint: `remove it with \`nsnet sandbox rm --force ${name}\``,
        cause: error,
      });
    }
    throw error;
  }
}

/** Writes the record (atomically; call with the sandbox's lock held). */
export function writeRecord(record: SandboxRecord): void {
  writeFileAtomicSync(
    recordPath(record.name),
    JSON.stringify(record, null, 2) + "\n",
    0o600,
  );
}

/**
 * Removes the record and its lock file (missing is fine), and the sandbox
 * and state dirs once they are empty, so that nothing of nsnet remains.
 */
export function removeRecord(name: string): void {
  for (const path of [recordPath(name), `${sandboxDir()}/.${name}.lock`]) {
    try {
      Deno.removeSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  for (const dir of [sandboxDir(), stateDir()]) {
    try {
      Deno.removeSync(dir); // only succeeds when empty
    } catch {
      return;
    }
  }
}

/** Every sandbox record, sorted by name. Damaged records are skipped. */
export function listRecords(): SandboxRecord[] {
  return readRecords<SandboxRecord>(sandboxDir());
}
