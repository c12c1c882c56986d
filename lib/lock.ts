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
   * may overlap across `await`s take it through {@linkcode withFileLock}.
   */
  acquire(): this {
    if (this.#file !== undefined) return this;
    if (heldHere.has(this.path)) {
      throw new NsnetError(`${this.path} is already locked by this process`, {
        hint: "a bug in nsnet: callers that overlap must use withFileLock",
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

/** The tail of the queue of callers of {@linkcode withFileLock}, per path. */
const queues = new Map<string, Promise<void>>();

/**
 * Runs `fn` with the lock on `path` held, one caller at a time within this
 * process too: `flock` blocks the thread, so a second caller in the same
 * process waiting on it while the first awaits would never wake. `fn` gets
 * the lock, to release it early (and remove the file) if it decides to.
 */
export async function withFileLock<T>(
  path: string,
  fn: (lock: FileLock) => Promise<T>,
): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => done = resolve);
  const tail = previous.then(() => mine);
  queues.set(path, tail);
  await previous;
  try {
    using lock = new FileLock(path).acquire();
    return await fn(lock);
  } finally {
    done();
    if (queues.get(path) === tail) queues.delete(path);
  }
}
