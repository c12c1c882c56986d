/**
 * Exclusive file locks for the bridge backend's state: `flock` on a lock
 * file that is removed again when the state it guards is gone, so that a
 * torn-down backend leaves no file behind. The kernel drops the lock when
 * its holder dies, so a crash never leaves it held.
 *
 * @module
 */

import {
  close,
  flock,
  fstatIdentity,
  LOCK,
  O,
  openPath,
} from "../../ffi/syscalls.ts";

/** An exclusive lock on a file, held until {@linkcode StateLock.release}. */
export class StateLock {
  /** The lock file. */
  readonly path: string;
  #fd: number;

  /** Wraps a held lock; use {@linkcode StateLock.acquire}. */
  constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /**
   * Takes the lock on `path` (creating the file), blocking the thread until
   * other processes release it. Another holder may remove the file while
   * this one waits; the inode is checked after locking and the wait starts
   * over on the new file.
   */
  static acquire(path: string): StateLock {
    for (;;) {
      const fd = openPath(path, O.RDWR | O.CREAT, 0o600);
      try {
        flock(fd, LOCK.EX, path);
        const held = fstatIdentity(fd, path).ino;
        let current: bigint | undefined;
        try {
          const ino = Deno.statSync(path).ino;
          current = ino === null ? undefined : BigInt(ino);
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        }
        if (current === held) return new StateLock(path, fd);
      } catch (error) {
        close(fd);
        throw error;
      }
      close(fd);
    }
  }

  /** Whether the lock is still held. */
  get held(): boolean {
    return this.#fd >= 0;
  }

  /** Releases the lock; with `remove`, removes the lock file first. Idempotent. */
  release(options: { remove?: boolean } = {}): void {
    if (this.#fd < 0) return;
    if (options.remove) {
      try {
        Deno.removeSync(this.path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    const fd = this.#fd;
    this.#fd = -1;
    close(fd);
  }
}

const queues = new Map<string, Promise<void>>();

/**
 * Runs `fn` with the lock on `path` held, one caller at a time within this
 * process too: `flock` blocks the thread, so a second caller in the same
 * process waiting on it while the first awaits would never wake. `fn` gets
 * the lock to decide whether the file goes when released.
 */
export async function withStateLock<T>(
  path: string,
  fn: (lock: StateLock) => Promise<T>,
): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => done = resolve);
  const tail = previous.then(() => mine);
  queues.set(path, tail);
  await previous;
  try {
    const lock = StateLock.acquire(path);
    try {
      return await fn(lock);
    } finally {
      lock.release();
    }
  } finally {
    done();
    if (queues.get(path) === tail) queues.delete(path);
  }
}
