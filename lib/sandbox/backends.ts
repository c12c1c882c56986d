/**
 * The network backends a named (bridge) network can be set up by, as
 * Podman's: nsnet's built-in bridge, CNI plugins, or netavark. Each is asked
 * first whether it can serve the network, so that a missing binary or
 * network is a clear error before anything is created.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError } from "../errors.ts";
import type { StatusBlock } from "../inspect.ts";
import type { NetNS } from "../netns/netns.ts";
import type { HelperOptions } from "../rootless/helper_options.ts";
import { getNetwork } from "../bridge/network.ts";
import { bridgeSetup, bridgeTeardown } from "./bridge_mode.ts";
import { cniBackend } from "./cni_mode.ts";
import { netavarkBackend } from "./netavark_mode.ts";
import type { SandboxRecord } from "./types.ts";

/** The backends `--backend` names. */
export const BACKENDS = ["builtin", "cni", "netavark"] as const;
/** One of {@linkcode BACKENDS}. */
export type BackendName = typeof BACKENDS[number];

/** What a backend does for a sandbox on a named network. */
export interface NetworkBackend {
  /** Raises a clear error when the backend cannot serve `network` here (binary or network missing). */
  check(network: string, rootless: boolean): void;
  /** Connects the sandbox; returns its status (S11). On failure leaves nothing. */
  setup(
    record: SandboxRecord,
    ns: NetNS,
    network: string,
    helper: HelperOptions,
  ): Promise<StatusBlock>;
  /** Disconnects it; tolerates what is gone; raises the first error at the end (S12). */
  teardown(record: SandboxRecord, network: string): Promise<void>;
}

const builtin: NetworkBackend = {
  check(network: string): void {
    getNetwork(network); // NetworkNotFoundError names it
  },
  setup: bridgeSetup,
  teardown: bridgeTeardown,
};

const registry = new Map<BackendName, NetworkBackend>([
  ["builtin", builtin],
  ["cni", cniBackend],
  ["netavark", netavarkBackend],
]);

/** Makes `backend` serve `name` (how the CNI and netavark drivers plug in). */
export function registerBackend(
  name: BackendName,
  backend: NetworkBackend,
): void {
  registry.set(name, backend);
}

/** The backend called `name`; unknown names and missing drivers are clear errors. */
export function backendNamed(name: string = "builtin"): NetworkBackend {
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(
      `unknown network backend ${JSON.stringify(name)}`,
      {
        hint: `use one of: ${BACKENDS.join(", ")}`,
      },
    );
  }
  const backend = registry.get(name as BackendName);
  if (backend === undefined) {
    throw new NsnetError(`the ${name} backend is not available in this build`, {
      hint: "use --backend builtin",
    });
  }
  return backend;
}
