/**
 * One driver for the user-mode network helpers, as rootlesskit's
 * ParentDriver: start a helper for a namespace (resolving once it is ready),
 * its pid (recorded in a pid file the same way for every helper), port
 * forwarding, and stop. slirp4netns and pasta implement it; the choice
 * between them is made here, in {@linkcode helperDriver}, and nowhere else.
 *
 * Starting a helper needs the user namespace the network namespace belongs
 * to (or root): from inside it, or through the pause process (`access`).
 *
 * @module
 */

import { writeFileAtomicSync } from "../../fs.ts";
import type { PortMapping } from "../../ports/spec.ts";
import { INSIDE } from "../access.ts";
import type { HelperKind } from "../helper_options.ts";
import {
  stopHelper,
  type StopHelperOptions,
  type StopResult,
} from "../helper_process.ts";
import { pasta } from "./pasta.ts";
import { slirp4netns } from "./slirp4netns.ts";
import type {
  HelperImplementation,
  HelperStartOptions,
  StartedHelper,
} from "./types.ts";

export { TAP_NAME } from "./types.ts";
export type { HelperStartOptions, StartedHelper } from "./types.ts";

/** A helper that runs and is ready, as {@linkcode HelperDriver.start} returns it. */
export interface RunningHelper extends StartedHelper {
  /** Which helper. */
  readonly kind: HelperKind;
  /** The namespace it serves. */
  readonly netnsPath: string;
  /** Where its pid is recorded. */
  readonly pidFile: string;
  /**
   * Publishes `ports` on the host into the namespace: slirp4netns through
   * its API socket; pasta only takes ports as it starts, so for pasta this
   * fails unless `ports` is empty.
   */
  forwardPorts(ports: readonly PortMapping[]): Promise<void>;
  /**
   * Stops it (SIGTERM, then SIGKILL after a grace time), only if its pid
   * still is this helper: a reused pid is never signalled.
   */
  stop(options?: StopHelperOptions): Promise<StopResult>;
}

/** Starts one kind of network helper. */
export interface HelperDriver {
  /** Which helper it starts. */
  readonly kind: HelperKind;
  /**
   * Starts the helper for `start.netnsPath` with `start.ports` published,
   * resolving once it is ready and its pid is recorded in `start.pidFile`.
   * When anything fails, nothing started is left running.
   */
  start(start: HelperStartOptions): Promise<RunningHelper>;
}

const IMPLEMENTATIONS: Record<HelperKind, HelperImplementation> = {
  slirp4netns,
  pasta,
};

/** The driver for helper `kind`: the one place where slirp4netns and pasta are told apart. */
export function helperDriver(kind: HelperKind): HelperDriver {
  const implementation = IMPLEMENTATIONS[kind];
  return {
    kind,
    start: (start) => startWith(implementation, start),
  };
}

async function startWith(
  implementation: HelperImplementation,
  start: HelperStartOptions,
): Promise<RunningHelper> {
  const full = {
    ...start,
    access: start.access ?? INSIDE,
    pidFile: start.pidFile ?? `${start.dir}/${implementation.kind}.pid`,
  };
  const started = await implementation.launch(full);
  const running: RunningHelper = {
    ...started,
    kind: implementation.kind,
    netnsPath: start.netnsPath,
    pidFile: full.pidFile,
    forwardPorts: (ports) =>
      implementation.forwardPorts(started, start.options, ports),
    stop: (options) =>
      stopHelper(
        started.pid,
        { program: implementation.kind, netnsPath: start.netnsPath },
        options,
      ),
  };
  try {
    // Recorded by the driver for every helper alike (pasta reports its pid
    // through the same file, which this rewrites).
    writeFileAtomicSync(full.pidFile, `${started.pid}\n`, 0o600);
    if (!implementation.portsAtStart && start.ports?.length) {
      await running.forwardPorts(start.ports);
    }
  } catch (error) {
    await running.stop().catch(() => {});
    throw error;
  }
  return running;
}
