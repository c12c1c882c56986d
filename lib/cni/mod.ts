/**
 * The CNI backend (specification 1.0.0): attach a network namespace to a
 * network list from a config dir, check it, detach it, as libcni does for
 * Podman.
 *
 * - ADD runs the plugins in order, each given the previous one's result as
 *   `prevResult`; the final result is cached and turned into a StatusBlock.
 *   When a plugin fails, DEL runs for the whole list (reverse order) before
 *   the error is raised, so a failed ADD leaves nothing behind.
 * - DEL runs the plugins in reverse order with the cached result, using the
 *   cached config when the network list is gone, and removes the cache entry
 *   once every plugin succeeded.
 * - CHECK runs the plugins in order with the cached result.
 *
 * Root runs the plugins directly; rootless, pass `spawn` so they run inside
 * the shared rootless namespace (`(cmd, o) => rootless.spawn(cmd, o)`), and a
 * cache dir under its mirror ({@linkcode rootlessCniCacheDir}).
 *
 * @module
 */

import {
  InvalidArgumentError,
  NetworkNotFoundError,
  NsnetError,
} from "../errors.ts";
import type { StatusBlock } from "../inspect.ts";
import { warn } from "../log.ts";
import { getNS } from "../netns/netns.ts";
import type { PortMapping } from "../ports/spec.ts";
import {
  cachedConfigBytes,
  type CniCacheEntry,
  DEFAULT_CNI_CACHE_DIR,
  readCniCache,
  removeCniCache,
  writeCniCache,
} from "./cache.ts";
import {
  type CniNetworkList,
  type CniPluginConfig,
  defaultCniConfDir,
  findPlugins,
  loadNetworkList,
  parseNetworkList,
  resolveCniPath,
} from "./conflist.ts";
import { type CniCommand, type CniSpawner, execPlugin } from "./exec.ts";
import { type CniResult, cniResultToStatus, parseCniResult } from "./result.ts";

export * from "./errors.ts";
export * from "./conflist.ts";
export * from "./exec.ts";
// The cache's reading side, as libcni's GetNetworkListCachedResult: what ADD
// stored, for CHECK and DEL. Writing it is this module's own business.
export {
  type CniCacheEntry,
  cniCachePath,
  DEFAULT_CNI_CACHE_DIR,
  readCniCache,
  rootlessCniCacheDir,
} from "./cache.ts";
export * from "./result.ts";

/** Options of {@linkcode cniAdd}, {@linkcode cniDel} and {@linkcode cniCheck}. */
export interface CniOptions {
  /** The interface name inside the namespace (CNI_IFNAME); default `eth0`. */
  ifname?: string;
  /** Published ports, host ports resolved; given to plugins with the `portMappings` capability. */
  portMappings?: readonly PortMapping[];
  /** Where the network lists are; default {@linkcode defaultCniConfDir}. */
  confDir?: string;
  /** Where the plugin binaries are; default `$CNI_PATH`, else `/usr/lib/cni:/opt/cni/bin`. */
  cniPath?: string | readonly string[];
  /** The cache dir (results under `results/`); default `/var/lib/cni`. */
  cacheDir?: string;
  /** Extra CNI_ARGS pairs (after `IgnoreUnknown=1`). */
  args?: readonly [string, string][];
  /** How plugins are started; default directly (root). */
  spawn?: CniSpawner;
  /** Per-plugin timeout in milliseconds; default 60 000. */
  timeoutMs?: number;
}

/** What {@linkcode cniAdd} returns. */
export interface CniAddResult {
  /** The final result, validated. */
  result: CniResult;
  /** The sandbox's StatusBlock made from it. */
  status: StatusBlock;
  /** The final result exactly as the last plugin wrote it (what is cached). */
  raw: Record<string, unknown>;
}

/** The portmap plugin's form of a mapping (libcni's `PortMapEntry`). */
export interface CniPortMapEntry {
  /** Host port. */
  hostPort: number;
  /** Port inside the namespace. */
  containerPort: number;
  /** `tcp` or `udp`. */
  protocol: string;
  /** Host address; absent for all. */
  hostIP?: string;
}

const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;

/** `portMappings` in the form plugins take them. */
export function toPortMapEntries(
  mappings: readonly PortMapping[],
): CniPortMapEntry[] {
  return mappings.map((m) => {
    if (!Number.isInteger(m.hostPort) || m.hostPort < 1 || m.hostPort > 65535) {
      throw new InvalidArgumentError(
        `host port ${m.hostPort} for sandbox port ${m.sandboxPort} is not resolved`,
        { hint: "choose free host ports before attaching (resolvePorts)" },
      );
    }
    const entry: CniPortMapEntry = {
      hostPort: m.hostPort,
      containerPort: m.sandboxPort,
      protocol: m.protocol,
    };
    if (m.hostIp !== undefined) entry.hostIP = m.hostIp;
    return entry;
  });
}

function validateIds(containerId: string, ifname: string): void {
  if (!CONTAINER_ID.test(containerId)) {
    throw new InvalidArgumentError(
      `invalid CNI container ID ${JSON.stringify(containerId)}`,
      {
        hint:
          "letters, digits, _, . and -, starting with a letter or digit (specification 1.0.0)",
      },
    );
  }
  if (
    ifname === "" || ifname.length > 15 || ifname === "." ||
    ifname === ".." || /[\/:\s]/.test(ifname)
  ) {
    throw new InvalidArgumentError(
      `invalid interface name ${JSON.stringify(ifname)}`,
      { hint: "at most 15 characters, no /, : or spaces" },
    );
  }
}

/**
 * A plugin's config as it is sent: the plugin's own fields, then the list's
 * `name` and `cniVersion`, the capabilities it asked for under
 * `runtimeConfig`, and `prevResult` (libcni's buildOneConfig).
 */
export function pluginConfig(
  list: CniNetworkList,
  plugin: CniPluginConfig,
  prevResult: Record<string, unknown> | undefined,
  capabilityArgs: Record<string, unknown>,
): Record<string, unknown> {
  const config: Record<string, unknown> = {
    ...plugin,
    name: list.name,
    cniVersion: list.cniVersion,
  };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [capability, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on && capabilityArgs[capability] !== undefined) {
      runtimeConfig[capability] = capabilityArgs[capability];
    }
  }
  if (Object.keys(runtimeConfig).length > 0) {
    config.runtimeConfig = runtimeConfig;
  }
  if (prevResult !== undefined) config.prevResult = prevResult;
  else delete config.prevResult;
  return config;
}

interface Plan {
  list: CniNetworkList;
  binaries: string[];
  cniPath: string[];
  cacheDir: string;
  ifname: string;
  args: [string, string][];
  capabilityArgs: Record<string, unknown>;
}

function argsOf(options: CniOptions): [string, string][] {
  return [["IgnoreUnknown", "1"], ...(options.args ?? [])];
}

function capabilitiesOf(options: CniOptions): Record<string, unknown> {
  return options.portMappings === undefined
    ? {}
    : { portMappings: toPortMapEntries(options.portMappings) };
}

async function runPlugin(
  plan: Plan,
  index: number,
  command: CniCommand,
  netns: string,
  containerId: string,
  prevResult: Record<string, unknown> | undefined,
  options: CniOptions,
): Promise<unknown> {
  const plugin = plan.list.plugins[index]!;
  return await execPlugin({
    binary: plan.binaries[index]!,
    plugin: plugin.type,
    command,
    containerId,
    netns,
    ifname: plan.ifname,
    args: plan.args.map(([k, v]) => `${k}=${v}`).join(";"),
    cniPath: plan.cniPath,
    config: pluginConfig(plan.list, plugin, prevResult, plan.capabilityArgs),
    spawn: options.spawn,
    timeoutMs: options.timeoutMs,
  });
}

/** Whether `version` is at least 0.4.0 (CHECK, and prevResult on DEL). */
function atLeast040(version: string): boolean {
  return version === "0.4.0" || version.startsWith("1.");
}

/**
 * DEL through every plugin in reverse order; every plugin is tried even when
 * one fails. Returns the first error.
 */
async function deleteAll(
  plan: Plan,
  netns: string,
  containerId: string,
  prevResult: Record<string, unknown> | undefined,
  options: CniOptions,
): Promise<unknown> {
  const previous = atLeast040(plan.list.cniVersion) ? prevResult : undefined;
  let first: unknown;
  for (let i = plan.list.plugins.length - 1; i >= 0; i--) {
    try {
      await runPlugin(plan, i, "DEL", netns, containerId, previous, options);
    } catch (error) {
      first ??= error;
    }
  }
  return first;
}

/**
 * Checks, without running anything, that `networkName` exists and validates
 * and that every plugin binary is there; returns the list. For a caller that
 * wants these errors before it creates the namespace.
 */
export function cniValidate(
  networkName: string,
  options: CniOptions = {},
): CniNetworkList {
  const list = loadNetworkList(
    networkName,
    options.confDir ?? defaultCniConfDir(),
  );
  findPlugins(list, resolveCniPath(options.cniPath));
  return list;
}

/**
 * Attaches the network namespace at `netnsPath` to network `networkName` as
 * `containerId` (ADD). The network, its plugins' binaries and the namespace
 * are checked before any plugin runs.
 */
export async function cniAdd(
  netnsPath: string,
  containerId: string,
  networkName: string,
  options: CniOptions = {},
): Promise<CniAddResult> {
  const ifname = options.ifname ?? "eth0";
  validateIds(containerId, ifname);
  const cniPath = resolveCniPath(options.cniPath);
  const list = loadNetworkList(
    networkName,
    options.confDir ?? defaultCniConfDir(),
  );
  const plan: Plan = {
    list,
    binaries: findPlugins(list, cniPath),
    cniPath,
    cacheDir: options.cacheDir ?? DEFAULT_CNI_CACHE_DIR,
    ifname,
    args: argsOf(options),
    capabilityArgs: capabilitiesOf(options),
  };
  getNS(netnsPath).close();
  if (readCniCache(plan.cacheDir, list.name, containerId, ifname)) {
    throw new NsnetError(
      `${containerId} is already attached to CNI network ${list.name} as ${ifname}`,
      { hint: "detach it first (cniDel), or use another interface name" },
    );
  }
  let prevResult: Record<string, unknown> | undefined;
  try {
    for (let i = 0; i < list.plugins.length; i++) {
      const out = await runPlugin(
        plan,
        i,
        "ADD",
        netnsPath,
        containerId,
        prevResult,
        options,
      );
      if (typeof out !== "object" || out === null || Array.isArray(out)) {
        parseCniResult(out, list.plugins[i]!.type); // raises the precise error
      }
      prevResult = out as Record<string, unknown>;
    }
    const last = list.plugins[list.plugins.length - 1]!.type;
    const result = parseCniResult(prevResult, last);
    writeCniCache(plan.cacheDir, {
      network: list.name,
      containerId,
      ifname,
      configBytes: list.bytes,
      cniArgs: plan.args,
      capabilityArgs: plan.capabilityArgs,
      result: prevResult!,
    });
    return { result, status: cniResultToStatus(result), raw: prevResult! };
  } catch (error) {
    const cleanup = await deleteAll(
      plan,
      netnsPath,
      containerId,
      prevResult,
      options,
    );
    if (cleanup !== undefined) {
      warn(
        `cleaning up after the failed ADD on ${list.name}: ${
          (cleanup as Error).message
        }`,
      );
    }
    throw error;
  }
}

function planFromCache(
  networkName: string,
  containerId: string,
  options: CniOptions,
): { plan: Plan; cached: CniCacheEntry | undefined } {
  const ifname = options.ifname ?? "eth0";
  validateIds(containerId, ifname);
  const cniPath = resolveCniPath(options.cniPath);
  const cacheDir = options.cacheDir ?? DEFAULT_CNI_CACHE_DIR;
  const cached = readCniCache(cacheDir, networkName, containerId, ifname);
  let list: CniNetworkList;
  try {
    list = loadNetworkList(networkName, options.confDir ?? defaultCniConfDir());
  } catch (error) {
    if (!(error instanceof NetworkNotFoundError) || cached === undefined) {
      throw error;
    }
    list = parseNetworkList(
      cachedConfigBytes(cached),
      `cache of ${networkName}`,
    );
  }
  const capabilityArgs = options.portMappings !== undefined
    ? capabilitiesOf(options)
    : cached?.capabilityArgs ?? {};
  const plan: Plan = {
    list,
    binaries: findPlugins(list, cniPath),
    cniPath,
    cacheDir,
    ifname,
    args: options.args !== undefined
      ? argsOf(options)
      : cached?.cniArgs ?? argsOf(options),
    capabilityArgs,
  };
  return { plan, cached };
}

/**
 * Detaches `containerId` from network `networkName` (DEL): every plugin in
 * reverse order, with the cached ADD result. `netnsPath` may be undefined
 * when the namespace is already gone (plugins then clean up the host side).
 * Tolerates an attachment that is already (partly) gone, as the plugins do.
 * The cache entry is removed once every plugin succeeded; otherwise the first
 * error is raised and the entry kept for a retry.
 */
export async function cniDel(
  netnsPath: string | undefined,
  containerId: string,
  networkName: string,
  options: CniOptions = {},
): Promise<void> {
  const { plan, cached } = planFromCache(networkName, containerId, options);
  const error = await deleteAll(
    plan,
    netnsPath ?? "",
    containerId,
    cached?.result,
    options,
  );
  if (error !== undefined) throw error;
  removeCniCache(plan.cacheDir, plan.list.name, containerId, plan.ifname);
}

/**
 * Checks `containerId`'s attachment to `networkName` (CHECK): every plugin
 * in order, with the cached ADD result. Raises the first plugin's error.
 * Does nothing when the list sets `disableCheck`; needs cniVersion 0.4.0 or
 * later and a cached result.
 */
export async function cniCheck(
  netnsPath: string,
  containerId: string,
  networkName: string,
  options: CniOptions = {},
): Promise<void> {
  const { plan, cached } = planFromCache(networkName, containerId, options);
  if (!atLeast040(plan.list.cniVersion)) {
    throw new NsnetError(
      `CNI network ${plan.list.name} has cniVersion ${plan.list.cniVersion}; CHECK needs 0.4.0 or later`,
    );
  }
  if (plan.list.disableCheck) return;
  if (cached === undefined) {
    throw new NsnetError(
      `${containerId} is not attached to CNI network ${plan.list.name} as ${plan.ifname} (no cached result)`,
      { hint: "attach it first (cniAdd)" },
    );
  }
  for (let i = 0; i < plan.list.plugins.length; i++) {
    await runPlugin(
      plan,
      i,
      "CHECK",
      netnsPath,
      containerId,
      cached.result,
      options,
    );
  }
}
