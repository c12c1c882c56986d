/**
 * Network mode `none`: a namespace of the sandbox's own with only loopback,
 * as Podman's `--network none`.
 *
 * @module
 */

import { inspectNetNS } from "../../inspect.ts";
import type {
  NetworkBackend,
  PreparedBackend,
  SandboxConfig,
} from "../types.ts";
import { refusePortMappings } from "../network_mode.ts";

/** The `none` backend: loopback only. */
export const noneBackend: NetworkBackend = {
  name: "none",
  hostForwarder: false,
  keepsStatus: true,
  prepare(config: SandboxConfig): PreparedBackend {
    refusePortMappings(config);
    return {
      namespace: "own",
      setup: (_record, ns) => Promise.resolve(inspectNetNS(ns!)),
    };
  },
  teardown: () => Promise.resolve(), // its namespace is the lifecycle's
};
