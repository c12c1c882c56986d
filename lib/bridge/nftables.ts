/**
 * The bridge backend's firewall: one nftables table (`ip nsnet`) holding
 * outbound masquerading for each network in use and the isolation that
 * keeps different networks apart. Every change replaces the whole table in
 * one `nft -f -` batch, which the kernel applies as one transaction: the
 * table is never seen half-made, and it is gone when no network is in use.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import type { NetNS } from "../netns/netns.ts";
import type { NetworkConfig } from "./network.ts";

/** The default table name. */
export const DEFAULT_NFT_TABLE = "nsnet";

/** Where `nft` runs. */
export interface NftTarget {
  /** The namespace whose ruleset to change. */
  ns: NetNS;
  /** Its path, for `nsenter --net=` when `viaNsenter` is set. */
  nsPath: string;
  /**
   * Enter through `nsenter` in the child instead of forking the child from
   * a thread inside `ns` (rootless: the thread could not come back).
   */
  viaNsenter: boolean;
  /** The table name (default {@linkcode DEFAULT_NFT_TABLE}). */
  table?: string;
  /** The `nft` program (default `nft` from PATH). */
  nft?: string;
}

/** `nft` refused a batch. */
export class NftablesError extends NsnetError {
  /** Makes the error with nft's own message. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(`nftables: ${message}`, {
      hint:
        "needs nft (Debian package nftables) and the nf_tables kernel module",
      cause: options.cause,
    });
    this.name = "NftablesError";
  }
}

function quote(name: string): string {
  return JSON.stringify(name);
}

/**
 * The batch that makes the table hold exactly the rules for `networks`, or
 * removes it when none is left. Creating the table first makes the delete
 * succeed whether it existed or not. While networks are left, the table's
 * two base chains are declared (a no-op when they exist) and its rules
 * flushed and written anew, so the chains' hooks stay registered.
 */
export function firewallBatch(
  networks: readonly NetworkConfig[],
  table: string = DEFAULT_NFT_TABLE,
): string {
  const drop6 = `table ip6 ${table} {}\ndelete table ip6 ${table}\n`;
  if (networks.length === 0) {
    return `table ip ${table} {}\ndelete table ip ${table}\n${drop6}`;
  }
  const ipv4 = familyBatch("ip", networks, table);
  // IPv6 (dual-stack networks): its own table, gone when no network has a subnet6.
  return networks.some((n) => n.subnet6 !== undefined)
    ? ipv4 + familyBatch("ip6", networks, table)
    : ipv4 + drop6;
}

function familyBatch(
  family: "ip" | "ip6",
  networks: readonly NetworkConfig[],
  table: string,
): string {
  const lines = [
    `table ${family} ${table} {`,
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    "  }",
    "}",
    `flush table ${family} ${table}`,
  ];
  const rule = (chain: string, body: string, network: NetworkConfig): void => {
    lines.push(
      `add rule ${family} ${table} ${chain} ${body} comment ${
        quote(`nsnet:${network.name}`)
      }`,
    );
  };
  for (const n of networks) {
    if (n.internal) continue;
    const subnet = family === "ip" ? n.subnet : n.subnet6;
    if (subnet === undefined) continue;
    rule(
      "postrouting",
      `${family} saddr ${subnet} ${family} daddr != ${subnet} masquerade`,
      n,
    );
  }
  for (const n of networks) {
    const bridge = quote(n.bridge);
    const others = networks.filter((o) => o.bridge !== n.bridge);
    if (others.length > 0) {
      const set = others.map((o) => quote(o.bridge)).join(", ");
      rule("forward", `iifname ${bridge} oifname { ${set} } drop`, n);
    }
    if (n.internal) {
      rule("forward", `iifname ${bridge} oifname != ${bridge} drop`, n);
      rule("forward", `oifname ${bridge} iifname != ${bridge} drop`, n);
    }
  }
  return lines.join("\n") + "\n";
}

/** An `nft` batch that is running: wait for it with {@linkcode PendingBatch.done}. */
export interface PendingBatch {
  /** Resolves when nft has applied the batch; rejects with {@linkcode NftablesError}. */
  done(): Promise<void>;
}

/**
 * Starts one `nft -f -` batch in the target's namespace and returns once nft
 * has it on its stdin, so the caller can do other work while the kernel
 * commits it. Always call `done()`.
 */
export async function startNftBatch(
  target: NftTarget,
  batch: string,
): Promise<PendingBatch> {
  const nft = target.nft ?? "nft";
  const options: Deno.CommandOptions = {
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  };
  let child: Deno.ChildProcess;
  try {
    if (target.viaNsenter) {
      child = new Deno.Command("nsenter", {
        ...options,
        args: [`--net=${target.nsPath}`, nft, "-f", "-"],
      }).spawn();
    } else {
      child = target.ns.run(() =>
        new Deno.Command(nft, { ...options, args: ["-f", "-"] }).spawn()
      );
    }
  } catch (error) {
    throw new NftablesError(`cannot run ${nft}: ${error}`, { cause: error });
  }
  const writer = child.stdin.getWriter();
  try {
    await writer.write(new TextEncoder().encode(batch));
    await writer.close();
  } catch {
    // nft exited early; its status and stderr say why
  }
  return {
    async done(): Promise<void> {
      const output = await child.output();
      if (!output.success) {
        const text = new TextDecoder().decode(output.stderr).trim();
        throw new NftablesError(text || `nft exited with ${output.code}`);
      }
    },
  };
}

/** Runs one `nft -f -` batch in the target's namespace. */
export async function runNftBatch(
  target: NftTarget,
  batch: string,
): Promise<void> {
  await (await startNftBatch(target, batch)).done();
}

/** Makes the table in the target's namespace hold exactly the rules for `networks`. */
export async function applyFirewall(
  target: NftTarget,
  networks: readonly NetworkConfig[],
): Promise<void> {
  await runNftBatch(target, firewallBatch(networks, target.table));
}

/** {@linkcode applyFirewall}, started: see {@linkcode startNftBatch}. */
export function startFirewall(
  target: NftTarget,
  networks: readonly NetworkConfig[],
): Promise<PendingBatch> {
  return startNftBatch(target, firewallBatch(networks, target.table));
}
