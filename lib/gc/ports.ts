/**
 * `nsnet gc`'s published-port group (root): in nsnet's DNAT table
 * (`ip nsnet_ports`), the chains `sb_ID_dnat` and `sb_ID_snat` and the jump
 * rules tagged `nsnet sandbox ID` of sandboxes that have no record. They
 * would send a host port to an address the next sandbox gets. Each goes in
 * one batch, and the table with the last sandbox in it.
 *
 * @module
 */

import { DEFAULT_PORTS_TABLE, parseDnatState } from "../ports/nftables_dnat.ts";
import { isRootless } from "../rootless/detect.ts";
import { runNft } from "./nft.ts";
import { sandboxGone } from "./sandboxes.ts";
import type { Leftover, LeftoverGroup } from "./types.ts";

/** The sandboxes in a DNAT table listing: their chains and their jump rules. */
export interface DnatSandboxes {
  /** Sandbox id → its chains (`sb_ID_dnat`, `sb_ID_snat`) present. */
  chains: Map<string, string[]>;
  /** Sandbox id → its jump rules. */
  jumps: Map<string, { chain: string; handle: number }[]>;
}

/** Reads the sandboxes' chains and jumps from `nft -j list table ip nsnet_ports` output. */
export function dnatSandboxes(json: string): DnatSandboxes {
  const chains = new Map<string, string[]>();
  const parsed = JSON.parse(json) as {
    nftables?: { chain?: { name?: string } }[];
  };
  for (const item of parsed.nftables ?? []) {
    const name = item.chain?.name;
    const m = name === undefined ? null : /^sb_(.+)_(dnat|snat)$/.exec(name);
    if (m === null) continue;
    chains.set(m[1]!, [...(chains.get(m[1]!) ?? []), name!]);
  }
  return { chains, jumps: parseDnatState(json).sandboxes };
}

/** The batch that removes sandbox `id`'s jumps and chains, or the whole table when no other sandbox is in it. */
export function removeSandboxDnatBatch(
  id: string,
  state: DnatSandboxes,
  table: string = DEFAULT_PORTS_TABLE,
): string {
  const others = new Set([...state.chains.keys(), ...state.jumps.keys()]);
  others.delete(id);
  if (others.size === 0) return `delete table ip ${table}\n`;
  const t = `ip ${table}`;
  return [
    ...(state.jumps.get(id) ?? []).map((r) =>
      `delete rule ${t} ${r.chain} handle ${r.handle}`
    ),
    ...(state.chains.get(id) ?? []).map((c) => `delete chain ${t} ${c}`),
  ].join("\n") + "\n";
}

async function listTable(table: string): Promise<DnatSandboxes | undefined> {
  const out = await runNft(["-j", "list", "table", "ip", table]);
  return out === undefined ? undefined : dnatSandboxes(out);
}

/** Root: DNAT chains and jumps of sandboxes that have no record. */
export const dnatGroup: LeftoverGroup = {
  name: "DNAT chains of gone sandboxes",
  async find(): Promise<Leftover[]> {
    if (isRootless()) return []; // rootless ports go through a forwarder
    const table = DEFAULT_PORTS_TABLE;
    const state = await listTable(table);
    if (state === undefined) return [];
    const ids = [...new Set([...state.chains.keys(), ...state.jumps.keys()])]
      .sort();
    const found: Leftover[] = ids.filter(sandboxGone).map((id) => ({
      kind: "nftables" as const,
      name: `table ip ${table}: sb_${id}_dnat`,
      detail: `published ports of sandbox ${id}, which has no record`,
      async remove(): Promise<void> {
        const now = await listTable(table);
        if (now === undefined || !sandboxGone(id)) return;
        if (!now.chains.has(id) && !now.jumps.has(id)) return;
        await runNft(["-f", "-"], removeSandboxDnatBatch(id, now, table));
      },
    }));
    if (ids.length === 0) {
      // Base chains only: what a crash between two batches can leave.
      found.push({
        kind: "nftables",
        name: `table ip ${table}`,
        detail: "no sandbox publishes ports in it",
        async remove(): Promise<void> {
          const now = await listTable(table);
          if (now === undefined || now.chains.size + now.jumps.size > 0) return;
          await runNft(["-f", "-"], `delete table ip ${table}\n`);
        },
      });
    }
    return found;
  },
};
