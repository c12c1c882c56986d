/**
 * CNI results (specification 1.0.0, also the 0.3.x/0.4.0 shape, which only
 * adds `ips[].version`): validation into a typed result, and the conversion
 * into the sandbox's StatusBlock as Podman's `CNIResultToStatus` does it.
 *
 * @module
 */

import type { NetAddress, NetInterface, StatusBlock } from "../inspect.ts";
import { CniPluginError } from "./errors.ts";

/** An interface a plugin made or touched. */
export interface CniInterface {
  /** Its name. */
  name: string;
  /** Its MAC address, if any. */
  mac?: string;
  /** Its MTU, if given. */
  mtu?: number;
  /** The namespace it is in; empty or absent for the host's. */
  sandbox?: string;
}

/** An address given to an interface. */
export interface CniIPConfig {
  /** The address with its prefix length, e.g. `10.123.0.2/24`. */
  address: string;
  /** The gateway, if any. */
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

/** A route. */
export interface CniRoute {
  /** The destination, e.g. `0.0.0.0/0`. */
  dst: string;
  /** The next hop, if any. */
  gw?: string;
}

/** DNS settings. */
export interface CniDNS {
  /** Name servers. */
  nameservers?: string[];
  /** The local domain. */
  domain?: string;
  /** Search domains. */
  search?: string[];
  /** resolver options. */
  options?: string[];
}

/** A validated ADD result. */
export interface CniResult {
  /** The version the result is in. */
  cniVersion: string;
  /** Interfaces. */
  interfaces: CniInterface[];
  /** Addresses. */
  ips: CniIPConfig[];
  /** Routes. */
  routes: CniRoute[];
  /** DNS settings. */
  dns: CniDNS;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function strings(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === "string")
    ? value
    : undefined;
}

/**
 * Validates what the last plugin of an ADD returned. A malformed result
 * raises {@linkcode CniPluginError} (code 999) naming `plugin`.
 */
export function parseCniResult(value: unknown, plugin = "cni"): CniResult {
  const bad = (what: string): CniPluginError =>
    new CniPluginError(plugin, "ADD", {
      code: 999,
      msg: `returned an invalid result: ${what}`,
    });
  if (!isObject(value)) throw bad("not an object");
  if (typeof value.cniVersion !== "string") throw bad("no cniVersion");
  const interfaces: CniInterface[] = [];
  for (const entry of (value.interfaces ?? []) as unknown[]) {
    if (!isObject(entry) || typeof entry.name !== "string") {
      throw bad("an interface without a name");
    }
    const iface: CniInterface = { name: entry.name };
    if (typeof entry.mac === "string") iface.mac = entry.mac;
    if (typeof entry.mtu === "number") iface.mtu = entry.mtu;
    if (typeof entry.sandbox === "string") iface.sandbox = entry.sandbox;
    interfaces.push(iface);
  }
  const ips: CniIPConfig[] = [];
  for (const entry of (value.ips ?? []) as unknown[]) {
    if (!isObject(entry) || typeof entry.address !== "string") {
      throw bad("an ip without an address");
    }
    const ip: CniIPConfig = { address: entry.address };
    if (typeof entry.gateway === "string") ip.gateway = entry.gateway;
    if (typeof entry.interface === "number") {
      if (
        !Number.isInteger(entry.interface) || entry.interface < 0 ||
        entry.interface >= interfaces.length
      ) {
        throw bad(`interface index ${entry.interface} out of range`);
      }
      ip.interface = entry.interface;
    }
    ips.push(ip);
  }
  const routes: CniRoute[] = [];
  for (const entry of (value.routes ?? []) as unknown[]) {
    if (!isObject(entry) || typeof entry.dst !== "string") {
      throw bad("a route without dst");
    }
    routes.push(
      typeof entry.gw === "string"
        ? { dst: entry.dst, gw: entry.gw }
        : { dst: entry.dst },
    );
  }
  const dns: CniDNS = {};
  if (isObject(value.dns)) {
    const { nameservers, domain, search, options } = value.dns;
    if (strings(nameservers)) dns.nameservers = strings(nameservers);
    if (typeof domain === "string") dns.domain = domain;
    if (strings(search)) dns.search = strings(search);
    if (strings(options)) dns.options = strings(options);
  }
  return { cniVersion: value.cniVersion, interfaces, ips, routes, dns };
}

/** Go's net.HardwareAddr text: lower case; `""` when there is none. */
function normalizeMac(mac: string | undefined): string {
  return (mac ?? "").toLowerCase();
}

/**
 * The StatusBlock of a result, as Podman's CNI backend makes it: only
 * interfaces inside the sandbox (those with `sandbox` set), each with the
 * addresses whose `interface` points at it, gateways as given. Keys sorted,
 * empty parts left out, as Go's JSON would.
 */
export function cniResultToStatus(result: CniResult): StatusBlock {
  const interfaces: Record<string, NetInterface> = {};
  result.interfaces.forEach((iface, index) => {
    if (!iface.sandbox) return;
    const subnets: NetAddress[] = result.ips
      .filter((ip) => ip.interface === index)
      .map((ip) =>
        ip.gateway === undefined
          ? { ipnet: ip.address }
          : { ipnet: ip.address, gateway: ip.gateway }
      );
    interfaces[iface.name] = subnets.length > 0
      ? { subnets, "mac_address": normalizeMac(iface.mac) }
      : { "mac_address": normalizeMac(iface.mac) };
  });
  const names = Object.keys(interfaces).sort();
  if (names.length === 0) return {};
  return {
    interfaces: Object.fromEntries(names.map((n) => [n, interfaces[n]!])),
  };
}
