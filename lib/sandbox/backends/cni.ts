/**
 * The `cni` backend of a named network (`--backend cni`): the network list's plugins
 * run as the CNI specification says, by the host as root, and inside the
 * shared rootless namespace (S6's mounts, so /var/lib/cni and /run are its
 * own) rootless, the sandbox holding a reference on it.
 *
 * @module
 */

import { namedNetworkLoopbackPath } from "./named_network.ts";
import {
  cniAdd,
  cniDel,
  type CniOptions,
  cniValidate,
  rootlessCniCacheDir,
} from "../../cni/mod.ts";
import type { StatusBlock } from "../../inspect.ts";
import type { NetNS } from "../../netns/netns.ts";
import type { HelperOptions } from "../../rootless/helper_options.ts";
import { sha256Hex } from "../../sha256.ts";
import { rootlessAccess } from "../rootless_ref.ts";
import type {
  BackendOptions,
  NetworkBackend,
  PreparedBackend,
  SandboxConfig,
  SandboxRecord,
} from "../types.ts";
import { networkOf } from "../network_mode.ts";

/** The CNI container id of a sandbox: its name where the spec allows it, else a hash of it. */
export function cniContainerId(name: string): string {
  return /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)
    ? name
    : sha256Hex(name).slice(0, 32);
}

/** Where and how plugins run: directly as root; rootless, inside the shared rootless namespace. */
async function cniOptions(
  record: SandboxRecord,
  take: boolean,
  helper: HelperOptions,
): Promise<CniOptions> {
  const access = await rootlessAccess(record, take, helper);
  return access === undefined
    ? {}
    : { spawn: access.spawn, cacheDir: rootlessCniCacheDir(access.dir) };
}

/** Runs the network list's plugins for the sandbox; returns their status. */
async function setup(
  record: SandboxRecord,
  ns: NetNS,
  network: string,
  helper: HelperOptions,
): Promise<StatusBlock> {
  const options = await cniOptions(record, true, helper);
  // Rootless, portmap would only forward inside the rootless namespace: the
  // forwarder (or helper) carries published ports there instead.
  const portMappings = record.rootless ? undefined : record.published;
  const { status } = await cniAdd(
    ns.path,
    cniContainerId(record.name),
    network,
    { ...options, portMappings },
  );
  return status;
}

/** The CNI backend. */
export const cniBackend: NetworkBackend = {
  name: "cni",
  hostForwarder: true,
  keepsStatus: true,
  hostLoopbackPath: namedNetworkLoopbackPath,
  prepare(
    config: SandboxConfig,
    _rootless: boolean,
    options: BackendOptions,
  ): PreparedBackend {
    const network = networkOf(config);
    cniValidate(network); // the network list and every plugin binary, or a clear error
    return {
      namespace: "own",
      setup: (record, ns) => setup(record, ns!, network, options.helper),
    };
  },
  async teardown(record: SandboxRecord): Promise<void> {
    if (record.netnsPath === undefined) return; // setup never began
    const options = await cniOptions(record, false, {}).catch(() => undefined);
    if (options === undefined) return; // the rootless namespace, and all in it, is gone
    await cniDel(
      record.netnsPath,
      cniContainerId(record.name),
      networkOf(record),
      options,
    );
  },
};
