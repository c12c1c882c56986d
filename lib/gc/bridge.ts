/**
 * `nsnet gc`'s bridge groups: IPAM leases held by sandboxes that have no
 * record (each torn down as the bridge backend tears a sandbox down: its
 * host-side veth, its lease, and with a network's last lease its bridge and
 * firewall rules), and, as root, an `ip nsnet` firewall table still holding
 * rules of networks no sandbox uses (rewritten to the networks in use, or
 * removed). Only nsnet's own state dir and tables are read.
 *
 * @module
 */

import {
  type BridgeContext,
  rootBridgeContext,
  rootlessBridgeContext,
  teardownBridge,
} from "../bridge/backend.ts";
import { Ipam, networksInUse } from "../bridge/ipam.ts";
import type { NetworkConfig } from "../bridge/network.ts";
import { applyFirewall, DEFAULT_NFT_TABLE } from "../bridge/nftables.ts";
import { FileLock } from "../lock.ts";
import { INSIDE } from "../rootless/access.ts";
import { isRootless } from "../rootless/detect.ts";
import { namespaceFileState, rootlessPaths } from "../rootless/state.ts";
import { stateDir, validateSandboxName } from "../sandbox/store.ts";
import { stopNetworkDns } from "../dns/network_dns.ts";
import { sandboxGone } from "./sandboxes.ts";
import type { Leftover, LeftoverGroup } from "./types.ts";
import { runNft } from "./nft.ts";

/** The bridge backend's state dir for sandboxes: root's, or the rootless namespace's. */
export function bridgeStateDir(): string {
  return isRootless()
    ? `${rootlessPaths().dir}/bridge`
    : `${stateDir()}/bridge`;
}

/** The context to tear a lease down in; undefined rootless when the rootless namespace is gone. */
function bridgeContext(dir: string): BridgeContext | undefined {
  if (!isRootless()) return rootBridgeContext(dir);
  const paths = rootlessPaths();
  if (namespaceFileState(paths.netns, INSIDE) !== "present") return undefined;
  return rootlessBridgeContext(paths.netns, dir);
}

interface LeaseFile {
  network: NetworkConfig;
  allocations: Record<string, string>;
}

function leaseFiles(dir: string): LeaseFile[] {
  const files: LeaseFile[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(`${dir}/ipam`)];
  } catch {
    return files;
  }
  for (const entry of entries) {
    if (!entry.isFile || !entry.name.endsWith(".json")) continue;
    try {
      const file = JSON.parse(
        Deno.readTextFileSync(`${dir}/ipam/${entry.name}`),
      ) as LeaseFile;
      if (file.network !== undefined && typeof file.allocations === "object") {
        files.push(file);
      }
    } catch { /* corrupt: the IPAM's own error names it */ }
  }
  return files;
}

function isSandboxName(id: string): boolean {
  try {
    validateSandboxName(id);
    return true;
  } catch {
    return false;
  }
}

async function removeLease(
  dir: string,
  network: NetworkConfig,
  sandbox: string,
): Promise<void> {
  const ctx = bridgeContext(dir);
  if (ctx === undefined) {
    // The rootless namespace went, and its links with it: only the lease is left.
    using ipam = Ipam.open(`${dir}/ipam`, network);
    ipam.release(sandbox);
    return;
  }
  try {
    if (!sandboxGone(sandbox)) return; // a sandbox of that name was made meanwhile
    await teardownBridge(ctx, undefined, sandbox, network);
  } finally {
    ctx.hostNS.close();
  }
}

/** Leases whose sandbox has no record. */
export const leaseGroup: LeftoverGroup = {
  name: "IPAM leases without a sandbox",
  find(): Leftover[] {
    const dir = bridgeStateDir();
    const found: Leftover[] = [];
    for (const file of leaseFiles(dir)) {
      for (const [address, sandbox] of Object.entries(file.allocations)) {
        if (!isSandboxName(sandbox) || !sandboxGone(sandbox)) continue;
        found.push({
          kind: "lease",
          name: `${file.network.name}/${address}`,
          detail: `held by sandbox ${sandbox}, which has no record`,
          remove: () => removeLease(dir, file.network, sandbox),
        });
      }
    }
    return found;
  },
};

/** Name responders (`dns-NETWORK.pid` in the bridge state dir) of networks that have no lease left. */
export const dnsResponderGroup: LeftoverGroup = {
  name: "DNS responders of networks without sandboxes",
  find(): Leftover[] {
    const dir = bridgeStateDir();
    const inUse = (): string[] =>
      networksInUse(`${dir}/ipam`).map((n) => n.name);
    const found: Leftover[] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return found;
    }
    for (const entry of entries) {
      const m = /^dns-(.+)\.pid$/.exec(entry.name);
      if (m === null || !entry.isFile || inUse().includes(m[1]!)) continue;
      const network = m[1]!;
      found.push({
        kind: "helper",
        name: `${dir}/${entry.name}`,
        detail:
          `the name responder of network ${network}, which no sandbox uses`,
        async remove(): Promise<void> {
          if (!inUse().includes(network)) await stopNetworkDns(dir, network);
        },
      });
    }
    return found;
  },
};

/** The network names in `nft -j list table ip nsnet` output (its rules' `nsnet:NAME` comments). */
export function firewallNetworks(json: string): string[] {
  const parsed = JSON.parse(json) as {
    nftables?: { rule?: { comment?: string } }[];
  };
  const names = new Set<string>();
  for (const item of parsed.nftables ?? []) {
    const comment = item.rule?.comment;
    if (comment?.startsWith("nsnet:")) names.add(comment.slice(6));
  }
  return [...names].sort();
}

/** Root: the `ip nsnet` table when it holds rules of networks without a sandbox. */
export const firewallGroup: LeftoverGroup = {
  name: "firewall rules of unused networks",
  async find(): Promise<Leftover[]> {
    if (isRootless()) return []; // inside the rootless namespace: the teardown's
    const table = DEFAULT_NFT_TABLE;
    const out = await runNft(["-j", "list", "table", "ip", table]);
    if (out === undefined) return [];
    const dir = bridgeStateDir();
    const inUse = networksInUse(`${dir}/ipam`).map((n) => n.name);
    const stale = firewallNetworks(out).filter((n) => !inUse.includes(n));
    if (stale.length === 0 && inUse.length > 0) return [];
    return [{
      kind: "nftables",
      name: `table ip ${table}`,
      detail: stale.length > 0
        ? `rules of network(s) ${stale.join(", ")}, which no sandbox uses`
        : "no network is in use",
      async remove(): Promise<void> {
        Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const lock = await new FileLock(`${dir}/bridge.lock`).acquireAsync();
        let idle = false;
        try {
          const networks = networksInUse(`${dir}/ipam`);
          idle = networks.length === 0;
          const ctx = rootBridgeContext(dir);
          try {
            await applyFirewall(
              { ns: ctx.hostNS, nsPath: ctx.hostNSPath, viaNsenter: false },
              networks,
            );
          } finally {
            ctx.hostNS.close();
          }
        } finally {
          lock.release({ remove: idle });
        }
      },
    }];
  },
};
