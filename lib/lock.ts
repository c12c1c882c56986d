/**
 * Exclusive file locks (`flock`) that nsnet processes take around state they
 * share: released when closed, and by the kernel when a holder dies, so a
 * crash never leaves a lock behind.
 *
 * @module
 */

/** An exclusive lock on a file, made if missing (0600). */
export class FileLock {
  #file: Deno.FsFile | undefined;
  /** The lock file. */
  readonly path: string;

  /** A lock on `path`, not yet taken. */
  constructor(path: string) {
    this.path = path;
  }

  /** Takes the lock, waiting for whoever holds it. Idempotent. */
  acquire(): this {
    if (this.#file !== undefined) return this;
    // Deno's lock is flock(2), the same lock iproute2-style users of the file take.
    const file = Deno.openSync(this.path, {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
    try {
      file.lockSync(true);
    } catch (error) {
      file.close();
      throw error;
    }
    this.#file = file;
    return this;
  }

  /** Releases the lock. Idempotent. */
  release(): void {
    const file = this.#file;
    if (file === undefined) return;
    this.#file = undefined;
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
