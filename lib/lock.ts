/**
 * Exclusive file locks (`flock`) that nsnet processes take around state they
 * share: released when closed, and by the kernel when a holder dies, so a
 * crash never leaves a lock behind. A lock file may be removed by whoever
 * holds it, once the state it guards is gone.
 *
 * @module
 */

import { NsnetError } from "./errors.ts";

/**
 * The paths a {@linkcode FileLock} of this thread holds: a second `flock` on
 * one of them from this thread would wait for itself forever.
 */
const heldHere = new Set<string>();

/** Callers of {@linkcode FileLock.acquireAsync} waiting for this thread to release a path. */
const waiting = new Map<string, (() => void)[]>();

/**
 * An exclusive lock on a file, made if missing (0600). Needs read and write
 * permission for the file.
 */
export class FileLock {
  #file: Deno.FsFile | undefined;
  /** The lock file. */
  readonly path: string;

  /** A lock on `path`, not yet taken. */
  constructor(path: string) {
    this.path = path;
  }

  /**
   * Takes the lock, blocking the thread while another process holds it.
   * Idempotent. Another holder may remove the file while this one waits:
   * the locked file is checked to still be the one at the path, and the
   * wait starts over on the new file if not. Throws if another `FileLock`
   * of this thread holds the path (that wait would never end): callers that
   * may overlap across `await`s use {@linkcode FileLock.acquireAsync}.
   */
  acquire(): this {
    if (this.#file !== undefined) return this;
    if (heldHere.has(this.path)) {
      throw new NsnetError(`${this.path} is already locked by this process`, {
        hint: "a bug in nsnet: callers that overlap must use acquireAsync",
      });
    }
    for (;;) {
      // Deno's lock is flock(2), the same lock iproute2-style users of the file take.
      const file = Deno.openSync(this.path, {
        read: true,
        write: true,
        create: true,
        mode: 0o600,
      });
      try {
        file.lockSync(true);
        if (file.statSync().ino === currentInode(this.path)) {
          this.#file = file;
          heldHere.add(this.path);
          return this;
        }
      } catch (error) {
        file.close();
        throw error;
      }
      file.close(); // removed or replaced while we waited: lock the new one
    }
  }

  /**
   * Takes the lock as {@linkcode FileLock.acquire} does, but first waits,
   * without blocking the thread, while another `FileLock` of this thread
   * holds the path: for callers that hold it across `await`s and may run
   * side by side in one process (two sandboxes created at once).
   */
  async acquireAsync(): Promise<this> {
    while (this.#file === undefined && heldHere.has(this.path)) {
      await new Promise<void>((resolve) => {
        const queue = waiting.get(this.path) ?? [];
        queue.push(resolve);
        waiting.set(this.path, queue);
      });
    }
    return this.acquire();
  }

  /**
   * Releases the lock; with `remove`, removes the lock file first, while it
   * is still held. Idempotent.
   */
  release(options: { remove?: boolean } = {}): void {
    const file = this.#file;
    if (file === undefined) return;
    if (options.remove) {
      try {
        Deno.removeSync(this.path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    this.#file = undefined;
    heldHere.delete(this.path);
    file.close();
    // Wake this thread's waiters: the first to run takes it, the rest wait again.
    const queue = waiting.get(this.path);
    if (queue !== undefined) {
      waiting.delete(this.path);
      for (const wake of queue) wake();
    }
  }

  /** Whether this handle holds the lock. */
  get held(): boolean {
    return this.#file !== undefined;
  }

  /** Releases the lock at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.release();
  }
}

function currentInode(path: string): number | null | undefined {
  try {
    return Deno.statSync(path).ino;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Runs `fn` with the lock on `path` held, one caller at a time within this
 * process too (see {@linkcode FileLock.acquireAsync}). `fn` gets the lock, to
 * release it early (and remove the file) if it decides to.
 */
export async function withFileLock<T>(
  path: string,
  fn: (lock: FileLock) => Promise<T>,
): Promise<T> {
  using lock = await new FileLock(path).acquireAsync();
  return await fn(lock);
}
