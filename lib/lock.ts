/**
 * Exclusive file locks (`flock`) that nsnet processes take around state they
 * share: released when closed, and by the kernel when a holder dies, so a
 * crash never leaves a lock behind.
 *
 * @module
 */

import { close, flock, LOCK, O, openPath } from "../ffi/syscalls.ts";

/** An exclusive lock on a file, made if missing (0600). */
export class FileLock {
  #fd = -1;
  /** The lock file. */
  readonly path: string;

  /** A lock on `path`, not yet taken. */
  constructor(path: string) {
    this.path = path;
  }

  /** Takes the lock, waiting for whoever holds it. Idempotent. */
  acquire(): this {
    if (this.#fd >= 0) return this;
    const fd = openPath(this.path, O.RDWR | O.CREAT, 0o600);
    try {
      flock(fd, LOCK.EX, this.path);
    } catch (error) {
      close(fd);
      throw error;
    }
    this.#fd = fd;
    return this;
  }

  /** Releases the lock. Idempotent. */
  release(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    close(fd);
  }

  /** Whether this handle holds the lock. */
  get held(): boolean {
    return this.#fd >= 0;
  }

  /** Releases the lock at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.release();
  }
}
