/**
 * Masquerading for `ipMasq`, in one nftables table of the plugin's own
 * (`inet nsnet_cni`): a verdict map from each masqueraded container address
 * to a chain of its attachment, which returns for its own subnets and
 * multicast and masquerades the rest. Adding and removing an attachment is
 * one `nft -f -` transaction each, needing no rule handles: a removal adds
 * what it removes first, so it succeeds whether or not it was there. The
 * table goes with the last masqueraded attachment.
 *
 * @module
 */

import { CNI_ERROR, CniError } from "./errors.ts";

/** The plugin's nftables table (family `inet`). */
export const NAT_TABLE = "nsnet_cni";

/** Runs one `nft -f -` batch; nft's complaint becomes error 999. */
export async function runNft(batch: string, what: string): Promise<void> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("nft", {
      args: ["-f", "-"],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    throw new CniError(
      CNI_ERROR.INTERNAL,
      `${what}: cannot run nft`,
      `${
        (error as Error).message
      }; install nftables (apt-get install nftables)`,
    );
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(batch)).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  if (!out.success) {
    throw new CniError(
      CNI_ERROR.INTERNAL,
      `${what}: nft failed`,
      new TextDecoder().decode(out.stderr).trim(),
    );
  }
}

function base(): string[] {
  const t = `inet ${NAT_TABLE}`;
  return [
    `add table ${t}`,
    `add chain ${t} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `add map ${t} masq4 { type ipv4_addr : verdict; }`,
    `add map ${t} masq6 { type ipv6_addr : verdict; }`,
    `flush chain ${t} postrouting`,
    `add rule ${t} postrouting ip saddr vmap @masq4`,
    `add rule ${t} postrouting ip6 saddr vmap @masq6`,
  ];
}

/** What masquerading of one attachment needs to know. */
export interface MasqEntry {
  /** The attachment's chain (`m_` and a hash). */
  chain: string;
  /** The container's addresses, `ADDRESS/PREFIX`. */
  ips: readonly string[];
  /** The subnets not to masquerade towards. */
  subnets: readonly string[];
}

function elements(entry: MasqEntry, withVerdict: boolean): string[] {
  const t = `inet ${NAT_TABLE}`;
  return entry.ips.map((ip) => {
    const bare = ip.split("/")[0]!;
    const map = bare.includes(":") ? "masq6" : "masq4";
    const value = withVerdict ? ` : jump ${entry.chain}` : "";
    return `${
      withVerdict ? "add" : "delete"
    } element ${t} ${map} { ${bare}${value} }`;
  });
}

/** The batch that masquerades `entry`'s addresses. */
export function masqAddBatch(entry: MasqEntry): string {
  const t = `inet ${NAT_TABLE}`;
  const lines = [
    ...base(),
    `add chain ${t} ${entry.chain}`,
    `flush chain ${t} ${entry.chain}`,
  ];
  for (const subnet of entry.subnets) {
    const family = subnet.includes(":") ? "ip6" : "ip";
    lines.push(`add rule ${t} ${entry.chain} ${family} daddr ${subnet} return`);
  }
  lines.push(`add rule ${t} ${entry.chain} ip daddr 224.0.0.0/4 return`);
  lines.push(`add rule ${t} ${entry.chain} ip6 daddr ff00::/8 return`);
  lines.push(`add rule ${t} ${entry.chain} masquerade`);
  lines.push(...elements(entry, true));
  return lines.join("\n") + "\n";
}

/**
 * The batch that removes `entry`'s masquerading, whether or not it is
 * there; with `last`, the whole table.
 */
export function masqDeleteBatch(entry: MasqEntry, last: boolean): string {
  const t = `inet ${NAT_TABLE}`;
  if (last) return `add table ${t}\ndelete table ${t}\n`;
  const lines = [
    ...base(),
    `add chain ${t} ${entry.chain}`,
    ...elements(entry, true),
    ...elements(entry, false),
    `flush chain ${t} ${entry.chain}`,
    `delete chain ${t} ${entry.chain}`,
  ];
  return lines.join("\n") + "\n";
}

/** Whether `entry`'s addresses are in the maps (for CHECK). */
export async function masqPresent(entry: MasqEntry): Promise<boolean> {
  const out = await new Deno.Command("nft", {
    args: ["-j", "list", "table", "inet", NAT_TABLE],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (!out.success) return false;
  const text = new TextDecoder().decode(out.stdout);
  return text.includes(`"${entry.chain}"`) &&
    entry.ips.every((ip) => text.includes(`"${ip.split("/")[0]}"`));
}
