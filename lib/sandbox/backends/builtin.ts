/**
 * The `builtin` backend of a named network: nsnet's own bridge, on the host
 * as root, and inside the shared rootless namespace rootless (the sandbox
 * holds a reference on it). Published ports: nftables DNAT as root; rootless,
 * a forwarder on the host side.
 *
 * @module
 */

import { namedNetworkLoopbackPath } from "./named_network.ts";
import { NsnetError } from "../../errors.ts";
import type { StatusBlock } from "../../inspect.ts";
import type { NetNS } from "../../netns/netns.ts";
import { getNS } from "../../netns/netns.ts";
import {
  type BridgeContext,
  rootBridgeContext,
  rootlessBridgeContext,
  setupBridge,
  teardownBridge,
} from "../../bridge/backend.ts";
import { getNetwork } from "../../bridge/network.ts";
import {
  enableRouteLocalnet,
  publishPortsDnat,
  unpublishPortsDnat,
} from "../../ports/nftables_dnat.ts";
import { forwardedInUserspace } from "../../ports/forwarder.ts";
import { dnsEnabled } from "../../dns/network_dns.ts";
import type { HelperOptions } from "../../rootless/helper_options.ts";
import { readRecord, stateDir } from "../store.ts";
import { rootlessAccess } from "../rootless_ref.ts";
import { networkOf } from "../network_mode.ts";
import { sandboxAddress } from "../status.ts";
import type {
  BackendOptions,
  NetworkBackend,
  PreparedBackend,
  SandboxConfig,
  SandboxRecord,
} from "../types.ts";

async function rootlessContext(
  record: SandboxRecord,
  take: boolean,
  helper: HelperOptions = {},
): Promise<BridgeContext | undefined> {
  const access = await rootlessAccess(record, take, helper);
  return access && rootlessBridgeContext(access.path, `${access.dir}/bridge`);
}

/** Whether sandbox `name` is gone for good: no record (a damaged one counts as there). */
function hasNoRecord(name: string): boolean {
  try {
    return readRecord(name) === undefined;
  } catch {
    return false;
  }
}

/** Connects the sandbox to bridge network `network`; returns the backend's status. */
async function bridgeSetup(
  record: SandboxRecord,
  ns: NetNS,
  networkName: string,
  helper: HelperOptions = {},
): Promise<StatusBlock> {
  const network = getNetwork(networkName);
  const published = record.published ?? [];
  const ctx = record.rootless
    ? await rootlessContext(record, true, helper)
    : rootBridgeContext(`${stateDir()}/bridge`);
  if (ctx === undefined) throw new NsnetError("no rootless network namespace");
  try {
    const status = await setupBridge(ctx, ns, record.name, network, {
      isStale: hasNoRecord,
      dns: dnsEnabled(network),
      address: record.ip,
      mac: record.mac,
      aliases: record.aliases,
    });
    // Rootless, the caller forwards from the host side (nsnet run): no DNAT
    // here; as root neither for IPv6 host addresses (the forwarder's).
    const dnat = published.filter((m) => !forwardedInUserspace(m));
    if (dnat.length > 0 && !record.rootless) {
      const address = sandboxAddress(status);
      if (address === undefined) {
        throw new NsnetError(
          `sandbox ${record.name} got no IPv4 address to publish to`,
        );
      }
      // Traffic to 127.0.0.1 reaches the sandbox only when the bridge may route it.
      enableRouteLocalnet(network.bridge);
      await publishPortsDnat(record.name, address, dnat);
    }
    return status;
  } finally {
    ctx.hostNS.close();
  }
}

/** Disconnects the sandbox from bridge network `network`; tolerates what is already gone. */
async function bridgeTeardown(
  record: SandboxRecord,
  networkName: string,
): Promise<void> {
  const network = getNetwork(networkName);
  let first: unknown;
  if ((record.published ?? []).length > 0 && !record.rootless) {
    try {
      await unpublishPortsDnat(record.name);
    } catch (error) {
      first ??= error;
    }
  }
  const ctx = record.rootless
    ? await rootlessContext(record, false).catch(() => undefined)
    : rootBridgeContext(`${stateDir()}/bridge`);
  if (ctx !== undefined) {
    let sandboxNS: NetNS | undefined;
    try {
      sandboxNS = record.netnsPath === undefined
        ? undefined
        : getNS(record.netnsPath);
    } catch { /* gone: the host side is removed alone */ }
    try {
      await teardownBridge(ctx, sandboxNS, record.name, network);
    } catch (error) {
      first ??= error;
    } finally {
      sandboxNS?.close();
      ctx.hostNS.close();
    }
    try {
      Deno.removeSync(ctx.stateDir); // only when empty: the last sandbox of every network is gone
    } catch { /* still in use, or gone */ }
  }
  if (first !== undefined) throw first;
}

/** nsnet's built-in bridge backend. */
export const builtinBackend: NetworkBackend = {
  name: "builtin",
  hostForwarder: true,
  keepsStatus: true,
  hostLoopbackPath: namedNetworkLoopbackPath,
  prepare(
    config: SandboxConfig,
    _rootless: boolean,
    options: BackendOptions,
  ): PreparedBackend {
    const network = networkOf(config);
    const found = getNetwork(network); // NetworkNotFoundError names it
    return {
      namespace: "own",
      // The network's DNS responder first: the sandboxes' names, then upstream.
      nameservers: dnsEnabled(found) ? [found.gateway] : undefined,
      onlyNameservers: dnsEnabled(found),
      setup: (record, ns) => bridgeSetup(record, ns!, network, options.helper),
    };
  },
  async teardown(record: SandboxRecord): Promise<void> {
    if (record.netnsPath === undefined) return; // setup never began
    await bridgeTeardown(record, networkOf(record));
  },
};
