/**
 * ADD results in every version the plugin speaks (SPEC.md, "Result
 * Types"): one internal form, written out per version — 0.3.0, 0.3.1 and
 * 0.4.0 give each IP a `version`, 1.0.0 drops it, 1.1.0 adds interface
 * `mtu` and the route extras — and read back from any of them, for
 * `prevResult` chaining.
 *
 * @module
 */

import { CNI_ERROR, CniError } from "./errors.ts";
import { compareVersions } from "./config.ts";

/** An interface of a result. */
export interface ResultInterface {
  /** Its name. */
  name: string;
  /** Its MAC. */
  mac?: string;
  /** Its MTU (1.1.0). */
  mtu?: number;
  /** The namespace path; absent for the host. */
  sandbox?: string;
  /** A socket path (1.1.0). */
  socketPath?: string;
  /** A PCI id (1.1.0). */
  pciID?: string;
}

/** An address of a result. */
export interface ResultIP {
  /** `ADDRESS/PREFIX`. */
  address: string;
  /** The gateway. */
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

/** A route of a result. */
export interface ResultRoute {
  /** Destination prefix. */
  dst: string;
  /** Next hop. */
  gw?: string;
  /** 1.1.0: path MTU. */
  mtu?: number;
  /** 1.1.0: advertised MSS. */
  advmss?: number;
  /** 1.1.0: priority. */
  priority?: number;
  /** 1.1.0: table. */
  table?: number;
  /** 1.1.0: scope. */
  scope?: number;
}

/** A result, version-independent. */
export interface PluginResult {
  /** Interfaces. */
  interfaces: ResultInterface[];
  /** Addresses. */
  ips: ResultIP[];
  /** Routes. */
  routes: ResultRoute[];
  /** DNS settings, as given. */
  dns: Record<string, unknown>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function bad(what: string): CniError {
  return new CniError(
    CNI_ERROR.INVALID_NETWORK_CONFIG,
    `invalid prevResult: ${what}`,
  );
}

/**
 * Reads a result of any supported version (a `prevResult`, or a delegated
 * IPAM plugin's answer); 0.1.0/0.2.0 results (`ip4`/`ip6`) are refused
 * with error 1.
 */
export function parseResult(value: Record<string, unknown>): PluginResult {
  const version = typeof value.cniVersion === "string" ? value.cniVersion : "";
  if (
    value.ip4 !== undefined || value.ip6 !== undefined ||
    (version !== "" && compareVersions(version, "0.3.0") < 0)
  ) {
    throw new CniError(
      CNI_ERROR.INCOMPATIBLE_VERSION,
      `cannot read a result of CNI version ${version || "0.2.0"}`,
      "results from 0.3.0 on are understood",
    );
  }
  const interfaces: ResultInterface[] = [];
  for (const entry of (value.interfaces ?? []) as unknown[]) {
    if (!isObject(entry) || typeof entry.name !== "string") {
      throw bad("an interface without a name");
    }
    const iface: ResultInterface = { name: entry.name };
    if (typeof entry.mac === "string" && entry.mac !== "") {
      iface.mac = entry.mac;
    }
    if (typeof entry.mtu === "number" && entry.mtu > 0) iface.mtu = entry.mtu;
    if (typeof entry.sandbox === "string" && entry.sandbox !== "") {
      iface.sandbox = entry.sandbox;
    }
    if (typeof entry.socketPath === "string" && entry.socketPath !== "") {
      iface.socketPath = entry.socketPath;
    }
    if (typeof entry.pciID === "string" && entry.pciID !== "") {
      iface.pciID = entry.pciID;
    }
    interfaces.push(iface);
  }
  const ips: ResultIP[] = [];
  for (const entry of (value.ips ?? []) as unknown[]) {
    if (!isObject(entry) || typeof entry.address !== "string") {
      throw bad("an ip without an address");
    }
    const ip: ResultIP = { address: entry.address };
    if (typeof entry.gateway === "string" && entry.gateway !== "") {
      ip.gateway = entry.gateway;
    }
    if (typeof entry.interface === "number") ip.interface = entry.interface;
    ips.push(ip);
  }
  const routes: ResultRoute[] = [];
  for (const entry of (value.routes ?? []) as unknown[]) {
    if (!isObject(entry) || typeof entry.dst !== "string") {
      throw bad("a route without dst");
    }
    const route: ResultRoute = { dst: entry.dst };
    if (typeof entry.gw === "string" && entry.gw !== "") route.gw = entry.gw;
    for (
      const key of ["mtu", "advmss", "priority", "table", "scope"] as const
    ) {
      if (typeof entry[key] === "number") route[key] = entry[key] as number;
    }
    routes.push(route);
  }
  const dns = isObject(value.dns) ? { ...value.dns } : {};
  return { interfaces, ips, routes, dns };
}

/** The IP version of `ADDRESS/PREFIX`. */
function ipVersion(address: string): "4" | "6" {
  return address.includes(":") ? "6" : "4";
}

/** `result` in the shape of CNI version `version`, as JSON-ready data. */
export function formatResult(
  result: PluginResult,
  version: string,
): Record<string, unknown> {
  const v11 = compareVersions(version, "1.1.0") >= 0;
  const v10 = compareVersions(version, "1.0.0") >= 0;
  const out: Record<string, unknown> = { cniVersion: version };
  out.interfaces = result.interfaces.map((iface) => {
    const o: Record<string, unknown> = { name: iface.name };
    if (iface.mac !== undefined) o.mac = iface.mac;
    if (v11 && iface.mtu !== undefined) o.mtu = iface.mtu;
    o.sandbox = iface.sandbox ?? "";
    if (v11 && iface.socketPath !== undefined) o.socketPath = iface.socketPath;
    if (v11 && iface.pciID !== undefined) o.pciID = iface.pciID;
    return o;
  });
  out.ips = result.ips.map((ip) => {
    const o: Record<string, unknown> = {};
    if (!v10) o.version = ipVersion(ip.address);
    if (ip.interface !== undefined) o.interface = ip.interface;
    o.address = ip.address;
    if (ip.gateway !== undefined) o.gateway = ip.gateway;
    return o;
  });
  out.routes = result.routes.map((route) => {
    const o: Record<string, unknown> = { dst: route.dst };
    if (route.gw !== undefined) o.gw = route.gw;
    if (v11) {
      for (
        const key of ["mtu", "advmss", "priority", "table", "scope"] as const
      ) {
        if (route[key] !== undefined) o[key] = route[key];
      }
    }
    return o;
  });
  out.dns = result.dns;
  return out;
}

/**
 * `mine` appended to a previous plugin's result, with the indices of its
 * addresses moved past the interfaces already there.
 */
export function mergeResults(
  previous: PluginResult | undefined,
  mine: PluginResult,
): PluginResult {
  if (previous === undefined) return mine;
  const shift = previous.interfaces.length;
  return {
    interfaces: [...previous.interfaces, ...mine.interfaces],
    ips: [
      ...previous.ips,
      ...mine.ips.map((ip) =>
        ip.interface === undefined
          ? ip
          : { ...ip, interface: ip.interface + shift }
      ),
    ],
    routes: [...previous.routes, ...mine.routes],
    dns: Object.keys(mine.dns).length > 0 ? mine.dns : previous.dns,
  };
}
