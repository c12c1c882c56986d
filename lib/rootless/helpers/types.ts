/**
 * What a user-mode network helper (slirp4netns, pasta) is asked to do, and
 * what each one implements for {@linkcode ../helpers/driver.ts}'s driver.
 *
 * @module
 */

import type { PortMapping } from "../../ports/spec.ts";
import type { UserNSAccess } from "../access.ts";
import type { HelperKind, ResolvedHelperOptions } from "../helper_options.ts";

/** The interface the helpers make in the namespace. */
export const TAP_NAME = "tap0";

/** How to start a helper for one network namespace. */
export interface HelperStartOptions {
  /** The namespace file, as nsnet's user namespace (or the host, as root) sees it. */
  netnsPath: string;
  /** A directory of the caller's for the helper's pid file, log and API socket. */
  dir: string;
  /** The helper's options, checked ({@linkcode resolveHelperOptions}); `helper` picks the driver. */
  options: ResolvedHelperOptions;
  /** How the user namespace is reached; default from inside it. */
  access?: UserNSAccess;
  /** Where its pid is recorded; default `DIR/KIND.pid`. */
  pidFile?: string;
  /**
   * A fifo whose write side the caller holds open: the helper ends when the
   * last holder closes it (slirp4netns `-e`; pasta has no such option and
   * ignores it).
   */
  exitPipe?: string;
  /** Host ports to publish into the namespace, from the start. */
  ports?: readonly PortMapping[];
  /** How long it may take to be ready; default 1000 ms. */
  readyTimeoutMs?: number;
}

/** A helper that was started and is ready. */
export interface StartedHelper {
  /** Its pid. */
  pid: number;
  /** The slirp4netns API socket, when one is open. */
  apiSocket?: string;
}

/** What one helper program implements; the driver adds the rest. */
export interface HelperImplementation {
  /** Which helper. */
  readonly kind: HelperKind;
  /**
   * Whether {@linkcode HelperImplementation.launch} publishes `start.ports`
   * itself (pasta: as arguments); else the driver publishes them through
   * {@linkcode HelperImplementation.forwardPorts} once the helper runs.
   */
  readonly portsAtStart: boolean;
  /**
   * Starts the helper for `start.netnsPath` and resolves once it is ready;
   * fails, quoting its log, when it is not. It leaves writing the pid file
   * to the driver, but may use `start.pidFile` to learn the pid.
   */
  launch(
    start:
      & Required<Pick<HelperStartOptions, "access" | "pidFile">>
      & HelperStartOptions,
  ): Promise<StartedHelper>;
  /** Publishes `ports` through the running helper `started`. */
  forwardPorts(
    started: StartedHelper,
    options: ResolvedHelperOptions,
    ports: readonly PortMapping[],
  ): Promise<void>;
}
