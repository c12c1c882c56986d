/**
 * What the three backends of named networks (builtin, CNI, netavark) share:
 * a sandbox on a bridge, its gateway on the host (root) or in the rootless
 * namespace, whose helper leads to the host.
 *
 * @module
 */

import type { HostLoopbackPath, SandboxRecord } from "../types.ts";

/**
 * A named network's way to the host's loopback: rootless, through the
 * rootless namespace's helper (10.0.2.2, with host loopback allowed); as
 * root, over the bridge to the gateway, DNAT'ed on to 127.0.0.1.
 */
export function namedNetworkLoopbackPath(
  record: SandboxRecord,
  gateway: string,
): HostLoopbackPath {
  return record.rootless
    ? {
      dial: "10.0.2.2",
      via: "the rootless namespace's helper",
      throughBridge: false,
    }
    : {
      dial: gateway,
      via: `the bridge gateway ${gateway}`,
      throughBridge: true,
    };
}
