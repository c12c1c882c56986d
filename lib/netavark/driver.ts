/**
 * Driving netavark as Podman 4 does: `netavark --config RUNDIR
 * --rootless=BOOL [--aardvark-binary PATH] setup|teardown NETNS`, the
 * per-sandbox options (container id and name, networks with their interface
 * names and addresses, the network definitions, port mappings) as JSON on
 * standard input, and its answer (a StatusBlock per network) or its error
 * (`{"error": "…"}` on standard output) read back.
 *
 * Like Podman, nsnet hands out the addresses (netavark's `host-local` IPAM
 * only takes what it is given): from the first IPv4 subnet of each network,
 * through the bridge backend's allocation tables under the run dir.
 *
 * Rootless, netavark has to run inside the shared rootless namespace (with
 * its mounts), as Podman runs it: pass a {@linkcode NetavarkSpawn} such as
 * `(cmd, o) => rootlessNetNS.spawn(cmd, o)`.
 *
 * @module
 */

import { Ipam, networksInUse } from "../bridge/ipam.ts";
import { type FileLock, withFileLock } from "../lock.ts";
import type { NetworkConfig } from "../bridge/network.ts";
import { NsnetError } from "../errors.ts";
import { isExecutableFile } from "../fs.ts";
import type { NetAddress, NetInterface, StatusBlock } from "../inspect.ts";
import type { PortMapping } from "../ports/spec.ts";
import { isRootless } from "../rootless/detect.ts";
import { runtimeDir } from "../rootless/runtime_dir.ts";
import { sha256Hex } from "../sha256.ts";
import { getPodmanNetwork, ipv4Subnet, type PodmanNetwork } from "./network.ts";

/** Where Podman looks for its helper binaries, in its order. */
export const HELPER_BINARY_DIRS: readonly string[] = [
  "/usr/local/libexec/podman",
  "/usr/local/lib/podman",
  "/usr/libexec/podman",
  "/usr/lib/podman",
];

/** One network a sandbox joins. */
export interface NetavarkAttachment {
  /** The Podman network's name. */
  name: string;
  /** The interface inside the sandbox, e.g. `eth0`. */
  interfaceName: string;
  /** Its addresses; when absent, one is allocated from the first IPv4 subnet. */
  staticIps?: string[];
  /** A fixed MAC address. */
  staticMac?: string;
  /** DNS names besides the sandbox's own (aardvark-dns). */
  aliases?: string[];
}

/** A published port in Podman's format (`types.PortMapping`). */
export interface NetavarkPortMapping {
  /** The host address; `""` for all. */
  "host_ip": string;
  /** The port inside the sandbox. */
  "container_port": number;
  /** The host port. */
  "host_port": number;
  /** How many consecutive ports (1 for one). */
  range: number;
  /** `tcp`, `udp` or `sctp` (comma-separated for several). */
  protocol: string;
}

/** The options of a child process netavark runs as. */
export interface NetavarkSpawnOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Always piped: the options go in, the answer comes out. */
  stdin: "piped";
  /** Always piped. */
  stdout: "piped";
  /** Always piped. */
  stderr: "piped";
}

/**
 * Starts `command` (program and arguments) somewhere: on the host by
 * default, inside the rootless namespace when the caller passes
 * `RootlessNetNS.spawn`.
 */
export type NetavarkSpawn = (
  command: readonly string[],
  options: NetavarkSpawnOptions,
) => Deno.ChildProcess;

/** Options of {@linkcode netavarkSetup} and {@linkcode netavarkTeardown}. */
export interface NetavarkOptions {
  /** Where the network definitions are; default Podman's (`defaultPodmanNetworksDir()`). */
  configDir?: string;
  /** Definitions to use instead of reading them from `configDir`, by name. */
  networks?: Record<string, PodmanNetwork>;
  /** netavark's `--config` dir (aardvark-dns state) and the IPAM tables; default {@linkcode defaultNetavarkRunDir}. */
  runDir?: string;
  /** The netavark binary; default the first of {@linkcode findNetavark}. */
  binary?: string;
  /** The aardvark-dns binary; default the one beside netavark, when present. */
  aardvarkBinary?: string;
  /** Ports to publish, in Podman's format (see {@linkcode toNetavarkPortMappings}). */
  portMappings?: NetavarkPortMapping[];
  /** The sandbox's name for DNS; default the sandbox id. */
  containerName?: string;
  /** Whether netavark runs for a rootless sandbox (`--rootless`); default whether nsnet is rootless. */
  rootless?: boolean;
  /** How to start netavark; default a child process of this one. */
  spawn?: NetavarkSpawn;
}

/** netavark failed: its own message, and what it exited with. */
export class NetavarkError extends NsnetError {
  /** `setup` or `teardown`. */
  readonly command: string;
  /** netavark's message, as it gave it. */
  readonly netavarkMessage: string;
  /** Its exit status. */
  readonly exitCode: number;
  /** What it wrote on standard error (logs). */
  readonly stderr: string;

  /** Makes the error for `command` failing with `message`. */
  constructor(
    command: string,
    message: string,
    exitCode: number,
    stderr: string,
  ) {
    super(`netavark ${command}: ${message}`, {
      hint: stderr.trim() === "" ? undefined : stderr.trim().split("\n").at(-1),
    });
    this.name = "NetavarkError";
    this.command = command;
    this.netavarkMessage = message;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** netavark is not installed (or not where it was said to be). */
export class NetavarkNotFoundError extends NsnetError {
  /** Makes the error; `binary` is the path tried, if one was given. */
  constructor(binary?: string) {
    super(
      binary === undefined
        ? `netavark is not installed (looked in ${
          HELPER_BINARY_DIRS.join(", ")
        } and PATH)`
        : `netavark not found at ${binary}`,
      { hint: "install it: apt-get install netavark aardvark-dns" },
    );
    this.name = "NetavarkNotFoundError";
  }
}

function findHelper(name: string): string | undefined {
  const path = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const dir of [...HELPER_BINARY_DIRS, ...path]) {
    if (isExecutableFile(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}

/** The netavark binary Podman would run (its helper dirs first, then PATH), if installed. */
export function findNetavark(): string | undefined {
  return findHelper("netavark");
}

/** Whether netavark is installed. */
export function netavarkAvailable(): boolean {
  return findNetavark() !== undefined;
}

/** nsnet's netavark run dir: `/run/nsnet/netavark` as root, `$XDG_RUNTIME_DIR/nsnet/netavark` rootless. */
export function defaultNetavarkRunDir(
  rootless: boolean = isRootless(),
): string {
  return rootless ? `${runtimeDir()}/nsnet/netavark` : "/run/nsnet/netavark";
}

/** nsnet's port mappings in Podman's format, one per mapping. */
export function toNetavarkPortMappings(
  mappings: readonly PortMapping[],
): NetavarkPortMapping[] {
  return mappings.map((m) => ({
    "host_ip": m.hostIp ?? "",
    "container_port": m.sandboxPort,
    "host_port": m.hostPort,
    range: 1,
    protocol: m.protocol,
  }));
}

/** The container id netavark is given: the sandbox id when it is 64 hex digits, else its SHA-256. */
export function netavarkContainerId(sandboxId: string): string {
  return /^[0-9a-f]{64}$/.test(sandboxId) ? sandboxId : sha256Hex(sandboxId);
}

interface Resolved {
  binary: string;
  runDir: string;
  definitions: Map<string, PodmanNetwork>;
}

function resolve(
  attachments: readonly NetavarkAttachment[],
  options: NetavarkOptions,
): Resolved {
  if (attachments.length === 0) {
    throw new NsnetError("netavark: no network to attach", {
      hint: "give at least one network",
    });
  }
  const binary = options.binary ?? findNetavark();
  if (binary === undefined) throw new NetavarkNotFoundError();
  if (options.binary !== undefined && !isExecutableFile(binary)) {
    throw new NetavarkNotFoundError(binary);
  }
  const definitions = new Map<string, PodmanNetwork>();
  const interfaces = new Set<string>();
  for (const a of attachments) {
    if (definitions.has(a.name)) {
      throw new NsnetError(`network ${a.name} is given twice`);
    }
    if (interfaces.has(a.interfaceName)) {
      throw new NsnetError(`interface ${a.interfaceName} is given twice`);
    }
    interfaces.add(a.interfaceName);
    definitions.set(
      a.name,
      options.networks?.[a.name] ??
        getPodmanNetwork(a.name, { dir: options.configDir }),
    );
  }
  return {
    binary,
    runDir: options.runDir ?? defaultNetavarkRunDir(),
    definitions,
  };
}

function ipamNetwork(network: PodmanNetwork): NetworkConfig | undefined {
  if ((network.ipam_options?.driver ?? "host-local") !== "host-local") {
    return undefined;
  }
  const v4 = ipv4Subnet(network);
  if (v4 === undefined) return undefined;
  return {
    name: network.name,
    bridge: network.network_interface ?? network.name,
    subnet: v4.subnet,
    gateway: v4.gateway,
  };
}

/** The `--config`, `--rootless` and `--aardvark-binary` arguments, as Podman passes them. */
function globalArgs(runDir: string, options: NetavarkOptions): string[] {
  const args = [
    "--config",
    runDir,
    `--rootless=${options.rootless ?? isRootless()}`,
  ];
  const aardvark = options.aardvarkBinary ?? findHelper("aardvark-dns");
  if (aardvark !== undefined) args.push("--aardvark-binary", aardvark);
  return args;
}

function optionsJson(
  sandboxId: string,
  attachments: readonly NetavarkAttachment[],
  ips: Map<string, string[]>,
  resolved: Resolved,
  options: NetavarkOptions,
): string {
  const networks: Record<string, unknown> = {};
  const info: Record<string, PodmanNetwork> = {};
  for (const a of attachments) {
    networks[a.name] = {
      "interface_name": a.interfaceName,
      "static_ips": ips.get(a.name) ?? [],
      ...(a.staticMac === undefined ? {} : { "static_mac": a.staticMac }),
      ...(a.aliases === undefined ? {} : { aliases: a.aliases }),
    };
    info[a.name] = resolved.definitions.get(a.name)!;
  }
  return JSON.stringify({
    "container_id": netavarkContainerId(sandboxId),
    "container_name": options.containerName ?? sandboxId,
    "port_mappings": options.portMappings ?? [],
    networks,
    "network_info": info,
  });
}

function defaultSpawn(
  command: readonly string[],
  options: NetavarkSpawnOptions,
): Deno.ChildProcess {
  return new Deno.Command(command[0]!, {
    args: command.slice(1),
    env: options.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs netavark with `input` on stdin; returns stdout, or raises its error. */
async function runNetavark(
  command: "setup" | "teardown",
  argv: string[],
  input: string,
  spawn: NetavarkSpawn,
): Promise<string> {
  const child = spawn(argv, {
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const writer = child.stdin.getWriter();
  // netavark may exit before reading everything (a bad namespace path): its answer still counts.
  await writer.write(new TextEncoder().encode(input)).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(out.stdout);
  const stderr = decoder.decode(out.stderr);
  if (out.success) return stdout;
  let message = stderr.trim() || `exited with status ${out.code}`;
  try {
    const parsed = JSON.parse(stdout);
    if (typeof parsed?.error === "string") message = parsed.error;
  } catch {
    // No JSON answer: the stderr text (or the status) says what happened.
  }
  throw new NetavarkError(command, message, out.code, stderr);
}

/** netavark's answer for one network: the interfaces plus what aardvark-dns serves. */
export interface NetavarkStatusBlock extends StatusBlock {
  /** DNS servers the sandbox should use (aardvark-dns), if any. */
  "dns_server_ips"?: string[];
  /** DNS search domains, if any. */
  "dns_search_domains"?: string[];
}

/**
 * Parses netavark's answer to `setup` (network name → StatusBlock) into one
 * StatusBlock with the interfaces of all networks, each shaped and ordered as
 * nsnet's (and Go's) StatusBlock: `subnets` (`ipnet`, `gateway`) then
 * `mac_address`, interfaces sorted by name.
 */
export function parseNetavarkAnswer(text: string): {
  status: StatusBlock;
  perNetwork: Record<string, NetavarkStatusBlock>;
} {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new NsnetError(`netavark setup: unreadable answer (${error})`, {
      cause: error,
    });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new NsnetError("netavark setup: the answer is not a JSON object");
  }
  const perNetwork = parsed as Record<string, NetavarkStatusBlock>;
  const interfaces: Record<string, NetInterface> = {};
  for (const block of Object.values(perNetwork)) {
    for (const [name, iface] of Object.entries(block?.interfaces ?? {})) {
      const subnets: NetAddress[] = (iface.subnets ?? []).map((s) =>
        s.gateway === undefined || s.gateway === null
          ? { ipnet: s.ipnet }
          : { ipnet: s.ipnet, gateway: s.gateway }
      );
      interfaces[name] = subnets.length > 0
        ? { subnets, "mac_address": iface.mac_address ?? "" }
        : { "mac_address": iface.mac_address ?? "" };
    }
  }
  const names = Object.keys(interfaces).sort();
  const status: StatusBlock = names.length === 0 ? {} : {
    interfaces: Object.fromEntries(names.map((n) => [n, interfaces[n]!])),
  };
  return { status, perNetwork };
}

/** What {@linkcode netavarkSetupDetailed} returns. */
export interface NetavarkSetupResult {
  /** All interfaces of all networks, as one StatusBlock. */
  status: StatusBlock;
  /** netavark's answer as it gave it, by network. */
  perNetwork: Record<string, NetavarkStatusBlock>;
  /** The addresses given to netavark, by network (allocated ones included). */
  addresses: Record<string, string[]>;
}

/**
 * {@linkcode netavarkSetup} with netavark's per-network answer (DNS servers
 * included) and the addresses used.
 */
export async function netavarkSetupDetailed(
  netnsPath: string,
  sandboxId: string,
  attachments: readonly NetavarkAttachment[],
  options: NetavarkOptions = {},
): Promise<NetavarkSetupResult> {
  const resolved = resolve(attachments, options);
  Deno.mkdirSync(resolved.runDir, { recursive: true, mode: 0o700 });
  return await withFileLock(`${resolved.runDir}/netavark.lock`, async () => {
    const ipamDir = `${resolved.runDir}/ipam`;
    const ips = new Map<string, string[]>();
    const allocated: NetworkConfig[] = [];
    const release = (): void => {
      for (const network of allocated) {
        using ipam = Ipam.open(ipamDir, network);
        ipam.release(sandboxId);
      }
    };
    try {
      for (const a of attachments) {
        if (a.staticIps !== undefined && a.staticIps.length > 0) {
          ips.set(a.name, [...a.staticIps]);
          continue;
        }
        const network = ipamNetwork(resolved.definitions.get(a.name)!);
        if (network === undefined) continue; // dhcp/none, or no IPv4 subnet: netavark decides
        using ipam = Ipam.open(ipamDir, network);
        ips.set(a.name, [ipam.allocate(sandboxId)]);
        allocated.push(network);
      }
      const stdout = await runNetavark(
        "setup",
        [
          resolved.binary,
          ...globalArgs(resolved.runDir, options),
          "setup",
          netnsPath,
        ],
        optionsJson(sandboxId, attachments, ips, resolved, options),
        options.spawn ?? defaultSpawn,
      );
      return {
        ...parseNetavarkAnswer(stdout),
        addresses: Object.fromEntries(ips),
      };
    } catch (error) {
      // As Podman: a failed setup is not torn down, but its addresses go back.
      release();
      throw error;
    }
  });
}

/**
 * Attaches the namespace at `netnsPath` to `attachments` through `netavark
 * setup` and returns the StatusBlock netavark reports (all networks' interfaces
 * together). Addresses not given are allocated first and released again if
 * netavark fails. netavark's error is raised as a {@linkcode NetavarkError}
 * with its message.
 */
export async function netavarkSetup(
  netnsPath: string,
  sandboxId: string,
  attachments: readonly NetavarkAttachment[],
  options: NetavarkOptions = {},
): Promise<StatusBlock> {
  return (await netavarkSetupDetailed(
    netnsPath,
    sandboxId,
    attachments,
    options,
  )).status;
}

/**
 * Undoes {@linkcode netavarkSetup} through `netavark teardown` (interfaces,
 * firewall rules and port mappings; the bridge when it was the last user),
 * then releases the addresses nsnet allocated. Give the same attachments and
 * port mappings as to setup. The addresses are released even when netavark
 * fails (its error is raised afterwards), so a sandbox whose namespace is gone
 * can still be removed.
 */
export async function netavarkTeardown(
  netnsPath: string,
  sandboxId: string,
  attachments: readonly NetavarkAttachment[],
  options: NetavarkOptions = {},
): Promise<void> {
  const resolved = resolve(attachments, options);
  Deno.mkdirSync(resolved.runDir, { recursive: true, mode: 0o700 });
  await withFileLock(`${resolved.runDir}/netavark.lock`, async (lock) => {
    const ipamDir = `${resolved.runDir}/ipam`;
    const ips = new Map<string, string[]>();
    const held: NetworkConfig[] = [];
    for (const a of attachments) {
      if (a.staticIps !== undefined && a.staticIps.length > 0) {
        ips.set(a.name, [...a.staticIps]);
        continue;
      }
      const network = ipamNetwork(resolved.definitions.get(a.name)!);
      if (network === undefined) continue;
      using ipam = Ipam.open(ipamDir, network);
      const address = ipam.addressOf(sandboxId);
      if (address !== undefined) {
        ips.set(a.name, [address]);
        held.push(network);
      }
    }
    try {
      await runNetavark(
        "teardown",
        [
          resolved.binary,
          ...globalArgs(resolved.runDir, options),
          "teardown",
          netnsPath,
        ],
        optionsJson(sandboxId, attachments, ips, resolved, options),
        options.spawn ?? defaultSpawn,
      );
    } finally {
      for (const network of held) {
        using ipam = Ipam.open(ipamDir, network);
        ipam.release(sandboxId);
      }
      pruneIdle(resolved.runDir, ipamDir, lock);
    }
  });
}

/**
 * With no address handed out any more, nsnet's netavark state goes: the
 * IPAM dir, the lock file (under the lock) and the run dir, once empty.
 */
function pruneIdle(runDir: string, ipamDir: string, lock: FileLock): void {
  if (networksInUse(ipamDir).length > 0) return;
  try {
    Deno.removeSync(ipamDir);
  } catch { /* absent, or not empty */ }
  lock.release({ remove: true });
  try {
    Deno.removeSync(runDir); // only when empty: netavark may keep state of its own there
  } catch { /* not empty */ }
}
