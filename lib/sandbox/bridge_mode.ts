/**
 * The bridge mode of a sandbox: nsnet's built-in bridge backend, on the host
 * as root, and inside the shared rootless namespace rootless (the sandbox
 * holds a reference on it). Published ports: nftables DNAT as root.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import type { StatusBlock } from "../inspect.ts";
import type { NetNS } from "../netns/netns.ts";
import { getNS } from "../netns/netns.ts";
import {
  type BridgeContext,
  rootBridgeContext,
  rootlessBridgeContext,
  setupBridge,
  teardownBridge,
} from "../bridge/backend.ts";
import { getNetwork } from "../bridge/network.ts";
import {
  enableRouteLocalnet,
  publishPortsDnat,
  unpublishPortsDnat,
} from "../ports/nftables_dnat.ts";
import type { HelperOptions } from "../rootless/helper_options.ts";
import { readRecord, stateDir } from "./store.ts";
import { rootlessAccess } from "./rootless_ref.ts";
import type { SandboxRecord } from "./types.ts";

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

/** The sandbox's first IPv4 address in `status`. */
export function sandboxAddress(status: StatusBlock): string | undefined {
  for (const iface of Object.values(status.interfaces ?? {})) {
    for (const subnet of iface.subnets ?? []) {
      const address = subnet.ipnet.split("/")[0];
      if (address !== undefined && !address.includes(":")) return address;
    }
  }
  return undefined;
}

/** Connects the sandbox to bridge network `network`; returns the backend's status. */
export async function bridgeSetup(
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
    });
    // Rootless, the caller forwards from the host side (nsnet run): no DNAT here.
    if (published.length > 0 && !record.rootless) {
      const address = sandboxAddress(status);
      if (address === undefined) {
        throw new NsnetError(
          `sandbox ${record.name} got no IPv4 address to publish to`,
        );
      }
      // Traffic to 127.0.0.1 reaches the sandbox only when the bridge may route it.
      enableRouteLocalnet(network.bridge);
      await publishPortsDnat(record.name, address, published);
    }
    return status;
  } finally {
    ctx.hostNS.close();
  }
}

/** Disconnects the sandbox from bridge network `network`; tolerates what is already gone. */
export async function bridgeTeardown(
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
