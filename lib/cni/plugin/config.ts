/**
 * The plugin's side of the protocol's input: the CNI versions it speaks,
 * the `CNI_*` environment, and the network config it reads from standard
 * input (the keys `bridge`, `subnets`, `gateway`, `mtu`, `isGateway`,
 * `ipMasq`, `hairpinMode`, `dataDir`, `ipam`, `dns`, `runtimeConfig`,
 * `prevResult`, `cni.dev/valid-attachments`), checked into a typed config
 * or refused with the specification's error code.
 *
 * @module
 */

import { CNI_ERROR, CniError } from "./errors.ts";
import {
  formatIPNet,
  formatIPNumber,
  hostRange,
  type IPNet,
  type IPNumber,
  netContains,
  parseIPNet,
  parseIPNumber,
} from "./ip.ts";

/** The versions of the specification the plugin speaks, oldest first. */
export const SUPPORTED_VERSIONS: readonly string[] = Object.freeze([
  "0.3.0",
  "0.3.1",
  "0.4.0",
  "1.0.0",
  "1.1.0",
]);

/** The newest supported version. */
export const LATEST_VERSION = "1.1.0";

/** The plugin's default IPAM store (kept across restarts, as host-local's). */
export const DEFAULT_DATA_DIR = "/var/lib/cni/nsnet";

/** The bridge used when the config names none. */
export const DEFAULT_BRIDGE = "nscni0";

/** Compares two `X.Y.Z` versions: negative, 0 or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether `version` is at least `minimum`. */
export function versionAtLeast(version: string, minimum: string): boolean {
  return compareVersions(version, minimum) >= 0;
}

/** The verbs of the protocol. */
export type CniVerb = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC" | "VERSION";

const VERBS: readonly string[] = [
  "ADD",
  "DEL",
  "CHECK",
  "STATUS",
  "GC",
  "VERSION",
];

/** The protocol parameters from the environment. */
export interface CniEnv {
  /** CNI_COMMAND. */
  command: CniVerb;
  /** CNI_CONTAINERID ("" when not needed and not given). */
  containerId: string;
  /** CNI_NETNS ("" when not given). */
  netns: string;
  /** CNI_IFNAME ("" when not needed and not given). */
  ifname: string;
  /** CNI_ARGS, split into keys and values. */
  args: Record<string, string>;
  /** CNI_PATH, split. */
  path: string[];
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Reads and checks the `CNI_*` variables the verb needs; a missing or
 * invalid one is error 4 naming it.
 */
export function parseEnv(get: (name: string) => string | undefined): CniEnv {
  const command = get("CNI_COMMAND") ?? "";
  if (!VERBS.includes(command)) {
    throw new CniError(
      CNI_ERROR.INVALID_ENVIRONMENT,
      `invalid CNI_COMMAND ${JSON.stringify(command)}`,
      `one of ${VERBS.join(", ")}`,
    );
  }
  const verb = command as CniVerb;
  const required: string[] = verb === "ADD" || verb === "CHECK"
    ? ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]
    : verb === "DEL"
    ? ["CNI_CONTAINERID", "CNI_IFNAME"]
    : [];
  const missing = required.filter((name) => (get(name) ?? "") === "");
  if (missing.length > 0) {
    throw new CniError(
      CNI_ERROR.INVALID_ENVIRONMENT,
      `missing environment variables: ${missing.join(", ")}`,
      `${verb} needs ${required.join(", ")}`,
    );
  }
  const containerId = get("CNI_CONTAINERID") ?? "";
  if (containerId !== "" && !CONTAINER_ID.test(containerId)) {
    throw new CniError(
      CNI_ERROR.INVALID_ENVIRONMENT,
      `invalid CNI_CONTAINERID ${JSON.stringify(containerId)}`,
      "it starts with a letter or digit, followed by letters, digits, '_', '.' or '-'",
    );
  }
  const ifname = get("CNI_IFNAME") ?? "";
  if (
    ifname !== "" &&
    (ifname.length > 15 || /[/\s:]/.test(ifname) || ifname === "." ||
      ifname === "..")
  ) {
    throw new CniError(
      CNI_ERROR.INVALID_ENVIRONMENT,
      `invalid CNI_IFNAME ${JSON.stringify(ifname)}`,
      "an interface name has 1 to 15 characters, no '/', ':' or whitespace",
    );
  }
  const args: Record<string, string> = {};
  for (const pair of (get("CNI_ARGS") ?? "").split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new CniError(
        CNI_ERROR.INVALID_ENVIRONMENT,
        `invalid CNI_ARGS pair ${JSON.stringify(pair)}`,
        "CNI_ARGS is KEY=VALUE pairs separated by ';'",
      );
    }
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const path = (get("CNI_PATH") ?? "").split(":").filter((p) => p !== "");
  return {
    command: verb,
    containerId,
    netns: get("CNI_NETNS") ?? "",
    ifname,
    args,
    path,
  };
}

/** One subnet addresses come from. */
export interface SubnetConfig {
  /** The network. */
  net: IPNet;
  /** Its canonical text. */
  cidr: string;
  /** The gateway (the bridge's address when `isGateway`). */
  gateway: IPNumber;
  /** Its text. */
  gatewayText: string;
  /** The first address handed out. */
  rangeStart: bigint;
  /** The last address handed out. */
  rangeEnd: bigint;
}

/** A port mapping (`portMappings` capability). */
export interface PortMappingArg {
  /** The host port. */
  hostPort: number;
  /** The container port. */
  containerPort: number;
  /** `tcp` or `udp`. */
  protocol: "tcp" | "udp";
  /** The host address, if bound to one. */
  hostIP?: string;
}

/** Bandwidth limits (`bandwidth` capability): rates in bit/s, bursts in bits. */
export interface BandwidthArg {
  /** Rate of traffic into the container. */
  ingressRate?: number;
  /** Its burst. */
  ingressBurst?: number;
  /** Rate of traffic out of the container. */
  egressRate?: number;
  /** Its burst. */
  egressBurst?: number;
}

/** An attachment GC is told to keep. */
export interface ValidAttachment {
  /** CNI_CONTAINERID of its ADD. */
  containerID: string;
  /** CNI_IFNAME of its ADD. */
  ifname: string;
}

/** The checked network config of one invocation. */
export interface PluginConfig {
  /** The protocol version of the invocation. */
  cniVersion: string;
  /** The network's name. */
  name: string;
  /** The plugin type (`nsnet`). */
  type: string;
  /** The bridge. */
  bridge: string;
  /** The subnets (one address from each); empty when IPAM is delegated. */
  subnets: SubnetConfig[];
  /** MTU of the bridge and the veths. */
  mtu?: number;
  /** The bridge holds the gateway address and sandboxes route through it (default true). */
  isGateway: boolean;
  /** Masquerade traffic leaving the subnets (default false). */
  ipMasq: boolean;
  /** Hairpin mode on the bridge port (default false). */
  hairpinMode: boolean;
  /** The IPAM store. */
  dataDir: string;
  /** The IPAM plugin to delegate to, when `ipam.type` names one other than nsnet. */
  delegateIpam?: string;
  /** DNS settings for the result. */
  dns?: Record<string, unknown>;
  /** Port mappings asked for. */
  portMappings: PortMappingArg[];
  /** Bandwidth limits asked for. */
  bandwidth?: BandwidthArg;
  /** Addresses asked for (`ips` capability, `args.cni.ips`, CNI_ARGS IP). */
  ips: string[];
  /** The MAC asked for (`mac` capability, CNI_ARGS MAC). */
  mac?: string;
  /** The previous plugin's result, when chained. */
  prevResult?: Record<string, unknown>;
  /** GC: the attachments to keep. */
  validAttachments?: ValidAttachment[];
  /** The config as it came (passed on to a delegated plugin). */
  raw: Record<string, unknown>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(msg: string, details = ""): CniError {
  return new CniError(CNI_ERROR.INVALID_NETWORK_CONFIG, msg, details);
}

/** Parses standard input as JSON; error 6 when it is not a JSON object. */
export function decodeConfig(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CniError(
      CNI_ERROR.DECODING_FAILURE,
      "the network config on standard input is not JSON",
      (error as Error).message,
    );
  }
  if (!isObject(value)) {
    throw new CniError(
      CNI_ERROR.DECODING_FAILURE,
      "the network config on standard input is not a JSON object",
    );
  }
  return value;
}

/** The config's `cniVersion`, checked against {@linkcode SUPPORTED_VERSIONS} (error 1). */
export function configVersion(raw: Record<string, unknown>): string {
  const version = raw.cniVersion;
  if (typeof version !== "string" || version === "") {
    throw new CniError(
      CNI_ERROR.INCOMPATIBLE_VERSION,
      "the network config has no cniVersion",
      `nsnet supports ${SUPPORTED_VERSIONS.join(", ")}`,
    );
  }
  if (!SUPPORTED_VERSIONS.includes(version)) {
    throw new CniError(
      CNI_ERROR.INCOMPATIBLE_VERSION,
      `incompatible CNI version ${version}`,
      `nsnet supports ${SUPPORTED_VERSIONS.join(", ")}`,
    );
  }
  return version;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MAC = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

function bool(
  raw: Record<string, unknown>,
  key: string,
  fallback: boolean,
): boolean {
  const value = raw[key];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw invalid(`${key} must be true or false, not ${JSON.stringify(value)}`);
  }
  return value;
}

function parseSubnets(
  raw: Record<string, unknown>,
): SubnetConfig[] {
  const list = raw.subnets;
  if (!Array.isArray(list) || list.length === 0) {
    throw invalid(
      "subnets is missing",
      'give "subnets": ["10.88.0.0/16", "fd00:88::/64"] (or an "ipam" section naming an IPAM plugin)',
    );
  }
  const gatewayText = raw.gateway;
  if (gatewayText !== undefined && typeof gatewayText !== "string") {
    throw invalid("gateway must be an IP address string");
  }
  let gatewayUsed = gatewayText === undefined;
  const subnets: SubnetConfig[] = [];
  for (const entry of list) {
    const spec = typeof entry === "string" ? { subnet: entry } : entry;
    if (!isObject(spec) || typeof spec.subnet !== "string") {
      throw invalid(
        `invalid subnets entry ${JSON.stringify(entry)}`,
        'an entry is "CIDR" or {"subnet": "CIDR", "gateway"?, "rangeStart"?, "rangeEnd"?}',
      );
    }
    let net: IPNet;
    try {
      net = parseIPNet(spec.subnet);
    } catch (error) {
      throw invalid(
        `invalid subnet ${JSON.stringify(spec.subnet)}`,
        (error as Error).message,
      );
    }
    const { first, last } = hostRange(net);
    if (last - first < 1n) {
      throw invalid(
        `subnet ${spec.subnet} is too small`,
        "it needs room for a gateway and a container",
      );
    }
    const ipOf = (key: string): IPNumber | undefined => {
      const value = spec[key] ??
        (key === "gateway" && typeof gatewayText === "string" &&
            netContains(net, safeIP(gatewayText))
          ? gatewayText
          : undefined);
      if (value === undefined) return undefined;
      if (typeof value !== "string") {
        throw invalid(`${key} must be an IP address string`);
      }
      let ip: IPNumber;
      try {
        ip = parseIPNumber(value);
      } catch {
        throw invalid(`invalid ${key} ${JSON.stringify(value)}`);
      }
      if (!netContains(net, ip)) {
        throw invalid(`${key} ${value} is not in subnet ${formatIPNet(net)}`);
      }
      if (key === "gateway" && value === gatewayText) gatewayUsed = true;
      return ip;
    };
    const gateway = ipOf("gateway") ?? { version: net.version, value: first };
    const start = ipOf("rangeStart")?.value ?? first;
    const end = ipOf("rangeEnd")?.value ?? last;
    if (start > end) {
      throw invalid(`rangeStart is after rangeEnd in ${spec.subnet}`);
    }
    subnets.push({
      net,
      cidr: formatIPNet(net),
      gateway,
      gatewayText: formatIPNumber(gateway.version, gateway.value),
      rangeStart: start < first ? first : start,
      rangeEnd: end > last ? last : end,
    });
  }
  if (!gatewayUsed) {
    throw invalid(`gateway ${gatewayText} is in none of the subnets`);
  }
  const cidrs = new Set(subnets.map((s) => s.cidr));
  if (cidrs.size !== subnets.length) throw invalid("a subnet is listed twice");
  return subnets;
}

function safeIP(text: string): IPNumber {
  try {
    return parseIPNumber(text);
  } catch {
    return { version: 4, value: -1n };
  }
}

function parsePortMappings(value: unknown): PortMappingArg[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw invalid("runtimeConfig.portMappings must be a list");
  }
  return value.map((entry) => {
    if (!isObject(entry)) {
      throw invalid(`invalid port mapping ${JSON.stringify(entry)}`);
    }
    const port = (key: string): number => {
      const p = entry[key];
      if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 65535) {
        throw invalid(
          `invalid ${key} in port mapping ${JSON.stringify(entry)}`,
        );
      }
      return p;
    };
    const protocol = (entry.protocol ?? "tcp") as string;
    if (
      typeof protocol !== "string" ||
      !["tcp", "udp"].includes(protocol.toLowerCase())
    ) {
      throw invalid(
        `invalid protocol in port mapping ${JSON.stringify(entry)}`,
        "tcp or udp",
      );
    }
    const mapping: PortMappingArg = {
      hostPort: port("hostPort"),
      containerPort: port("containerPort"),
      protocol: protocol.toLowerCase() as "tcp" | "udp",
    };
    if (typeof entry.hostIP === "string" && entry.hostIP !== "") {
      mapping.hostIP = entry.hostIP;
    }
    return mapping;
  });
}

function parseBandwidth(value: unknown): BandwidthArg | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw invalid("bandwidth must be an object");
  const out: BandwidthArg = {};
  for (
    const key of [
      "ingressRate",
      "ingressBurst",
      "egressRate",
      "egressBurst",
    ] as const
  ) {
    const v = value[key];
    if (v === undefined || v === 0) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw invalid(`bandwidth.${key} must be a non-negative number`);
    }
    out[key] = v;
  }
  for (const dir of ["ingress", "egress"] as const) {
    const rate = out[`${dir}Rate`];
    const burst = out[`${dir}Burst`];
    if ((rate === undefined) !== (burst === undefined)) {
      throw invalid(`bandwidth: ${dir}Rate and ${dir}Burst go together`);
    }
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function parseIps(raw: Record<string, unknown>, env: CniEnv): string[] {
  const runtime = isObject(raw.runtimeConfig) ? raw.runtimeConfig : {};
  const args = isObject(raw.args) && isObject(raw.args.cni) ? raw.args.cni : {};
  const list = runtime.ips ?? args.ips;
  let ips: unknown[] = [];
  if (list !== undefined && list !== null) {
    if (!Array.isArray(list)) throw invalid("ips must be a list of addresses");
    ips = list;
  } else if (env.args.IP !== undefined) {
    ips = env.args.IP.split(",");
  }
  return ips.map((ip) => {
    if (typeof ip !== "string") {
      throw invalid(`invalid requested ip ${JSON.stringify(ip)}`);
    }
    return ip;
  });
}

/** Checks the whole config of an invocation (after {@linkcode configVersion}). */
export function parseConfig(
  raw: Record<string, unknown>,
  env: CniEnv,
): PluginConfig {
  const cniVersion = configVersion(raw);
  const name = raw.name;
  if (typeof name !== "string" || !NAME.test(name)) {
    throw invalid(
      `invalid network name ${JSON.stringify(name)}`,
      "a name starts with a letter or digit, followed by letters, digits, '_', '.' or '-'",
    );
  }
  const type = typeof raw.type === "string" ? raw.type : "nsnet";
  const bridge = raw.bridge ?? DEFAULT_BRIDGE;
  if (
    typeof bridge !== "string" || bridge.length === 0 || bridge.length > 15 ||
    /[/\s:]/.test(bridge)
  ) {
    throw invalid(
      `invalid bridge name ${JSON.stringify(bridge)}`,
      "1 to 15 characters, no '/', ':' or whitespace",
    );
  }
  let mtu: number | undefined;
  if (raw.mtu !== undefined) {
    if (
      typeof raw.mtu !== "number" || !Number.isInteger(raw.mtu) ||
      raw.mtu < 68 || raw.mtu > 65535
    ) {
      throw invalid(
        `invalid mtu ${JSON.stringify(raw.mtu)}`,
        "an MTU is 68 to 65535",
      );
    }
    mtu = raw.mtu;
  }
  const dataDir = raw.dataDir ?? DEFAULT_DATA_DIR;
  if (typeof dataDir !== "string" || !dataDir.startsWith("/")) {
    throw invalid(
      `dataDir must be an absolute path, not ${JSON.stringify(dataDir)}`,
    );
  }
  let delegateIpam: string | undefined;
  if (raw.ipam !== undefined) {
    if (!isObject(raw.ipam)) throw invalid("ipam must be an object");
    const t = raw.ipam.type;
    if (
      t !== undefined && (typeof t !== "string" || t === "" || t.includes("/"))
    ) {
      throw invalid(`invalid ipam type ${JSON.stringify(t)}`);
    }
    if (typeof t === "string" && t !== "nsnet") delegateIpam = t;
  }
  const subnets = delegateIpam === undefined ? parseSubnets(raw) : [];
  const runtime = raw.runtimeConfig;
  if (runtime !== undefined && !isObject(runtime)) {
    throw invalid("runtimeConfig must be an object");
  }
  const rc = runtime ?? {};
  let mac: string | undefined;
  const macValue = rc.mac ?? env.args.MAC;
  if (macValue !== undefined) {
    if (typeof macValue !== "string" || !MAC.test(macValue)) {
      throw invalid(
        `invalid mac ${JSON.stringify(macValue)}`,
        "six hex pairs separated by ':'",
      );
    }
    if ((parseInt(macValue.slice(0, 2), 16) & 1) === 1) {
      throw invalid(`mac ${macValue} is a multicast address`);
    }
    mac = macValue.toLowerCase();
  }
  let prevResult: Record<string, unknown> | undefined;
  if (raw.prevResult !== undefined && raw.prevResult !== null) {
    if (!isObject(raw.prevResult)) {
      throw invalid("prevResult must be an object");
    }
    prevResult = raw.prevResult;
  }
  let validAttachments: ValidAttachment[] | undefined;
  const valid = raw["cni.dev/valid-attachments"];
  if (valid !== undefined && valid !== null) {
    if (!Array.isArray(valid)) {
      throw invalid("cni.dev/valid-attachments must be a list");
    }
    validAttachments = valid.map((entry) => {
      if (
        !isObject(entry) || typeof entry.containerID !== "string" ||
        typeof entry.ifname !== "string"
      ) {
        throw invalid(
          `invalid valid attachment ${JSON.stringify(entry)}`,
          'each is {"containerID": ID, "ifname": NAME}',
        );
      }
      return { containerID: entry.containerID, ifname: entry.ifname };
    });
  }
  let dns: Record<string, unknown> | undefined;
  if (raw.dns !== undefined) {
    if (!isObject(raw.dns)) throw invalid("dns must be an object");
    dns = raw.dns;
  }
  return {
    cniVersion,
    name,
    type,
    bridge,
    subnets,
    mtu,
    isGateway: bool(raw, "isGateway", true),
    ipMasq: bool(raw, "ipMasq", false),
    hairpinMode: bool(raw, "hairpinMode", false),
    dataDir,
    delegateIpam,
    dns,
    portMappings: parsePortMappings(rc.portMappings),
    bandwidth: parseBandwidth(rc.bandwidth ?? raw.bandwidth),
    ips: parseIps(raw, env),
    mac,
    prevResult,
    validAttachments,
    raw,
  };
}
