/**
 * The result cache, as libcni keeps it: after a successful ADD, the final
 * result, the config and the runtime arguments are stored in
 * `<cacheDir>/results/<network>-<containerId>-<ifname>`, so that DEL and
 * CHECK get what ADD returned (and DEL works after the config is gone).
 * Same file format as libcni's (`cniCacheV1`), so either can read the other's.
 *
 * @module
 */

import { writeFileAtomicSync } from "../fs.ts";
import { CniConfigError } from "./errors.ts";

/** libcni's default cache dir. */
export const DEFAULT_CNI_CACHE_DIR = "/var/lib/cni";

/** One cache entry, field for field libcni's `cachedInfo`. */
export interface CniCacheEntry {
  /** Always `cniCacheV1`. */
  kind: "cniCacheV1";
  /** The container ID. */
  containerId: string;
  /** The network list's config, base64 of its bytes. */
  config: string;
  /** The interface name. */
  ifName: string;
  /** The network's name. */
  networkName: string;
  /** CNI_ARGS as pairs. */
  cniArgs?: [string, string][];
  /** The runtime config given to plugins with matching capabilities. */
  capabilityArgs?: Record<string, unknown>;
  /** The final ADD result, as the last plugin wrote it. */
  result: Record<string, unknown>;
}

/**
 * The cache dir for the shared rootless namespace whose state dir is
 * `rootlessDir`: the mirror that S6 mounts over `/var/lib/cni` inside, so
 * the plugins (host-local's leases) and nsnet see the same tree.
 */
export function rootlessCniCacheDir(rootlessDir: string): string {
  return `${rootlessDir}${DEFAULT_CNI_CACHE_DIR}`;
}

/** The cache file of one attachment. */
export function cniCachePath(
  cacheDir: string,
  network: string,
  containerId: string,
  ifname: string,
): string {
  return `${cacheDir}/results/${network}-${containerId}-${ifname}`;
}

function toBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function fromBase64(text: string): string {
  const binary = atob(text);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** What {@linkcode writeCniCache} stores. */
export interface CniCacheInput {
  /** The network's name. */
  network: string;
  /** The container ID. */
  containerId: string;
  /** The interface name. */
  ifname: string;
  /** The network list as text. */
  configBytes: string;
  /** CNI_ARGS as pairs. */
  cniArgs: [string, string][];
  /** The runtime config. */
  capabilityArgs: Record<string, unknown>;
  /** The final result. */
  result: Record<string, unknown>;
}

/** Writes the entry for an attachment (atomically, 0600, the dirs made as needed). */
export function writeCniCache(cacheDir: string, input: CniCacheInput): string {
  Deno.mkdirSync(`${cacheDir}/results`, { recursive: true, mode: 0o700 });
  const path = cniCachePath(
    cacheDir,
    input.network,
    input.containerId,
    input.ifname,
  );
  const entry: CniCacheEntry = {
    kind: "cniCacheV1",
    containerId: input.containerId,
    config: toBase64(input.configBytes),
    ifName: input.ifname,
    networkName: input.network,
    cniArgs: input.cniArgs,
    capabilityArgs: input.capabilityArgs,
    result: input.result,
  };
  writeFileAtomicSync(path, JSON.stringify(entry), 0o600);
  return path;
}

/** The entry of an attachment, or undefined when there is none. A corrupt file raises {@linkcode CniConfigError}. */
export function readCniCache(
  cacheDir: string,
  network: string,
  containerId: string,
  ifname: string,
): CniCacheEntry | undefined {
  const path = cniCachePath(cacheDir, network, containerId, ifname);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CniConfigError(path, "the cached result is not JSON", {
      cause: error,
      hint: "remove the file; the attachment's state is lost",
    });
  }
  const entry = value as Partial<CniCacheEntry> | null;
  if (
    entry === null || typeof entry !== "object" ||
    entry.kind !== "cniCacheV1" || typeof entry.result !== "object" ||
    entry.result === null
  ) {
    throw new CniConfigError(path, "not a cniCacheV1 entry with a result", {
      hint: "remove the file; the attachment's state is lost",
    });
  }
  return entry as CniCacheEntry;
}

/** The network list text stored in `entry`. */
export function cachedConfigBytes(entry: CniCacheEntry): string {
  return fromBase64(entry.config);
}

/** Removes an attachment's entry; missing is fine. */
export function removeCniCache(
  cacheDir: string,
  network: string,
  containerId: string,
  ifname: string,
): void {
  try {
    Deno.removeSync(cniCachePath(cacheDir, network, containerId, ifname));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
