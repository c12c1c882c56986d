/**
 * The rootless handle's old reference-counting members, for
 * `lib/sandbox/rootless_ref.ts` until it moves to `hold` and
 * `releaseRootlessReference()`: private, and to be deleted then.
 *
 * @module
 */

import { FileLock } from "../lock.ts";
import { INSIDE } from "./access.ts";
import { RootlessNetNS } from "./handle.ts";
import type { SpawnInsideOptions } from "./inside.ts";
import { getRootlessNetNS as open, type RootlessNetNSOptions } from "./open.ts";
import { adjustRefCount } from "./state.ts";
import { teardownRootless } from "./teardown.ts";

export type { SpawnInsideOptions };

/** A handle with the old members; each takes the lock for itself. */
export class LockedCompatRootlessNetNS extends RootlessNetNS {
  /** Changes the reference count by `delta`; returns the new count. */
  changeRefCount(delta: number): number {
    return this.#locked(() => adjustRefCount(this.paths, delta));
  }

  /** Whether `nsnet rootless up` holds a reference. */
  get pinned(): boolean {
    try {
      Deno.statSync(this.paths.pinned);
      return true;
    } catch {
      return false;
    }
  }

  /** Nothing: the lock is no longer held by a handle. */
  unlock(): void {}

  /** Tears everything down. */
  async cleanup(): Promise<void> {
    const lock = new FileLock(this.paths.lock);
    lock.acquire();
    try {
      await teardownRootless(this.paths, INSIDE, this.info);
    } finally {
      lock.release();
    }
  }

  #locked<T>(fn: () => T): T {
    const lock = new FileLock(this.paths.lock);
    lock.acquire();
    try {
      return fn();
    } finally {
      lock.release();
    }
  }
}

/** `getRootlessNetNS` holding nothing, with the old members. */
export async function getRootlessNetNS(
  options: RootlessNetNSOptions = {},
): Promise<LockedCompatRootlessNetNS | undefined> {
  const rootless = await open({ ...options, hold: "none" });
  if (rootless === undefined) return undefined;
  return new LockedCompatRootlessNetNS(
    rootless.paths,
    rootless.info,
    INSIDE,
    "none",
  );
}
