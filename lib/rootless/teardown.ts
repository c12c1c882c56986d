/**
 * Tearing the rootless namespace down: its mount holder, its file (the
 * namespace unmounted), every helper a record or pid file names for it (only
 * if it really is that namespace's), and its state dir. Every step is tried;
 * the first error is raised once all were, the others logged.
 *
 * @module
 */

import { pathExists } from "../fs.ts";
import { FileLock } from "../lock.ts";
import { debug, warn } from "../log.ts";
import type { UserNSAccess } from "./access.ts";
import { HELPER_KINDS, type HelperKind } from "./helper_options.ts";
import { isHelperProcess, readPidFile, stopHelper } from "./helper_process.ts";
import { stopHolder } from "./holder.ts";
import { removeNamespaceFile } from "./netns_file.ts";
import {
  adjustRefCount,
  holderPidFile,
  readInfo,
  type RootlessPaths,
} from "./state.ts";

/** A helper known to serve the namespace (from its record). */
export interface KnownHelper {
  /** Which helper. */
  helper?: HelperKind;
  /** Its pid. */
  helperPid?: number;
}

/** Options for {@linkcode teardownRootless}. */
export interface TeardownOptions {
  /** Wait until the helpers have exited (default true); else only signal them. */
  waitForHelper?: boolean;
}

/**
 * Tears down everything of the namespace in `paths`, reaching the user
 * namespace as `access` says. `known` names the recorded helper; helpers
 * named by pid files are stopped too. Call under the namespace's lock.
 *
 * @throws the first error of a step, after every step was tried.
 */
export async function teardownRootless(
  paths: RootlessPaths,
  access: UserNSAccess,
  known: KnownHelper = {},
  options: TeardownOptions = {},
): Promise<void> {
  const errors: unknown[] = [];
  const attempt = async (step: () => unknown): Promise<void> => {
    try {
      await step();
    } catch (error) {
      errors.push(error);
    }
  };
  const helpers = helpersOf(paths, known);
  await attempt(() => stopHolder(readPidFile(holderPidFile(paths))));
  await attempt(() => removeNamespaceFile(paths.netns, access));
  for (const [pid, program] of helpers) {
    await attempt(async () => {
      const result = await stopHelper(
        pid,
        { program, netnsPath: paths.netns },
        { wait: options.waitForHelper ?? true },
      );
      debug(`${program} (pid ${pid}): ${result}`);
    });
  }
  await attempt(() => {
    try {
      Deno.removeSync(paths.dir, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  });
  for (const error of errors.slice(1)) {
    warn(`tearing down ${paths.netns}: ${(error as Error).message}`);
  }
  if (errors.length > 0) throw errors[0];
}

/** The helpers to stop: the recorded one, and any that pid files name. */
function helpersOf(
  paths: RootlessPaths,
  known: KnownHelper,
): Map<number, HelperKind> {
  const helpers = new Map<number, HelperKind>();
  if (known.helper !== undefined && known.helperPid !== undefined) {
    helpers.set(known.helperPid, known.helper);
  }
  for (const program of HELPER_KINDS) {
    const fromFile = readPidFile(paths.pidFile(program));
    if (fromFile !== undefined && !helpers.has(fromFile)) {
      helpers.set(fromFile, program);
    }
  }
  return helpers;
}

/**
 * Stops helpers that pid files name for this namespace but that no record
 * accounts for (nsnet was killed between starting one and recording it):
 * left running, they would hold the tap device a new helper needs.
 */
export async function stopOrphanHelpers(paths: RootlessPaths): Promise<void> {
  for (const program of HELPER_KINDS) {
    const pid = readPidFile(paths.pidFile(program));
    if (pid === undefined) continue;
    const identity = { program, netnsPath: paths.netns };
    if (isHelperProcess(pid, identity)) {
      warn(
        `stopping ${program} (pid ${pid}) left by an earlier nsnet that did not finish`,
      );
      await stopHelper(pid, identity);
    }
  }
}

/** Options for {@linkcode releaseReference}. */
export interface ReleaseOptions extends TeardownOptions {
  /** How the user namespace is reached. */
  access: UserNSAccess;
}

/**
 * Drops one counted reference on the namespace in `paths` (taking its lock)
 * and tears it down when it was the last and `nsnet rootless up` holds none.
 * Never repairs or restarts anything; a namespace gone already is fine.
 */
export async function releaseReference(
  paths: RootlessPaths,
  options: ReleaseOptions,
): Promise<void> {
  const lock = await new FileLock(paths.lock).acquireAsync();
  try {
    if (!pathExists(paths.dir)) return;
    if (adjustRefCount(paths, -1) > 0 || pathExists(paths.pinned)) return;
    await teardownRootless(paths, options.access, readInfo(paths), options);
  } finally {
    lock.release();
  }
}
