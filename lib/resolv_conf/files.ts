/**
 * Reading the host's resolver files (optionally inside a prepared root) and
 * writing a namespace's resolv.conf atomically.
 *
 * @module
 */

import { joinPaths } from "../join_paths.ts";
import { InvalidArgumentError, NsnetError } from "../errors.ts";
import { writeFileAtomic } from "../fs.ts";
import { ResolvConfError } from "./errors.ts";
import {
  formatResolvConf,
  localStubUpstream,
  needsHostResolvConf,
  planResolvConf,
  type ResolvConfGenerateOptions,
  type ResolvConfPlan,
  type ResolvConfSources,
} from "./generate.ts";
import { parseResolvConf } from "./parse.ts";
import { RESOLV_CONF_PATH, traceResolvConfPath } from "./path.ts";

/** systemd-resolved's list of upstream servers, behind its stub 127.0.0.53. */
export const SYSTEMD_RESOLVED_UPSTREAM_PATH =
  "/run/systemd/resolve/resolv.conf";

/** NetworkManager's list of upstream servers, behind its local dnsmasq. */
export const NETWORK_MANAGER_UPSTREAM_PATH =
  "/run/NetworkManager/no-stub-resolv.conf";

/** The largest resolver file nsnet reads; a real one is a few hundred bytes. */
export const MAX_RESOLV_CONF_BYTES = 4 * 1024 * 1024;

/** Where the host's resolver files are. */
export interface ResolvConfSourceOptions {
  /**
   * A directory to treat as `/` when reading the files below; their links
   * are followed inside it. Default `/`.
   */
  root?: string;
  /** The host's resolv.conf. Default `/etc/resolv.conf`. */
  hostPath?: string;
  /**
   * The name of an `ip netns` namespace: `/etc/netns/<name>/resolv.conf` is
   * read instead of `hostPath` when it exists, as `ip netns exec` does.
   */
  netnsName?: string;
  /** Default {@linkcode SYSTEMD_RESOLVED_UPSTREAM_PATH}. */
  systemdResolvedPath?: string;
  /** Default {@linkcode NETWORK_MANAGER_UPSTREAM_PATH}. */
  networkManagerPath?: string;
}

/** The host's resolver texts, and which file stood for the host's resolv.conf. */
export interface ReadResolvConfSources extends ResolvConfSources {
  /** The file read as the host's resolv.conf (inside the root). */
  hostPath: string;
}

async function readBounded(path: string, shown: string): Promise<string> {
  using file = await Deno.open(path, { read: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) break;
    total += n;
    if (total > MAX_RESOLV_CONF_BYTES) {
      throw new ResolvConfError(
        "too-large",
        `${shown} is larger than ${MAX_RESOLV_CONF_BYTES} bytes`,
        { path: shown },
      );
    }
    chunks.push(buffer.slice(0, n));
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * Reads a text file at `path` inside `root`, following links inside the
 * root only; `undefined` when it does not exist.
 *
 * @throws {ResolvConfError} when it exists but cannot be read or is too large.
 */
export async function readResolverFile(
  path: string,
  root = "/",
): Promise<string | undefined> {
  let onHost = path;
  if (root !== "/") {
    try {
      onHost = joinPaths(
        root,
        traceResolvConfPath({ root, path, stopUnderRun: false }).path,
      );
    } catch (error) {
      if (error instanceof ResolvConfError && error.reason === "not-found") {
        return undefined;
      }
      throw error;
    }
  }
  try {
    return await readBounded(onHost, path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof ResolvConfError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new ResolvConfError("io", `cannot read ${path}: ${message}`, {
      path,
      cause: error,
      hint: error instanceof Deno.errors.IsADirectory
        ? "resolv.conf must be a file, not a directory"
        : undefined,
    });
  }
}

/**
 * Reads the host's resolv.conf and, only when it points at nothing but a
 * local stub, the upstream list of the resolver behind that stub.
 *
 * @throws {ResolvConfError} when a file exists but cannot be read.
 */
export async function readResolvConfSources(
  options: ResolvConfSourceOptions = {},
): Promise<ReadResolvConfSources> {
  const root = options.root ?? "/";
  let hostPath = options.hostPath ?? RESOLV_CONF_PATH;
  let host: string | undefined;
  if (options.netnsName !== undefined) {
    if (
      !/^[^/\0]+$/.test(options.netnsName) || /^\.\.?$/.test(options.netnsName)
    ) {
      throw new InvalidArgumentError(
        `invalid namespace name ${JSON.stringify(options.netnsName)}`,
      );
    }
    const netnsPath = `/etc/netns/${options.netnsName}/resolv.conf`;
    host = await readResolverFile(netnsPath, root);
    if (host !== undefined) hostPath = netnsPath;
  }
  host ??= await readResolverFile(hostPath, root) ?? "";
  const sources: ReadResolvConfSources = { host, hostPath };
  const stub = localStubUpstream(parseResolvConf(host));
  if (stub === "systemd-resolved") {
    sources.systemdResolved = await readResolverFile(
      options.systemdResolvedPath ?? SYSTEMD_RESOLVED_UPSTREAM_PATH,
      root,
    );
  } else if (stub === "NetworkManager") {
    sources.networkManager = await readResolverFile(
      options.networkManagerPath ?? NETWORK_MANAGER_UPSTREAM_PATH,
      root,
    );
  }
  return sources;
}

/** Options of {@linkcode writeResolvConf}. */
export interface WriteResolvConfOptions
  extends ResolvConfGenerateOptions, ResolvConfSourceOptions {
  /** The file mode. Default `0o644`, so that every process in the namespace can read it. */
  mode?: number;
  /**
   * Flush the file to disk before it replaces the old one (default true).
   * A file under a runtime dir that a reboot empties anyway need not wait
   * for the disk.
   */
  durable?: boolean;
}

/**
 * Generates a namespace's resolv.conf from the host's files (see
 * {@linkcode planResolvConf} for the rules) and writes it atomically to
 * `path` (mode 0644). The host's files are not read at all when the options
 * name nameservers, domains and options and keep none of the host's.
 *
 * @example
 * ```ts
 * import { helperDnsAddress } from "./helper_addresses.ts";
 * import { writeResolvConf } from "./files.ts";
 * await writeResolvConf("/tmp/ns-resolv.conf", {
 *   nameservers: [helperDnsAddress("10.0.2.0/24")],
 *   keepHostServers: true,
 * });
 * ```
 *
 * @throws {ResolvConfError} when a file cannot be read or written.
 * @throws {InvalidArgumentError} when a given nameserver, domain or option is malformed.
 */
export async function writeResolvConf(
  path: string,
  options: WriteResolvConfOptions = {},
): Promise<ResolvConfPlan> {
  const plan = await resolvConfPlanFromFiles(options);
  try {
    await writeFileAtomic(
      path,
      formatResolvConf(plan.conf),
      options.mode ?? 0o644,
      { durable: options.durable },
    );
  } catch (error) {
    const io = error instanceof NsnetError ? error : undefined;
    throw new ResolvConfError("io", io?.message ?? String(error), {
      path,
      cause: error,
      hint: io?.hint,
    });
  }
  return plan;
}

/**
 * Reads what is needed from the host's files and decides the namespace's
 * resolv.conf, without writing anything.
 *
 * @throws {ResolvConfError} when a file exists but cannot be read.
 * @throws {InvalidArgumentError} when a given nameserver, domain or option is malformed.
 */
export async function resolvConfPlanFromFiles(
  options: WriteResolvConfOptions = {},
): Promise<ResolvConfPlan> {
  const sources: ResolvConfSources = needsHostResolvConf(options)
    ? await readResolvConfSources(options)
    : { host: "" };
  return planResolvConf(sources, options);
}
