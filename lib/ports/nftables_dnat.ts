/**
 * Root port publishing with nftables DNAT, in a table of nsnet's own
 * (`ip nsnet_ports`), as netavark does: a packet to a published host port is
 * rewritten to the sandbox's address, whether it arrives from outside
 * (prerouting) or is sent by the host itself (output), including to
 * 127.0.0.1. Each sandbox gets two chains, jumped to from the table's base
 * chains by rules tagged with the sandbox's id, so it can be removed alone;
 * every change is one atomic `nft -f -` batch. IPv4 only.
 *
 * Loopback-sourced packets leaving for a sandbox are masqueraded, and the
 * host-side interface needs `route_localnet=1` (see
 * {@linkcode enableRouteLocalnet}), or the kernel drops them as martians.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError } from "../errors.ts";
import { tryParseIP } from "../netlink/ip_address.ts";
import { formatPortMapping, type PortMapping } from "./spec.ts";

/** The nftables table nsnet publishes ports in (family `ip`). */
export const DEFAULT_PORTS_TABLE = "nsnet_ports";

/** Options shared by the DNAT functions. */
export interface DnatOptions {
  /** The table (family `ip`); default {@linkcode DEFAULT_PORTS_TABLE}. */
  table?: string;
  /** The `nft` binary; default `nft` from PATH. */
  nft?: string;
}

/** A rule in the table that jumps to a sandbox's chain. */
export interface DnatJumpRule {
  /** The chain holding it (`publish` or `postrouting`). */
  chain: string;
  /** Its nftables handle. */
  handle: number;
}

/** What is already in the table, as far as a batch needs to know. */
export interface DnatTableState {
  /** Whether the table exists. */
  exists: boolean;
  /** The jump rules of each sandbox with published ports, by sandbox id. */
  sandboxes: Map<string, DnatJumpRule[]>;
}

/** The state of a table that does not exist yet. */
export function emptyDnatState(): DnatTableState {
  return { exists: false, sandboxes: new Map() };
}

const SANDBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const COMMENT_PREFIX = "nsnet sandbox ";

function tableName(options: DnatOptions): string {
  const table = options.table ?? DEFAULT_PORTS_TABLE;
  if (!TABLE_NAME.test(table)) {
    throw new InvalidArgumentError(
      `invalid nftables table name ${JSON.stringify(table)}`,
    );
  }
  return table;
}

function checkSandboxId(id: string): void {
  if (!SANDBOX_ID.test(id)) {
    throw new InvalidArgumentError(
      `invalid sandbox id ${JSON.stringify(id)} for port publishing`,
      {
        hint:
          "use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit",
      },
    );
  }
}

function isIPv4(text: string | undefined): boolean {
  return text !== undefined && tryParseIP(text)?.bytes.length === 4;
}

function checkMappings(
  address: string,
  mappings: readonly PortMapping[],
): void {
  if (!isIPv4(address)) {
    throw new InvalidArgumentError(
      `DNAT publishing needs the sandbox's IPv4 address, not ${
        JSON.stringify(address)
      }`,
    );
  }
  for (const mapping of mappings) {
    if (mapping.hostIp !== undefined && !isIPv4(mapping.hostIp)) {
      throw new InvalidArgumentError(
        `cannot publish ${formatPortMapping(mapping)} with DNAT: IPv4 only`,
        { hint: "use the userspace forwarder for IPv6 host addresses" },
      );
    }
    if (mapping.hostPort === 0) {
      throw new InvalidArgumentError(
        `cannot publish ${formatPortMapping(mapping)}: no host port chosen`,
        { hint: "run the mappings through probeHostPorts() first" },
      );
    }
  }
}

// Unquoted: nft 1.0 takes no quoted chain names, and the id charset is safe there.
const dnatChain = (id: string): string => `sb_${id}_dnat`;
const snatChain = (id: string): string => `sb_${id}_snat`;

function baseChains(table: string): string[] {
  const t = `ip ${table}`;
  return [
    `add table ${t}`,
    `add chain ${t} prerouting { type nat hook prerouting priority -100; policy accept; }`,
    `add chain ${t} output { type nat hook output priority -100; policy accept; }`,
    `add chain ${t} postrouting { type nat hook postrouting priority 100; policy accept; }`,
    `add chain ${t} publish`,
    // Flushed and refilled so that the batch is the same whether the table existed or not.
    `flush chain ${t} prerouting`,
    `flush chain ${t} output`,
    `add rule ${t} prerouting fib daddr type local jump publish`,
    `add rule ${t} output fib daddr type local jump publish`,
  ];
}

function deleteJumps(t: string, id: string, state: DnatTableState): string[] {
  return (state.sandboxes.get(id) ?? []).map((rule) =>
    `delete rule ${t} ${rule.chain} handle ${rule.handle}`
  );
}

function ruleFor(mapping: PortMapping, address: string): string {
  const daddr = mapping.hostIp === undefined
    ? ""
    : `ip daddr ${mapping.hostIp} `;
  return `${daddr}${mapping.protocol} dport ${mapping.hostPort} dnat to ${address}:${mapping.sandboxPort}`;
}

/**
 * The `nft -f -` batch that publishes `mappings` of sandbox `id` at
 * `address`, replacing whatever the sandbox had published before (`state`
 * says what that was).
 */
export function publishDnatBatch(
  id: string,
  address: string,
  mappings: readonly PortMapping[],
  state: DnatTableState,
  options: DnatOptions = {},
): string {
  checkSandboxId(id);
  checkMappings(address, mappings);
  const table = tableName(options);
  const t = `ip ${table}`;
  const comment = JSON.stringify(COMMENT_PREFIX + id);
  const lines = [
    ...baseChains(table),
    ...deleteJumps(t, id, state),
    `add chain ${t} ${dnatChain(id)}`,
    `flush chain ${t} ${dnatChain(id)}`,
    `add chain ${t} ${snatChain(id)}`,
    `flush chain ${t} ${snatChain(id)}`,
    ...mappings.map((m) =>
      `add rule ${t} ${dnatChain(id)} ${ruleFor(m, address)}`
    ),
    `add rule ${t} ${
      snatChain(id)
    } ip saddr 127.0.0.0/8 ip daddr ${address} masquerade`,
    `add rule ${t} publish jump ${dnatChain(id)} comment ${comment}`,
    `add rule ${t} postrouting jump ${snatChain(id)} comment ${comment}`,
  ];
  return lines.join("\n") + "\n";
}

/**
 * The batch that removes sandbox `id`'s published ports, and the whole table
 * once no sandbox is left in it. Empty when there is nothing to remove.
 */
export function unpublishDnatBatch(
  id: string,
  state: DnatTableState,
  options: DnatOptions = {},
): string {
  checkSandboxId(id);
  const table = tableName(options);
  if (!state.exists) return "";
  const others = [...state.sandboxes.keys()].filter((other) => other !== id);
  if (others.length === 0) return `delete table ip ${table}\n`;
  if (!state.sandboxes.has(id)) return "";
  const t = `ip ${table}`;
  const lines = [
    ...deleteJumps(t, id, state),
    `delete chain ${t} ${dnatChain(id)}`,
    `delete chain ${t} ${snatChain(id)}`,
  ];
  return lines.join("\n") + "\n";
}

interface NftJsonRule {
  chain?: string;
  handle?: number;
  comment?: string;
}

/** Parses `nft -j list table` output into a {@linkcode DnatTableState}. */
export function parseDnatState(json: string): DnatTableState {
  const state: DnatTableState = { exists: true, sandboxes: new Map() };
  const parsed = JSON.parse(json) as { nftables?: { rule?: NftJsonRule }[] };
  for (const item of parsed.nftables ?? []) {
    const rule = item.rule;
    if (rule?.comment?.startsWith(COMMENT_PREFIX) !== true) continue;
    if (rule.chain === undefined || rule.handle === undefined) continue;
    const id = rule.comment.slice(COMMENT_PREFIX.length);
    const rules = state.sandboxes.get(id) ?? [];
    rules.push({ chain: rule.chain, handle: rule.handle });
    state.sandboxes.set(id, rules);
  }
  return state;
}

async function nft(
  args: string[],
  options: DnatOptions,
  stdin?: string,
): Promise<{ success: boolean; stdout: string; stderr: string }> {
  const binary = options.nft ?? "nft";
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(binary, {
      args,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (cause) {
    throw new NsnetError(`cannot run ${binary}`, {
      hint: cause instanceof Deno.errors.NotFound
        ? "install nftables (apt-get install nftables)"
        : undefined,
      cause,
    });
  }
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return {
    success: out.success,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr).trim(),
  };
}

/** Reads which sandboxes have ports published in the table. */
export async function readDnatState(
  options: DnatOptions = {},
): Promise<DnatTableState> {
  const table = tableName(options);
  const out = await nft(["-j", "list", "table", "ip", table], options);
  if (!out.success) {
    if (/No such file or directory/.test(out.stderr)) return emptyDnatState();
    throw new NsnetError(`nft list table ip ${table} failed: ${out.stderr}`);
  }
  return parseDnatState(out.stdout);
}

async function apply(
  batch: string,
  what: string,
  options: DnatOptions,
): Promise<void> {
  if (batch === "") return;
  const out = await nft(["-f", "-"], options, batch);
  if (!out.success) {
    throw new NsnetError(`${what}: nft failed: ${out.stderr}`, {
      hint: /Operation not permitted/.test(out.stderr)
        ? "DNAT publishing needs root; rootless, use the userspace forwarder"
        : undefined,
    });
  }
}

/**
 * Publishes `mappings` of sandbox `id` (at IPv4 `address`) with DNAT,
 * replacing what it published before, in one nftables transaction. Host
 * ports must be chosen and checked first ({@linkcode probeHostPorts}).
 */
export async function publishPortsDnat(
  id: string,
  address: string,
  mappings: readonly PortMapping[],
  options: DnatOptions = {},
): Promise<void> {
  checkSandboxId(id);
  checkMappings(address, mappings);
  const state = await readDnatState(options);
  await apply(
    publishDnatBatch(id, address, mappings, state, options),
    `publishing ports of sandbox ${id}`,
    options,
  );
}

/** Removes sandbox `id`'s published ports; the table too, once empty. Idempotent. */
export async function unpublishPortsDnat(
  id: string,
  options: DnatOptions = {},
): Promise<void> {
  checkSandboxId(id);
  const state = await readDnatState(options);
  await apply(
    unpublishDnatBatch(id, state, options),
    `removing published ports of sandbox ${id}`,
    options,
  );
}

/**
 * Sets `net.ipv4.conf.<iface>.route_localnet=1` in the calling thread's
 * namespace, so that connections to 127.0.0.1 can be DNATed out of `iface`
 * (the bridge or host-side veth towards the sandbox).
 */
export function enableRouteLocalnet(iface: string): void {
  if (!/^[^/\0\s]{1,15}$/.test(iface) || iface === "." || iface === "..") {
    throw new InvalidArgumentError(
      `invalid interface name ${JSON.stringify(iface)}`,
    );
  }
  Deno.writeTextFileSync(
    `/proc/sys/net/ipv4/conf/${iface}/route_localnet`,
    "1",
  );
}
