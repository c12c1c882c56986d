/**
 * `nsnet rootless exec -- CMD` as the unprivileged nsnet runs it, without
 * running itself again inside its user namespace.
 *
 * The warm path: when the pause process, the rootless namespace, its helper
 * and its mount holder are all there, it counts a reference under the lock
 * and starts the command with one `nsenter` into the holder's namespaces.
 * Otherwise (the first run, or something to repair) it makes or mends the
 * namespace from here, through the pause process (see `access.ts`).
 *
 * The warm path loads nothing heavy (no commander, no Node compatibility
 * layer, no libc): its cost is little more than Deno's own startup.
 *
 * @module
 */

import { pathExists } from "../fs.ts";
import { waitForwardingSignals } from "../child.ts";
import { FileLock } from "../lock.ts";
import { isHelperProcess } from "./helper_process.ts";
import { isHolderProcess, netnsLink, spawnInHolder } from "./holder.ts";
import {
  adjustRefCount,
  namespaceFileState,
  readInfo,
  readRefCount,
  rootlessPaths,
} from "./state.ts";
import { seenFromHere, type ViaPause } from "./access.ts";

/**
 * Runs `command` in the warm rootless namespace and returns its exit status;
 * undefined (having done nothing) when the warm path does not apply: the
 * caller then makes or mends the namespace (see `run.ts`). When this command
 * held the last reference, `release(access)` drops it, which tears the
 * namespace down. For an unprivileged caller outside nsnet's user namespace,
 * reaching it through the live pause process `access` names.
 *
 * This module imports nothing that makes namespaces, statically or not: the
 * caller brings that in only when it is needed.
 */
export async function warmRootlessExec(
  access: ViaPause,
  command: readonly string[],
  release: (access: ViaPause) => Promise<void>,
): Promise<number | undefined> {
  let paths;
  try {
    paths = rootlessPaths();
  } catch {
    return undefined; // let the full path report it
  }
  let holder = 0;
  const lock = new FileLock(paths.lock);
  try {
    lock.acquire();
  } catch {
    return undefined;
  }
  try {
    const info = readInfo(paths);
    if (info === undefined) return undefined;
    // The record names the namespace of its static dir: no hashing needed.
    const netnsPath = info.staticDir === paths.staticDir
      ? info.netnsPath
      : paths.netns;
    if (namespaceFileState(netnsPath, access) !== "present") return undefined;
    if (
      !isHelperProcess(info.helperPid, {
        program: info.helper,
        netnsPath,
      })
    ) {
      return undefined;
    }
    const netns = netnsLink(seenFromHere(access, netnsPath));
    if (!isHolderProcess(info.holderPid, netns)) {
      return undefined;
    }
    holder = info.holderPid!;
    adjustRefCount(paths, +1);
  } catch {
    return undefined; // nothing was changed: the full path reports what is wrong
  } finally {
    lock.release();
  }
  let status: number;
  try {
    const child = spawnInHolder(holder, command);
    status = await waitForwardingSignals(child);
  } finally {
    lock.acquire();
    let last = false;
    try {
      const pinned = pathExists(paths.pinned);
      if (pathExists(paths.dir)) {
        last = !pinned && readRefCount(paths) <= 1;
        if (!last) adjustRefCount(paths, -1);
      }
    } finally {
      lock.release();
    }
    if (last) await release(access);
  }
  return status;
}

export {
  ensurePause,
  inNsnetUserNS,
  livePause,
  needsUserNS,
} from "./userns.ts";
