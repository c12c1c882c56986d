/**
 * A sandbox's reference on the shared rootless namespace: taken when a
 * backend sets its network up inside it, dropped by the sandbox's teardown
 * whatever happened to the backend, the namespace going with the last one.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import type { HelperOptions } from "../rootless/helper_options.ts";
import type { SpawnInsideOptions } from "../rootless/inside.ts";
import { getRootlessNetNS } from "../rootless/open.ts";
import { releaseRootlessReference as releaseReference } from "../rootless/status.ts";
import { writeRecord } from "./store.ts";
import type { SandboxRecord } from "./types.ts";

/** What a backend needs of the rootless namespace: where it is, its state dir, how to run inside. */
export interface RootlessAccess {
  /** The namespace file. */
  path: string;
  /** Its state dir (backend state under it goes with the namespace). */
  dir: string;
  /** Runs a command inside it, with S6's mounts. */
  spawn: (
    command: readonly string[],
    options?: SpawnInsideOptions,
  ) => Deno.ChildProcess;
}

/**
 * The rootless namespace of a rootless sandbox (undefined as root). With
 * `take`, it is made if needed and the sandbox takes a reference on it,
 * recorded at once so that teardown drops it even after a crash.
 */
export async function rootlessAccess(
  record: SandboxRecord,
  take: boolean,
  helper: HelperOptions = {},
): Promise<RootlessAccess | undefined> {
  if (!record.rootless) return undefined;
  // Taking, the handle holds a counted reference, which this sandbox keeps
  // (its teardown gives it back): the handle is never released here.
  const rootless = await getRootlessNetNS({
    ...helper,
    create: take,
    hold: take ? "reference" : "none",
  });
  if (rootless === undefined) {
    throw new NsnetError("no rootless network namespace");
  }
  if (take) {
    record.rootlessRef = true;
    writeRecord(record);
  }
  return {
    path: rootless.path,
    dir: rootless.paths.dir,
    spawn: (command, options) => rootless.spawn(command, options),
  };
}

/**
 * Drops the sandbox's reference on the shared rootless namespace, tearing it
 * down when it was the last. Done whatever happened to the backend before.
 */
export async function releaseRootlessReference(
  record: SandboxRecord,
): Promise<void> {
  if (!record.rootless || !record.rootlessRef) return;
  await releaseReference({ waitForHelper: true });
  record.rootlessRef = false;
}
