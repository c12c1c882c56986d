/**
 * The verbs of the nsnet CNI plugin: ADD, DEL, CHECK, STATUS, GC and
 * VERSION, each taking the checked environment and the raw config and
 * doing what SPEC.md section 2 says, with nsnet's bridge, IPAM store,
 * masquerading, DNAT and tc shaping underneath.
 *
 * An ADD records the attachment before it makes anything, and undoes all
 * of it on a failure. DEL and GC free from the record, so neither needs the
 * container's namespace; both are idempotent.
 *
 * @module
 */

import { NamespaceNotFoundError, NotANamespaceError } from "../../errors.ts";
import { AF } from "../../netlink/constants.ts";
import { listLinks } from "../../netlink/link.ts";
import { NetlinkSocket } from "../../netlink/socket.ts";
import { getNS, type NetNS } from "../../netns/netns.ts";
import {
  enableRouteLocalnet,
  publishPortsDnat,
  unpublishPortsDnat,
} from "../../ports/nftables_dnat.ts";
import {
  type CniEnv,
  LATEST_VERSION,
  parseConfig,
  type PluginConfig,
  SUPPORTED_VERSIONS,
  versionAtLeast,
} from "./config.ts";
import { delegate } from "./delegate.ts";
import { CNI_ERROR, CniError } from "./errors.ts";
import { formatIPNet, parseIPNet } from "./ip.ts";
import {
  masqAddBatch,
  masqDeleteBatch,
  type MasqEntry,
  masqPresent,
  runNft,
} from "./nat.ts";
import {
  attachVeth,
  checkInner,
  deleteIfPresent,
  enableForwarding,
  ensureBridge,
  findLink,
  hostVethName,
  ifbName,
  missingDefaultRoute,
  randomMac,
} from "./net.ts";
import {
  formatResult,
  mergeResults,
  parseResult,
  type PluginResult,
} from "./result.ts";
import { applyBandwidth, checkBandwidth } from "./shaping.ts";
import {
  allocateAddresses,
  attachmentKey,
  type AttachmentRecord,
  freeAddresses,
  type NetworkFile,
  Store,
} from "./store.ts";

/** The nftables table (family `ip`) of published ports. */
export const PORTS_TABLE = "nsnet_cni_ports";

/** How long a verb waits for the IPAM store's lock by default. */
export const DEFAULT_LOCK_TIMEOUT_MS = 20_000;

/** One invocation: what the runtime passed. */
export interface Invocation {
  /** The checked `CNI_*` variables. */
  env: CniEnv;
  /** The config from standard input. */
  raw: Record<string, unknown>;
  /** The whole environment, passed on to a delegated plugin. */
  processEnv: Record<string, string>;
  /** How long to wait for the store's lock (then error 11). */
  lockTimeoutMs?: number;
}

function timeout(inv: Invocation): number {
  const fromConfig = inv.raw.lockTimeoutMs;
  if (typeof fromConfig === "number" && fromConfig > 0) return fromConfig;
  const fromEnv = Number(inv.processEnv.NSNET_CNI_LOCK_TIMEOUT_MS);
  if (Number.isFinite(fromEnv) && fromEnv > 0) return fromEnv;
  return inv.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
}

function openNetns(path: string): NetNS {
  try {
    return getNS(path);
  } catch (error) {
    if (
      error instanceof NamespaceNotFoundError ||
      error instanceof NotANamespaceError
    ) {
      throw new CniError(
        CNI_ERROR.INVALID_ENVIRONMENT,
        `CNI_NETNS ${path} is not a network namespace`,
        (error as Error).message,
      );
    }
    throw error;
  }
}

function prefixOf(address: string): number {
  return Number(address.split("/")[1] ?? (address.includes(":") ? 128 : 32));
}

function networkOf(address: string): string {
  return formatIPNet(parseIPNet(address));
}

function masqEntry(
  record: AttachmentRecord,
  subnets: readonly string[],
): MasqEntry {
  return { chain: `m_${record.hostVeth.slice(3)}`, ips: record.ips, subnets };
}

function portsAddress(record: AttachmentRecord): string {
  const v4 = record.ips.find((ip) => !ip.includes(":"));
  if (v4 === undefined) {
    throw new CniError(
      CNI_ERROR.INVALID_NETWORK_CONFIG,
      "portMappings need an IPv4 address on the container",
      "give the network an IPv4 subnet",
    );
  }
  return v4.split("/")[0]!;
}

/** Whether any other attachment of any network in the store is masqueraded. */
function othersMasqueraded(store: Store, except: AttachmentRecord): boolean {
  return store.allNetworks().some((file) =>
    Object.values(file.attachments).some((r) => r !== except && r.masq)
  );
}

/**
 * Frees what `record` says its ADD made, pieces already gone included; the
 * record goes when everything went. Returns the errors met (it goes on
 * after each).
 */
async function release(
  store: Store,
  file: NetworkFile,
  record: AttachmentRecord,
  host: NetlinkSocket,
  ns?: NetNS,
): Promise<unknown[]> {
  const errors: unknown[] = [];
  const attempt = async (fn: () => unknown): Promise<void> => {
    try {
      await fn();
    } catch (error) {
      errors.push(error);
    }
  };
  if (record.portsId !== undefined) {
    await attempt(() =>
      unpublishPortsDnat(record.portsId!, { table: PORTS_TABLE })
    );
  }
  if (record.masq) {
    const last = !othersMasqueraded(store, record);
    await attempt(() =>
      runNft(
        masqDeleteBatch(masqEntry(record, []), last),
        "removing masquerading",
      )
    );
  }
  if (record.ifb !== undefined) {
    await attempt(() => deleteIfPresent(host, record.ifb!));
  }
  let vethGone = false;
  await attempt(() => {
    deleteIfPresent(host, record.hostVeth);
    vethGone = true;
  });
  if (!vethGone && ns !== undefined) {
    await attempt(() => {
      using inner = NetlinkSocket.open(ns);
      const link = findLink(inner, record.ifname);
      if (link?.kind === "veth") deleteIfPresent(inner, link.index);
    });
  }
  if (errors.length === 0) {
    delete file.attachments[attachmentKey(record.containerId, record.ifname)];
    store.touch(file.network);
    if (Object.keys(file.attachments).length === 0 && file.bridgeCreated) {
      await attempt(() => deleteIfPresent(host, file.bridge));
      file.bridgeCreated = false;
    }
  }
  return errors;
}

/** ADD: the attachment made, its result in the config's version. */
export async function cmdAdd(
  inv: Invocation,
): Promise<Record<string, unknown>> {
  const cfg = parseConfig(inv.raw, inv.env);
  const { env } = inv;
  using ns = openNetns(env.netns);
  {
    using inner = NetlinkSocket.open(ns);
    if (findLink(inner, env.ifname) !== undefined) {
      throw new CniError(
        CNI_ERROR.INTERFACE_EXISTS,
        `interface ${env.ifname} already exists in ${env.netns}`,
        "give another CNI_IFNAME, or DEL the attachment that made it",
      );
    }
  }
  using store = await Store.open(cfg.dataDir, timeout(inv));
  const file = store.network(cfg.name, cfg.bridge);
  file.bridge = cfg.bridge;
  const key = attachmentKey(env.containerId, env.ifname);
  const held = file.attachments[key];
  if (held !== undefined) {
    throw new CniError(
      CNI_ERROR.INTERFACE_EXISTS,
      `container ${env.containerId} is already attached to ${cfg.name} as ${env.ifname} (${
        held.ips.join(", ")
      })`,
      "DEL it first",
    );
  }
  let ipam: PluginResult | undefined;
  if (cfg.delegateIpam !== undefined) {
    try {
      const answer = await delegate(
        cfg.delegateIpam,
        "ADD",
        inv.raw,
        inv.processEnv,
        env.path,
      );
      ipam = parseResult(answer ?? {});
      if (ipam.ips.length === 0) {
        throw new CniError(
          CNI_ERROR.INTERNAL,
          `IPAM plugin ${cfg.delegateIpam} gave no address`,
        );
      }
    } catch (error) {
      await delegate(cfg.delegateIpam, "DEL", inv.raw, inv.processEnv, env.path)
        .catch(() => {});
      throw error;
    }
  }
  const ips = ipam?.ips.map((ip) => ip.address) ??
    allocateAddresses(file, cfg.subnets, cfg.ips);
  const gateways = ipam?.ips.map((ip) => ip.gateway ?? "") ??
    cfg.subnets.map((s) => cfg.isGateway ? s.gatewayText : "");
  const hostVeth = hostVethName(cfg.name, env.containerId, env.ifname);
  const record: AttachmentRecord = {
    containerId: env.containerId,
    ifname: env.ifname,
    netns: env.netns,
    ips,
    gateways,
    hostVeth,
    mac: cfg.mac ?? randomMac(),
    ownIpam: ipam === undefined,
    masq: cfg.ipMasq,
    created: Date.now(),
  };
  if (cfg.portMappings.length > 0) record.portsId = `c${hostVeth.slice(3)}`;
  if (cfg.bandwidth?.egressRate !== undefined) {
    record.ifb = ifbName(cfg.name, env.containerId, env.ifname);
  }
  // Recorded before anything is made: a crash leaves what DEL and GC can free.
  file.attachments[key] = record;
  store.touch(cfg.name);
  store.save();
  const host = NetlinkSocket.open();
  try {
    const mine = await connect(cfg, inv, record, ipam, host, ns, file, store);
    store.save();
    const previous = cfg.prevResult === undefined
      ? undefined
      : parseResult(cfg.prevResult);
    return formatResult(mergeResults(previous, mine), cfg.cniVersion);
  } catch (error) {
    await release(store, file, record, host, ns);
    delete file.attachments[key];
    store.touch(cfg.name);
    try {
      store.save();
    } catch { /* the error that matters is the first */ }
    if (cfg.delegateIpam !== undefined) {
      await delegate(cfg.delegateIpam, "DEL", inv.raw, inv.processEnv, env.path)
        .catch(() => {});
    }
    throw error;
  } finally {
    host.close();
  }
}

async function connect(
  cfg: PluginConfig,
  inv: Invocation,
  record: AttachmentRecord,
  ipam: PluginResult | undefined,
  host: NetlinkSocket,
  ns: NetNS,
  file: NetworkFile,
  store: Store,
): Promise<PluginResult> {
  const gatewayCidrs = record.ips.flatMap((ip, i) =>
    cfg.isGateway && record.gateways[i]
      ? [`${record.gateways[i]}/${prefixOf(ip)}`]
      : []
  );
  const bridge = ensureBridge(host, cfg.bridge, gatewayCidrs, cfg.mtu);
  if (bridge.created) {
    file.bridgeCreated = true;
    store.touch(cfg.name);
    store.save();
  }
  const routes: { dst: string; gw?: string }[] = [];
  if (ipam !== undefined) {
    for (const route of ipam.routes) {
      const family = route.dst.includes(":");
      const gw = route.gw ??
        record.gateways.find((g, i) =>
          g !== "" && record.ips[i]!.includes(":") === family
        );
      routes.push(
        gw === undefined || gw === ""
          ? { dst: route.dst }
          : { dst: route.dst, gw },
      );
    }
  } else if (cfg.isGateway) {
    record.ips.forEach((ip, i) => {
      const gw = record.gateways[i];
      if (!gw) return;
      routes.push({ dst: ip.includes(":") ? "::/0" : "0.0.0.0/0", gw });
    });
  }
  const hostMac = attachVeth(host, {
    hostVeth: record.hostVeth,
    bridgeIndex: bridge.link.index,
    ifname: record.ifname,
    ns,
    mac: record.mac,
    mtu: cfg.mtu,
    addresses: record.ips,
    routes,
    hairpin: cfg.hairpinMode,
  });
  if (cfg.isGateway) {
    if (record.ips.some((ip) => !ip.includes(":"))) enableForwarding(4);
    if (record.ips.some((ip) => ip.includes(":"))) enableForwarding(6);
  }
  if (record.masq) {
    const subnets = cfg.subnets.length > 0
      ? cfg.subnets.map((s) => s.cidr)
      : record.ips.map(networkOf);
    await runNft(masqAddBatch(masqEntry(record, subnets)), "masquerading");
  }
  if (record.portsId !== undefined) {
    const address = portsAddress(record);
    if (
      cfg.portMappings.some((m) =>
        m.hostIP === undefined || m.hostIP.startsWith("127.")
      )
    ) {
      enableRouteLocalnet(cfg.bridge);
    }
    await publishPortsDnat(
      record.portsId,
      address,
      cfg.portMappings.map((m) => ({
        protocol: m.protocol,
        hostIp: m.hostIP,
        hostPort: m.hostPort,
        sandboxPort: m.containerPort,
      })),
      { table: PORTS_TABLE },
    );
  }
  if (cfg.bandwidth !== undefined) {
    applyBandwidth(
      host,
      record.hostVeth,
      record.ifb ?? "",
      cfg.bandwidth,
      cfg.mtu,
    );
  }
  const bridgeMac = findLink(host, cfg.bridge)?.mac;
  void inv;
  const result: PluginResult = {
    interfaces: [
      bridgeMac === undefined
        ? { name: cfg.bridge }
        : { name: cfg.bridge, mac: bridgeMac },
      { name: record.hostVeth, mac: hostMac },
      {
        name: record.ifname,
        mac: record.mac,
        ...(cfg.mtu === undefined ? {} : { mtu: cfg.mtu }),
        sandbox: record.netns,
      },
    ],
    ips: record.ips.map((address, i) =>
      record.gateways[i]
        ? { address, gateway: record.gateways[i], interface: 2 }
        : { address, interface: 2 }
    ),
    routes,
    dns: cfg.dns ?? ipam?.dns ?? {},
  };
  return result;
}

/** DEL: frees what the attachment's ADD made; succeeds when nothing is left. */
export async function cmdDel(inv: Invocation): Promise<void> {
  const cfg = parseConfig(inv.raw, inv.env);
  const { env } = inv;
  let ns: NetNS | undefined;
  if (env.netns !== "") {
    try {
      ns = getNS(env.netns);
    } catch { /* gone: DEL goes on without it */ }
  }
  const errors: unknown[] = [];
  try {
    using store = await Store.open(cfg.dataDir, timeout(inv));
    const file = store.network(cfg.name, cfg.bridge);
    const record = file.attachments[attachmentKey(env.containerId, env.ifname)];
    using host = NetlinkSocket.open();
    if (record === undefined) {
      // Unknown (or a second DEL): a host veth by its name is all there can be.
      deleteIfPresent(
        host,
        hostVethName(cfg.name, env.containerId, env.ifname),
      );
    } else {
      errors.push(...await release(store, file, record, host, ns));
    }
    store.save();
  } finally {
    ns?.close();
  }
  if (cfg.delegateIpam !== undefined) {
    try {
      await delegate(
        cfg.delegateIpam,
        "DEL",
        inv.raw,
        inv.processEnv,
        env.path,
      );
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
}

function readRecord(
  cfg: PluginConfig,
  env: CniEnv,
): AttachmentRecord | undefined {
  try {
    const file = JSON.parse(
      Deno.readTextFileSync(`${cfg.dataDir}/${cfg.name}.json`),
    ) as NetworkFile;
    return file.attachments[attachmentKey(env.containerId, env.ifname)];
  } catch {
    return undefined;
  }
}

/** CHECK: fails with the first thing not as ADD left it. */
export async function cmdCheck(inv: Invocation): Promise<void> {
  const cfg = parseConfig(inv.raw, inv.env);
  const { env } = inv;
  if (!versionAtLeast(cfg.cniVersion, "0.4.0")) {
    throw new CniError(
      CNI_ERROR.INCOMPATIBLE_VERSION,
      `CNI version ${cfg.cniVersion} has no CHECK`,
      "CHECK came with 0.4.0",
    );
  }
  if (cfg.prevResult === undefined) {
    throw new CniError(
      CNI_ERROR.INVALID_NETWORK_CONFIG,
      "CHECK needs prevResult",
      "the runtime passes the result of the attachment's ADD",
    );
  }
  const prev = parseResult(cfg.prevResult);
  const record = readRecord(cfg, env);
  if (record === undefined) {
    throw new CniError(
      CNI_ERROR.UNKNOWN_CONTAINER,
      `container ${env.containerId} has no attachment ${env.ifname} on ${cfg.name}`,
    );
  }
  const fail = (what: string): CniError =>
    new CniError(
      CNI_ERROR.INTERNAL,
      `CHECK of ${env.containerId}/${env.ifname}: ${what}`,
    );
  const index = prev.interfaces.findIndex((i) =>
    i.name === env.ifname && i.sandbox === env.netns
  );
  if (index < 0) {
    throw fail(`prevResult has no interface ${env.ifname} in ${env.netns}`);
  }
  const expected = prev.ips.filter((ip) => ip.interface === index).map((ip) =>
    ip.address
  );
  for (const ip of expected) {
    if (!record.ips.includes(ip)) {
      throw fail(`prevResult's ${ip} is not the attachment's`);
    }
  }
  using ns = openNetns(env.netns);
  const wrong = checkInner(
    ns,
    env.ifname,
    record.ips,
    prev.interfaces[index]!.mac,
  );
  if (wrong !== undefined) throw fail(wrong);
  {
    using host = NetlinkSocket.open();
    const bridge = findLink(host, cfg.bridge);
    if (bridge?.kind !== "bridge") {
      throw fail(`bridge ${cfg.bridge} is missing`);
    }
    const veth = findLink(host, record.hostVeth);
    if (veth === undefined) {
      throw fail(`host veth ${record.hostVeth} is missing`);
    }
    if (veth.master !== bridge.index) {
      throw fail(`${record.hostVeth} is not on ${cfg.bridge}`);
    }
    if ((veth.flags & 1) === 0) throw fail(`${record.hostVeth} is down`);
    if (cfg.bandwidth !== undefined) {
      const missing = checkBandwidth(
        host,
        record.hostVeth,
        record.ifb,
        cfg.bandwidth,
      );
      if (missing !== undefined) throw fail(missing);
    }
  }
  if (record.ownIpam && cfg.isGateway) {
    const families = [
      ...(record.ips.some((ip) => !ip.includes(":")) ? [AF.INET] : []),
      ...(record.ips.some((ip) => ip.includes(":")) ? [AF.INET6] : []),
    ];
    const missing = missingDefaultRoute(ns, families);
    if (missing !== undefined) {
      throw fail(`no IPv${missing === AF.INET ? 4 : 6} default route`);
    }
  }
  if (record.masq && !await masqPresent(masqEntry(record, []))) {
    throw fail("its masquerading rules are missing");
  }
  if (cfg.delegateIpam !== undefined) {
    await delegate(
      cfg.delegateIpam,
      "CHECK",
      inv.raw,
      inv.processEnv,
      env.path,
    );
  }
}

function requireV11(cfg: PluginConfig, verb: string): void {
  if (!versionAtLeast(cfg.cniVersion, "1.1.0")) {
    throw new CniError(
      CNI_ERROR.INCOMPATIBLE_VERSION,
      `CNI version ${cfg.cniVersion} has no ${verb}`,
      `${verb} came with 1.1.0`,
    );
  }
}

/** STATUS: succeeds when an ADD could succeed now, else error 50. */
export async function cmdStatus(inv: Invocation): Promise<void> {
  const cfg = parseConfig(inv.raw, inv.env);
  requireV11(cfg, "STATUS");
  const unavailable = (msg: string, details = ""): CniError =>
    new CniError(CNI_ERROR.NOT_AVAILABLE, msg, details);
  if (Deno.uid() !== 0) {
    throw unavailable(
      "the nsnet plugin needs root",
      "runtimes run CNI plugins as root",
    );
  }
  {
    using host = NetlinkSocket.open();
    const bridge = findLink(host, cfg.bridge);
    if (bridge !== undefined && bridge.kind !== "bridge") {
      throw unavailable(`${cfg.bridge} exists but is not a bridge`);
    }
  }
  let existed = true;
  try {
    Deno.statSync(cfg.dataDir);
  } catch {
    existed = false;
  }
  try {
    Deno.mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
    const probe = `${cfg.dataDir}/.status-${Deno.pid}`;
    Deno.writeTextFileSync(probe, "");
    Deno.removeSync(probe);
  } catch (error) {
    throw unavailable(
      `the IPAM store ${cfg.dataDir} is not writable`,
      (error as Error).message,
    );
  } finally {
    if (!existed) {
      try {
        Deno.removeSync(cfg.dataDir);
      } catch { /* in use */ }
    }
  }
  if (cfg.delegateIpam === undefined) {
    let file: NetworkFile | undefined;
    try {
      file = JSON.parse(
        Deno.readTextFileSync(`${cfg.dataDir}/${cfg.name}.json`),
      );
    } catch { /* none yet: all free */ }
    for (const subnet of cfg.subnets) {
      const free = file === undefined ? 1n : freeAddresses(file, subnet);
      if (free <= 0n) {
        throw unavailable(
          `no free address left in ${subnet.cidr}`,
          `network ${cfg.name}`,
        );
      }
    }
  } else {
    await delegate(
      cfg.delegateIpam,
      "STATUS",
      inv.raw,
      inv.processEnv,
      inv.env.path,
    );
  }
}

/** GC: frees every attachment of the network not in `cni.dev/valid-attachments`. */
export async function cmdGc(inv: Invocation): Promise<void> {
  const cfg = parseConfig(inv.raw, inv.env);
  requireV11(cfg, "GC");
  const keep = new Set(
    (cfg.validAttachments ?? []).map((a) =>
      attachmentKey(a.containerID, a.ifname)
    ),
  );
  const errors: unknown[] = [];
  {
    using store = await Store.open(cfg.dataDir, timeout(inv));
    const file = store.network(cfg.name, cfg.bridge);
    using host = NetlinkSocket.open();
    for (const [key, record] of Object.entries(file.attachments)) {
      if (keep.has(key)) continue;
      errors.push(...await release(store, file, record, host));
    }
    // Host veths of this network's naming on its bridge that no record names.
    const bridge = findLink(host, cfg.bridge);
    if (bridge !== undefined) {
      const known = new Set(
        store.allNetworks().flatMap((f) =>
          Object.values(f.attachments).map((r) => r.hostVeth)
        ),
      );
      for (const link of listLinks(host, { stats: false })) {
        if (
          link.master === bridge.index && /^nsc[0-9a-f]{12}$/.test(link.name) &&
          !known.has(link.name)
        ) {
          try {
            deleteIfPresent(host, link.index);
          } catch (error) {
            errors.push(error);
          }
        }
      }
    }
    store.save();
  }
  if (cfg.delegateIpam !== undefined) {
    try {
      await delegate(
        cfg.delegateIpam,
        "GC",
        inv.raw,
        inv.processEnv,
        inv.env.path,
      );
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
}

/** VERSION: the input's version (or the latest) and every version spoken. */
export function cmdVersion(
  raw: Record<string, unknown>,
): Record<string, unknown> {
  return {
    cniVersion: typeof raw.cniVersion === "string" && raw.cniVersion !== ""
      ? raw.cniVersion
      : LATEST_VERSION,
    supportedVersions: [...SUPPORTED_VERSIONS],
  };
}
