/**
 * The handle on the shared rootless namespace: where it is, what its record
 * says, running commands and functions inside it, and giving back what it
 * holds. Made by `getRootlessNetNS()` (`open.ts`), which also takes the
 * namespace's lock while it works; a handle never holds the lock.
 *
 * @module
 */

import { waitForwardingSignals } from "../child.ts";
import { NsnetError } from "../errors.ts";
import type { UserNSAccess } from "./access.ts";
import { RootlessContextError } from "./errors.ts";
import { isHolderProcess, netnsLink, spawnInHolder } from "./holder.ts";
import { spawnInside, type SpawnInsideOptions } from "./inside.ts";
import { seenFromHere } from "./access.ts";
import type { RootlessInfo, RootlessPaths } from "./state.ts";
import { releaseReference, type TeardownOptions } from "./teardown.ts";
import { runOnThrowawayThread } from "./thread_run.ts";

/**
 * What a handle holds on the namespace, which keeps it from being torn down:
 * a counted `reference` (dropped by {@linkcode RootlessNetNS.release}), the
 * `pin` of `nsnet rootless up` (kept after this process, dropped by
 * `rootlessDown()`), or `none`.
 */
export type RootlessHold = "reference" | "pin" | "none";

/**
 * A handle on the shared rootless namespace. While it holds a reference, the
 * namespace stays: `await using rootless = await getRootlessNetNS(...)`
 * gives the reference back when the block ends.
 */
export class RootlessNetNS {
  /** Where its pieces live. */
  readonly paths: RootlessPaths;
  /** What `info.json` said when the handle was made. */
  readonly info: RootlessInfo;
  #access: UserNSAccess;
  #hold: RootlessHold;

  /**
   * Wraps a namespace that exists and whose helper runs, holding `hold` on
   * it; use `getRootlessNetNS()`, which makes sure of both.
   */
  constructor(
    paths: RootlessPaths,
    info: RootlessInfo,
    access: UserNSAccess,
    hold: RootlessHold,
  ) {
    this.paths = paths;
    this.info = info;
    this.#access = access;
    this.#hold = hold;
  }

  /** The namespace file. */
  get path(): string {
    return this.paths.netns;
  }

  /**
   * Runs `fn(...args)` inside the namespace with the mounts of S6, on a
   * thread made for it and then ended: the caller's own threads never change
   * namespace. `fn` travels as its source text, so it must be
   * self-contained (no variables from around it), and its arguments and
   * result are structured-cloned. Sockets it makes, processes it starts and
   * its synchronous file calls are inside; Deno's asynchronous file calls run
   * on other threads and see the host's files. Works inside nsnet's user
   * namespace (where the library runs, with `--allow-ffi`); from outside,
   * use {@linkcode RootlessNetNS.spawn}.
   *
   * @throws {ThreadRunError} carrying what `fn` threw.
   */
  async run<A extends unknown[], R>(
    fn: (...args: A) => R | Promise<R>,
    ...args: A
  ): Promise<Awaited<R>> {
    if (this.#access.kind !== "inside") {
      throw new RootlessContextError(
        "run() needs a thread inside nsnet's user namespace, and this process is outside it",
      );
    }
    const netns = netnsLink(this.paths.netns);
    const holder = this.info.holderPid;
    if (!isHolderProcess(holder, netns)) {
      throw new NsnetError(
        "the rootless namespace's mount holder is gone",
        {
          hint:
            "get the namespace again with getRootlessNetNS(), which restarts it",
        },
      );
    }
    return await runOnThrowawayThread(
      this.paths.netns,
      `/proc/${holder}/ns/mnt`,
      fn,
      args,
    );
  }

  /**
   * Runs `command` inside the namespace with the mounts of S6, in a child
   * process (the caller's own namespaces never change), stdio inherited.
   * Returns the child process; its status is the command's.
   */
  spawn(
    command: readonly string[],
    options: SpawnInsideOptions = {},
  ): Deno.ChildProcess {
    const netns = netnsLink(seenFromHere(this.#access, this.paths.netns));
    if (isHolderProcess(this.info.holderPid, netns)) {
      return spawnInHolder(this.info.holderPid!, command, options);
    }
    return spawnInside(this.paths, this.#access, command, options);
  }

  /**
   * Runs `command` inside, as {@linkcode RootlessNetNS.spawn} does, and
   * resolves to its exit status (128 + the signal's number when a signal
   * ended it). SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to this process
   * meanwhile are passed on to it.
   */
  async exec(
    command: readonly string[],
    options: SpawnInsideOptions = {},
  ): Promise<number> {
    return await waitForwardingSignals(this.spawn(command, options));
  }

  /**
   * Gives back the reference this handle holds (once; later calls and
   * handles holding none do nothing), tearing the namespace down when it was
   * the last and `nsnet rootless up` holds none. With `waitForHelper:
   * false` the helper is sent SIGTERM and not waited for.
   *
   * @throws the first error of the teardown, after all of it was tried.
   */
  async release(options: TeardownOptions = {}): Promise<void> {
    if (this.#hold !== "reference") return;
    this.#hold = "none";
    await releaseReference(this.paths, { ...options, access: this.#access });
  }

  /** {@linkcode RootlessNetNS.release}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}
