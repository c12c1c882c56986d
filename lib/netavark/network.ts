/**
 * Podman's network definitions (`types.Network` of containers/common), as
 * Podman 4 keeps them: one JSON file per network in `/etc/containers/networks`
 * as root, `~/.local/share/containers/storage/networks` rootless. Podman's
 * built-in default network `podman` has no file; it is known here as Podman
 * knows it.
 *
 * @module
 */

import { getEnv } from "../env.ts";
import { InvalidArgumentError, NetworkNotFoundError } from "../errors.ts";
import { parseIP, tryParseIP } from "../netlink/ip_address.ts";
import { isRootless } from "../rootless/detect.ts";

/** One subnet of a Podman network. */
export interface PodmanSubnet {
  /** The subnet in CIDR form, e.g. `10.88.0.0/16`. */
  subnet: string;
  /** The gateway (the bridge's address). */
  gateway?: string;
  /** The part of the subnet addresses are handed out from. */
  "lease_range"?: { "start_ip"?: string; "end_ip"?: string };
}

/** A Podman network definition, field for field as Podman writes it. */
export interface PodmanNetwork {
  /** Its name. */
  name: string;
  /** Its id: 64 hex digits. */
  id: string;
  /** `bridge`, `macvlan` or `ipvlan`. */
  driver: string;
  /** The bridge (or the parent interface of macvlan/ipvlan). */
  "network_interface"?: string;
  /** When it was created (RFC 3339). */
  created?: string;
  /** Its subnets. */
  subnets?: PodmanSubnet[];
  /** Whether it has an IPv6 subnet. */
  "ipv6_enabled": boolean;
  /** No masquerading, no way out. */
  internal: boolean;
  /** Whether aardvark-dns serves names on it. */
  "dns_enabled": boolean;
  /** Driver options (`mtu`, `vlan`, `isolate`…). */
  options?: Record<string, string>;
  /** User labels. */
  labels?: Record<string, string>;
  /** How addresses are assigned: `host-local` (the default), `dhcp` or `none`. */
  "ipam_options"?: Record<string, string>;
}

/** The name of Podman's default network. */
export const PODMAN_DEFAULT_NETWORK_NAME = "podman";

/** Podman's default network, used when no `podman.json` overrides it. */
export const PODMAN_DEFAULT_NETWORK: Readonly<PodmanNetwork> = Object.freeze({
  name: PODMAN_DEFAULT_NETWORK_NAME,
  id: "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9",
  driver: "bridge",
  "network_interface": "podman0",
  subnets: [{ subnet: "10.88.0.0/16", gateway: "10.88.0.1" }],
  "ipv6_enabled": false,
  internal: false,
  "dns_enabled": false,
  "ipam_options": { driver: "host-local" },
});

/** A network definition file that is not a valid Podman network. */
export class InvalidPodmanNetworkError extends InvalidArgumentError {
  /** The file (or `<inline>`). */
  readonly source: string;

  /** Makes the error for `source`, saying what is wrong. */
  constructor(source: string, problem: string) {
    super(`invalid Podman network ${source}: ${problem}`, {
      hint:
        "Podman 4 writes these files; compare with `podman network inspect`",
    });
    this.name = "InvalidPodmanNetworkError";
    this.source = source;
  }
}

/**
 * Where Podman keeps network definitions for the calling user: as root
 * `/etc/containers/networks`, rootless
 * `$XDG_DATA_HOME/containers/storage/networks` (`~/.local/share/…`).
 */
export function defaultPodmanNetworksDir(
  rootless: boolean = isRootless(),
): string {
  const override = getEnv("NSNET_PODMAN_NETWORKS_DIR");
  if (override !== undefined) return override;
  if (!rootless) return "/etc/containers/networks";
  const data = getEnv("XDG_DATA_HOME") ??
    `${getEnv("HOME") ?? ""}/.local/share`;
  return `${data}/containers/storage/networks`;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const ID = /^[0-9a-f]{64}$/;
const DRIVERS = ["bridge", "macvlan", "ipvlan"];

function isRecordOfStrings(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === "string");
}

function checkSubnet(source: string, value: unknown): PodmanSubnet {
  if (typeof value !== "object" || value === null) {
    throw new InvalidPodmanNetworkError(source, "a subnet is not an object");
  }
  const s = value as Record<string, unknown>;
  const match = typeof s.subnet === "string"
    ? /^([^/]+)\/(\d{1,3})$/.exec(s.subnet)
    : null;
  const ip = match ? tryParseIP(match[1]!) : undefined;
  if (!match || !ip || Number(match[2]) > ip.bytes.length * 8) {
    throw new InvalidPodmanNetworkError(
      source,
      `subnet ${JSON.stringify(s.subnet)} is not in CIDR form`,
    );
  }
  if (s.gateway !== undefined) {
    const gateway = typeof s.gateway === "string"
      ? tryParseIP(s.gateway)
      : undefined;
    if (!gateway || gateway.bytes.length !== ip.bytes.length) {
      throw new InvalidPodmanNetworkError(
        source,
        `gateway ${
          JSON.stringify(s.gateway)
        } of ${s.subnet} is not an address of its family`,
      );
    }
  }
  return value as PodmanSubnet;
}

/**
 * Checks that `value` is a Podman network definition (name, id, driver,
 * subnets in CIDR form with gateways of their family, booleans, string maps)
 * and returns it typed. `source` names it in errors.
 */
export function validatePodmanNetwork(
  value: unknown,
  source = "<inline>",
): PodmanNetwork {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidPodmanNetworkError(source, "not a JSON object");
  }
  const n = value as Record<string, unknown>;
  if (typeof n.name !== "string" || !NAME.test(n.name)) {
    throw new InvalidPodmanNetworkError(
      source,
      `name ${JSON.stringify(n.name)} is not a valid network name`,
    );
  }
  if (typeof n.id !== "string" || !ID.test(n.id)) {
    throw new InvalidPodmanNetworkError(source, "id is not 64 hex digits");
  }
  if (typeof n.driver !== "string" || !DRIVERS.includes(n.driver)) {
    throw new InvalidPodmanNetworkError(
      source,
      `driver ${JSON.stringify(n.driver)} is not one of ${DRIVERS.join(", ")}`,
    );
  }
  if (
    n.network_interface !== undefined &&
    (typeof n.network_interface !== "string" || n.network_interface === "" ||
      new TextEncoder().encode(n.network_interface).length > 15)
  ) {
    throw new InvalidPodmanNetworkError(
      source,
      `network_interface ${
        JSON.stringify(n.network_interface)
      } is not an interface name`,
    );
  }
  for (const key of ["ipv6_enabled", "internal", "dns_enabled"]) {
    if (typeof n[key] !== "boolean") {
      throw new InvalidPodmanNetworkError(source, `${key} is not a boolean`);
    }
  }
  if (n.subnets !== undefined && n.subnets !== null) {
    if (!Array.isArray(n.subnets)) {
      throw new InvalidPodmanNetworkError(source, "subnets is not a list");
    }
    for (const s of n.subnets) checkSubnet(source, s);
  }
  for (const key of ["options", "labels", "ipam_options"]) {
    if (
      n[key] !== undefined && n[key] !== null && !isRecordOfStrings(n[key])
    ) {
      throw new InvalidPodmanNetworkError(
        source,
        `${key} is not a map of strings`,
      );
    }
  }
  return value as PodmanNetwork;
}

/** Parses and validates the JSON text of one network definition. */
export function parsePodmanNetwork(
  text: string,
  source = "<inline>",
): PodmanNetwork {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidPodmanNetworkError(source, `not JSON (${error})`);
  }
  return validatePodmanNetwork(value, source);
}

/** Where to look for network definitions. */
export interface PodmanNetworkStoreOptions {
  /** The directory; default {@linkcode defaultPodmanNetworksDir}. */
  dir?: string;
}

function readDefinitions(dir: string): PodmanNetwork[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return entries
    .filter((e) => e.isFile && e.name.endsWith(".json"))
    .map((e) => {
      const path = `${dir}/${e.name}`;
      return parsePodmanNetwork(Deno.readTextFileSync(path), path);
    });
}

/**
 * Every network Podman would list from `dir`, sorted by name, the default
 * `podman` network included unless a file defines it. An invalid file is an
 * error (Podman skips it with a warning; here nothing is guessed).
 */
export function listPodmanNetworks(
  options: PodmanNetworkStoreOptions = {},
): PodmanNetwork[] {
  const dir = options.dir ?? defaultPodmanNetworksDir();
  const networks = readDefinitions(dir);
  const seen = new Set<string>();
  for (const network of networks) {
    if (seen.has(network.name)) {
      throw new InvalidPodmanNetworkError(
        dir,
        `network ${network.name} is defined twice`,
      );
    }
    seen.add(network.name);
  }
  if (!seen.has(PODMAN_DEFAULT_NETWORK_NAME)) {
    networks.push(structuredClone(PODMAN_DEFAULT_NETWORK) as PodmanNetwork);
  }
  return networks.sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0
  );
}

/** The network named `name` in `dir` (its `NAME.json`, else any file naming it). */
export function getPodmanNetwork(
  name: string,
  options: PodmanNetworkStoreOptions = {},
): PodmanNetwork {
  const dir = options.dir ?? defaultPodmanNetworksDir();
  const path = `${dir}/${name}.json`;
  try {
    const network = parsePodmanNetwork(Deno.readTextFileSync(path), path);
    if (network.name === name) return network;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const found = listPodmanNetworks({ dir }).find((n) => n.name === name);
  if (found === undefined) {
    throw new NetworkNotFoundError(name, {
      backend: "netavark",
      dir,
      message: `no Podman network named ${JSON.stringify(name)} in ${dir}`,
      hint:
        "create it with `podman network create`, or give the directory that holds it",
    });
  }
  return found;
}

/** The first IPv4 subnet of `network` with its gateway, as netavark's host-local IPAM needs. */
export function ipv4Subnet(
  network: PodmanNetwork,
): { subnet: string; gateway: string } | undefined {
  for (const s of network.subnets ?? []) {
    const base = s.subnet.split("/")[0]!;
    if (parseIP(base).bytes.length !== 4 || s.gateway === undefined) continue;
    return { subnet: s.subnet, gateway: s.gateway };
  }
  return undefined;
}
