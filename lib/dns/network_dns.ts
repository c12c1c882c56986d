/**
 * The DNS responder of a bridge network (issue 15): one detached process per
 * network in use (`nsnet network dns-serve NAME`, hidden), listening on the
 * network's IPv4 gateway, port 53, in the bridge's namespace (the
 * host's as root, the shared rootless namespace rootless). It answers for
 * the network's sandboxes by name, read from the network's allocation file
 * at every query, so a name appears and disappears with its sandbox at once,
 * whichever process made or removed it; other names go to the network's
 * upstreams (`--dns-upstream`, else the host's resolv.conf nameservers that
 * are not on loopback), none for an `--internal` network. Started with the
 * network's first sandbox and stopped with its last (`lib/bridge/backend.ts`);
 * its pid and start time are in the bridge state dir.
 *
 * The upstream sockets are made before the process enters the bridge's
 * namespace, so rootless it forwards from the host's network (a test's
 * upstream on the host's loopback is reachable), while it answers inside.
 *
 * @module
 */

import type * as NodeDgram from "node:dgram";
import { CLONE, close, O, openPath, setns } from "../../ffi/syscalls.ts";
import { NsnetError } from "../errors.ts";
import { debug } from "../log.ts";
import { tryParseIP } from "../netlink/ip_address.ts";
import { processAlive, processStartTime } from "../process_identity.ts";
import { parseResolvConf } from "../resolv_conf/parse.ts";
import { selfCommand } from "../rootless/userns.ts";
import type { NetworkConfig } from "../bridge/network.ts";
import { DEFAULT_NETWORK_NAME, sandboxAddress6 } from "../bridge/network.ts";
import { type IpamFile, ipamFilePath } from "../bridge/ipam.ts";
import {
  type NameAddresses,
  startDnsResponder,
  type Upstream,
} from "./responder.ts";

/**
 * Whether `network` gets a responder: every network made with `nsnet
 * network create` unless `disableDns`; not the built-in default network
 * (as Podman's default network has no DNS).
 */
export function dnsEnabled(network: NetworkConfig): boolean {
  return network.name !== DEFAULT_NETWORK_NAME && network.disableDns !== true;
}

/** Parses `ADDR`, `ADDR:PORT` or `[ADDR6]:PORT` (port 53 by default). */
export function parseUpstream(text: string): Upstream {
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  let host: string;
  let port = 53;
  if (bracket !== null) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (text.split(":").length === 2) {
    [host] = text.split(":") as [string];
    port = Number(text.split(":")[1]);
  } else {
    host = text;
  }
  if (tryParseIP(host) === undefined || !(port >= 1 && port <= 65535)) {
    throw new NsnetError(
      `invalid DNS upstream ${JSON.stringify(text)}`,
      { hint: "give ADDR, ADDR:PORT or [IPV6]:PORT with an IP address" },
    );
  }
  return { host, port };
}

/** The upstreams of `network`: its own, else the host's non-loopback nameservers; none when internal. */
export function networkUpstreams(network: NetworkConfig): Upstream[] {
  if (network.internal) return [];
  if (network.dnsUpstreams !== undefined && network.dnsUpstreams.length > 0) {
    return network.dnsUpstreams.map(parseUpstream);
  }
  let text = "";
  try {
    text = Deno.readTextFileSync("/etc/resolv.conf");
  } catch { /* none */ }
  return parseResolvConf(text).nameservers
    .filter((ns) => !ns.startsWith("127.") && ns !== "::1")
    .map((host) => ({ host, port: 53 }));
}

/** The names of the network's sandboxes, from its allocation file. */
export function lookupIn(
  ipamFile: string,
  network: NetworkConfig,
): (name: string) => NameAddresses | undefined {
  return (name: string): NameAddresses | undefined => {
    let file: IpamFile;
    try {
      file = JSON.parse(Deno.readTextFileSync(ipamFile));
    } catch {
      return undefined;
    }
    for (const [address, id] of Object.entries(file.allocations ?? {})) {
      const names = [id, ...(file.aliases?.[id] ?? [])];
      if (!names.some((n) => n.toLowerCase() === name)) continue;
      const v6 = sandboxAddress6(network, address);
      return { v4: [address], v6: v6 === undefined ? [] : [v6] };
    }
    return undefined;
  };
}

function pidFile(stateDir: string, network: string): string {
  return `${stateDir}/dns-${network}.pid`;
}

function readPid(
  path: string,
): { pid: number; start: string | undefined } | undefined {
  try {
    const [pid, start] = Deno.readTextFileSync(path).trim().split(" ");
    const n = Number(pid);
    return Number.isSafeInteger(n) && n > 0 ? { pid: n, start } : undefined;
  } catch {
    return undefined;
  }
}

/** How nsnet runs itself for the responder: the CLI, else this module's entry. */
function responderCommand(): string[] {
  const main = Deno.mainModule;
  if (
    Deno.env.get("NSNET_SELF") || main.endsWith("/cli.ts") ||
    main.endsWith("/cli.js") || main.includes("/deno-compile-")
  ) {
    return selfCommand();
  }
  return [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--quiet",
    "--no-prompt",
    new URL("./_serve.ts", import.meta.url).href,
  ];
}

/** Where a network's responder runs. */
export interface DnsPlace {
  /** The bridge state dir (allocation files under `ipam/`, the pid file here). */
  stateDir: string;
  /** The allocation dir. */
  ipamDir: string;
  /** The bridge's namespace, entered by the process rootless; undefined: where it starts. */
  nsPath?: string;
}

/**
 * Starts the responder of `network` unless one runs; waits (at most 5 s)
 * until it listens. A responder that cannot start is a warning's matter for
 * the caller: the sandbox works, only names do not resolve.
 */
export async function startNetworkDns(
  place: DnsPlace,
  network: NetworkConfig,
): Promise<void> {
  const file = pidFile(place.stateDir, network.name);
  const running = readPid(file);
  if (running !== undefined && processAlive(running.pid, running.start)) return;
  try {
    Deno.removeSync(file);
  } catch { /* none */ }
  const [program, ...args] = [
    ...responderCommand(),
    "network",
    "dns-serve",
    network.name,
    "--ipam-dir",
    place.ipamDir,
    "--pid-file",
    file,
    ...(place.nsPath === undefined ? [] : ["--netns", place.nsPath]),
  ];
  const child = new Deno.Command("setsid", {
    args: [program!, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exited: Deno.CommandStatus | undefined;
  child.status.then((s) => exited = s);
  const deadline = Date.now() + 5_000;
  while (readPid(file) === undefined) {
    if (exited !== undefined) {
      const text = new TextDecoder().decode(
        await new Response(child.stderr).arrayBuffer(),
      ).trim();
      throw new NsnetError(
        `the DNS responder of network ${network.name} failed: ${
          text || `exit ${exited.code}`
        }`,
      );
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new NsnetError(
        `the DNS responder of network ${network.name} did not start within 5 s`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  child.stderr.cancel().catch(() => {});
  child.unref();
}

/** Stops the responder of `network`, if it runs; waits until it is gone. */
export async function stopNetworkDns(
  stateDir: string,
  network: string,
): Promise<void> {
  const file = pidFile(stateDir, network);
  const running = readPid(file);
  if (running !== undefined && processAlive(running.pid, running.start)) {
    Deno.kill(running.pid, "SIGTERM");
    for (let i = 0; i < 300 && processAlive(running.pid, running.start); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (processAlive(running.pid, running.start)) {
      Deno.kill(running.pid, "SIGKILL");
    }
  }
  try {
    Deno.removeSync(file);
  } catch { /* none */ }
}

function bindUpstream(
  dgram: typeof NodeDgram,
  family: "udp4" | "udp6",
): Promise<NodeDgram.Socket | undefined> {
  const socket = dgram.createSocket(family);
  return new Promise((resolve) => {
    socket.once("error", () => resolve(undefined));
    socket.bind(
      { port: 0, address: family === "udp4" ? "0.0.0.0" : "::" },
      () => {
        socket.removeAllListeners("error");
        resolve(socket);
      },
    );
  });
}

/** Options of the responder process. */
export interface DnsServeOptions {
  /** The network's allocation dir. */
  ipamDir: string;
  /** Where to write `PID START` once listening. */
  pidFile: string;
  /** The namespace to answer in (entered for good after the upstream sockets are made). */
  netns?: string;
}

/**
 * Runs as the responder process of network `name` until SIGTERM; the
 * network's settings are read from its allocation file, which holds them.
 */
export async function runNetworkDns(
  name: string,
  options: DnsServeOptions,
): Promise<void> {
  const ipamFile = ipamFilePath(options.ipamDir, name);
  let network: NetworkConfig;
  try {
    network = (JSON.parse(Deno.readTextFileSync(ipamFile)) as IpamFile)
      .network;
  } catch (cause) {
    throw new NsnetError(
      `network ${name} has no allocation file ${ipamFile}: no sandbox uses it`,
      { cause },
    );
  }
  const dgram = await import("node:dgram");
  const upstreams = networkUpstreams(network);
  // Made here, before entering: forwarding goes out from where nsnet runs.
  const sockets = {
    udp4: await bindUpstream(dgram, "udp4"),
    udp6: await bindUpstream(dgram, "udp6"),
  };
  if (options.netns !== undefined) {
    const fd = openPath(options.netns, O.RDONLY);
    try {
      setns(fd, CLONE.NEWNET, options.netns);
    } finally {
      close(fd);
    }
  }
  const lookup = lookupIn(ipamFile, network);
  // The IPv4 gateway only: resolv.conf names it, and it answers AAAA too.
  const addresses = [network.gateway];
  const responders = [];
  for (const address of addresses) {
    responders.push(
      await startDnsResponder({
        address,
        port: 53,
        lookup,
        upstreams,
        upstreamSockets: sockets,
      }),
    );
  }
  debug(
    `DNS responder of ${network.name} on ${addresses.join(", ")}, upstreams ${
      upstreams.map((u) => `${u.host}:${u.port}`).join(", ") || "none"
    }`,
  );
  Deno.writeTextFileSync(
    options.pidFile,
    `${Deno.pid} ${processStartTime(Deno.pid) ?? ""}\n`,
  );
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      Deno.addSignalListener(signal, () => resolve());
    }
  });
  await Promise.all(responders.map((r) => r.close()));
  for (const socket of Object.values(sockets)) {
    try {
      socket?.close();
    } catch { /* closed */ }
  }
}
