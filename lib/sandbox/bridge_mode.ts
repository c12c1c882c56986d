/**
 * The bridge mode of a sandbox: nsnet's built-in bridge backend, on the host
 * as root and inside the shared rootless namespace rootless.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import type { StatusBlock } from "../inspect.ts";
import type { NetNS } from "../netns/netns.ts";
import type { SandboxRecord } from "./types.ts";

/** Connects the sandbox to bridge network `network`; returns the backend's status. */
export function bridgeSetup(
  record: SandboxRecord,
  ns: NetNS,
  network: string,
): Promise<StatusBlock> {
  void record;
  void ns;
  return Promise.reject(
    new NsnetError(`bridge network ${network} is not available yet`, {
      hint: "use --network none, slirp4netns, pasta, ns:PATH or sandbox:NAME",
    }),
  );
}

/** Disconnects the sandbox from bridge network `network`; tolerates what is already gone. */
export function bridgeTeardown(
  record: SandboxRecord,
  network: string,
): Promise<void> {
  void record;
  void network;
  return Promise.resolve();
}
