/**
 * The `netavark` backend of a named network (`--backend netavark`): a Podman
 * network set up by netavark,
 * as Podman drives it: on the host as root, inside the shared rootless
 * namespace rootless (the sandbox holding a reference on it).
 *
 * @module
 */

import { namedNetworkLoopbackPath } from "./named_network.ts";
import type { StatusBlock } from "../../inspect.ts";
import {
  findNetavark,
  getPodmanNetwork,
  netavarkSetup,
  type NetavarkSpawn,
  netavarkTeardown,
  toNetavarkPortMappings,
} from "../../netavark/mod.ts";
import type { NetNS } from "../../netns/netns.ts";
import type { HelperOptions } from "../../rootless/helper_options.ts";
import { stateDir } from "../store.ts";
import { rootlessAccess } from "../rootless_ref.ts";
import type {
  BackendOptions,
  NetworkBackend,
  PreparedBackend,
  SandboxConfig,
  SandboxRecord,
} from "../types.ts";
import { networkOf } from "../network_mode.ts";

async function rootlessSpawn(
  record: SandboxRecord,
  take: boolean,
  helper: HelperOptions,
): Promise<NetavarkSpawn | undefined> {
  return (await rootlessAccess(record, take, helper))?.spawn;
}

function attachments(
  network: string,
): { name: string; interfaceName: string }[] {
  return [{ name: network, interfaceName: "eth0" }];
}

async function setup(
  record: SandboxRecord,
  ns: NetNS,
  network: string,
  helper: HelperOptions,
): Promise<StatusBlock> {
  const spawn = await rootlessSpawn(record, true, helper);
  // Rootless, netavark's DNAT would stay inside the rootless namespace: the forwarder publishes.
  const published = record.rootless ? [] : record.published ?? [];
  return await netavarkSetup(ns.path, record.name, attachments(network), {
    rootless: record.rootless,
    spawn,
    portMappings: toNetavarkPortMappings(published),
  });
}

/** The netavark backend. */
export const netavarkBackend: NetworkBackend = {
  name: "netavark",
  hostForwarder: true,
  keepsStatus: true,
  hostLoopbackPath: namedNetworkLoopbackPath,
  prepare(
    config: SandboxConfig,
    _rootless: boolean,
    options: BackendOptions,
  ): PreparedBackend {
    const network = networkOf(config);
    findNetavark(); // NetavarkNotFoundError when it is not installed
    getPodmanNetwork(network); // NetworkNotFoundError names it
    return {
      namespace: "own",
      setup: (record, ns) => setup(record, ns!, network, options.helper),
    };
  },
  async teardown(record: SandboxRecord): Promise<void> {
    if (record.netnsPath === undefined) return;
    const network = networkOf(record);
    const spawn = await rootlessSpawn(record, false, {}).catch(() => undefined);
    if (record.rootless && spawn === undefined) return; // the rootless namespace, and all in it, is gone
    const published = record.rootless ? [] : record.published ?? [];
    await netavarkTeardown(
      record.netnsPath,
      record.name,
      attachments(network),
      {
        rootless: record.rootless,
        spawn,
        portMappings: toNetavarkPortMappings(published),
      },
    );
    if (!record.rootless) {
      try {
        Deno.removeSync(stateDir()); // nsnet's state dir, once nothing is left in it
      } catch { /* in use */ }
    }
  },
};
