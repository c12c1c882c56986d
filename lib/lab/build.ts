/**
 * Building a lab's plan with nsnet's own netlink, and tearing it down. Every
 * node is a named network namespace; a link is a veth pair made with each
 * end straight in its node; a switch is a bridge in a namespace of its own
 * with one veth per member. One netlink socket per namespace, no program
 * started as root except `nft` where loss needs it (no netem); rootless, a
 * namespace and a router's sysctls each cost a short-lived program.
 *
 * A build either completes or removes every namespace it made (their veths,
 * qdiscs and nftables tables go with them) and raises the first cause.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError } from "../errors.ts";
import { debug, warn } from "../log.ts";
import { addAddress } from "../netlink/address.ts";
import { createLink, getLink, listLinks, setLink } from "../netlink/link.ts";
import { formatIPv6, parsePrefix } from "../netlink/ip_address.ts";
import { addRoute } from "../netlink/route.ts";
import { NetlinkSocket } from "../netlink/socket.ts";
import { newNSWithName } from "../netns/create.ts";
import { getNS, type NetNS } from "../netns/netns.ts";
import { nsRunDir } from "../netns/run_dir.ts";
import { unmountNS } from "../netns/teardown.ts";
import { type PendingBatch, startNftBatch } from "../bridge/nftables.ts";
import { isRootless } from "../rootless/detect.ts";
import {
  applyQdiscs,
  isImpaired,
  lossBatch,
  lossInNetem,
  type LossRule,
  lossTableName,
  needsNetem,
  netemKnown,
  netemMissingError,
} from "./impair.ts";
import type {
  Impairment,
  LabPlan,
  PlannedNode,
  PlannedSegment,
} from "./types.ts";

/** The bridge's name inside a switch's namespace (the plan's, else `br0`). */
export function switchBridgeName(segment: PlannedSegment): string {
  return segment.bridge ?? "br0";
}

/** The name of member `i`'s port (the bridge side of its veth) in a switch's namespace. */
export function switchPortName(segment: PlannedSegment, i: number): string {
  return segment.ports?.[i] ?? `port${i}`;
}

/** The namespace file of `netns` (a name in the netns run dir). */
export function netnsFile(netns: string): string {
  return `${nsRunDir()}/${netns}`;
}

/** One end of a segment: the node, its interface there. */
export interface SegmentEnd {
  /** The node. */
  node: PlannedNode;
  /** Its interface on the segment. */
  ifname: string;
}

/** The ends of segment `segment` (link: its two ends; switch: each member). */
export function segmentEnds(
  plan: LabPlan,
  segment: PlannedSegment,
): SegmentEnd[] {
  return segment.nodes.map((name) => {
    const node = plan.nodes.find((n) => n.name === name);
    const iface = node?.interfaces.find((i) => i.segment === segment.id);
    if (node === undefined || iface === undefined) {
      throw new NsnetError(
        `lab ${plan.name}: the plan has no interface of ${name} on ${segment.id}`,
        { hint: "a bug in the planner: the plan is not self-consistent" },
      );
    }
    return { node, ifname: iface.name };
  });
}

/**
 * The ends whose egress carries the impairment of `segment`: a link's two
 * ends, or only `from`; a switch's members (what each sends into it).
 */
export function impairedEnds(
  plan: LabPlan,
  segment: PlannedSegment,
  from: string | undefined = segment.from,
): SegmentEnd[] {
  const ends = segmentEnds(plan, segment);
  if (segment.kind === "link" && from !== undefined) {
    return ends.filter((end) => end.node.name === from);
  }
  return ends;
}

/** Open namespaces and one netlink socket in each, by namespace name. */
export class NamespaceSet implements Disposable {
  readonly #ns = new Map<string, NetNS>();
  readonly #socks = new Map<string, NetlinkSocket>();

  /** Adds an open namespace under `netns` (the set closes it). */
  add(netns: string, ns: NetNS): void {
    this.#ns.set(netns, ns);
  }

  /** The namespace `netns`, opened from the run dir if not held yet. */
  ns(netns: string): NetNS {
    let ns = this.#ns.get(netns);
    if (ns === undefined) {
      ns = getNS(netnsFile(netns));
      this.#ns.set(netns, ns);
    }
    return ns;
  }

  /** The netlink socket in `netns`, opened once. */
  sock(netns: string): NetlinkSocket {
    let sock = this.#socks.get(netns);
    if (sock === undefined) {
      sock = NetlinkSocket.open(this.ns(netns));
      this.#socks.set(netns, sock);
    }
    return sock;
  }

  /** Closes every socket and namespace handle. */
  close(): void {
    for (const sock of this.#socks.values()) sock.close();
    for (const ns of this.#ns.values()) ns.close();
    this.#socks.clear();
    this.#ns.clear();
  }

  /** Closes at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Every namespace of the plan: nodes, then switches. */
export function planNamespaces(plan: LabPlan): string[] {
  const names = plan.nodes.map((n) => n.netns);
  for (const segment of plan.segments) {
    if (segment.kind === "switch" && segment.netns !== undefined) {
      names.push(segment.netns);
    }
  }
  return names;
}

/** The nftables target for node `node`'s namespace. */
export function nftTargetFor(
  set: NamespaceSet,
  plan: LabPlan,
  netns: string,
): Parameters<typeof startNftBatch>[0] {
  return {
    ns: set.ns(netns),
    nsPath: netnsFile(netns),
    viaNsenter: isRootless(),
    table: lossTableName(plan.name),
  };
}

const FORWARDING = [
  "/proc/sys/net/ipv4/ip_forward",
  "/proc/sys/net/ipv6/conf/all/forwarding",
];

/** Turns on IPv4 and IPv6 forwarding in `ns` (its own sysctls). */
async function enableForwarding(ns: NetNS, path: string): Promise<void> {
  if (!isRootless()) {
    // /proc/sys/net is resolved in the opening thread's namespace.
    ns.run(() => {
      for (const file of FORWARDING) Deno.writeTextFileSync(file, "1\n");
    });
    return;
  }
  // Rootless a thread could not come back from `ns`: a child writes them.
  const out = await new Deno.Command("nsenter", {
    args: [
      `--net=${path}`,
      "sh",
      "-c",
      FORWARDING.map((f) => `echo 1 > ${f}`).join(" && "),
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new NsnetError(
      `cannot turn on forwarding in ${path}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

/**
 * The loss rules nftables must hold in each node's namespace for the
 * impairments `impairmentOf(segment)`, where netem does not do loss.
 */
export function lossRulesByNetns(
  plan: LabPlan,
  impairmentOf: (segment: PlannedSegment) => Impairment,
  fromOf: (segment: PlannedSegment) => string | undefined,
): Map<string, LossRule[]> {
  const rules = new Map<string, LossRule[]>();
  if (lossInNetem()) return rules;
  for (const segment of plan.segments) {
    const imp = impairmentOf(segment);
    if (imp.loss === undefined) continue;
    for (const end of impairedEnds(plan, segment, fromOf(segment))) {
      const list = rules.get(end.node.netns) ?? [];
      list.push({ device: end.ifname, loss: imp.loss });
      rules.set(end.node.netns, list);
    }
  }
  return rules;
}

/** Starts one loss batch per namespace in `rules`; await every `done()`. */
export async function startLossBatches(
  set: NamespaceSet,
  plan: LabPlan,
  rules: Map<string, LossRule[]>,
): Promise<PendingBatch[]> {
  const pending: PendingBatch[] = [];
  try {
    for (const [netns, list] of rules) {
      const target = nftTargetFor(set, plan, netns);
      pending.push(await startNftBatch(target, lossBatch(target.table!, list)));
    }
  } catch (error) {
    await Promise.allSettled(pending.map((p) => p.done()));
    throw error;
  }
  return pending;
}

/** Waits for every batch; raises the first failure after all ended. */
export async function finishBatches(pending: PendingBatch[]): Promise<void> {
  const results = await Promise.allSettled(pending.map((p) => p.done()));
  const failed = results.find((r) => r.status === "rejected");
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
}

/**
 * Builds `plan`: namespaces, veths and bridges, impairments, addresses,
 * routes, forwarding, loss rules. On any failure every namespace it made is
 * removed and the first error raised.
 */
export async function buildLab(plan: LabPlan): Promise<void> {
  for (const node of plan.nodes) {
    if (node.uplink) {
      throw new InvalidArgumentError(
        `nodes.${node.name}.uplink: outbound access through the host is not built yet`,
        { hint: "leave uplink out; tests never need it" },
      );
    }
  }
  if (
    netemKnown() === false &&
    plan.segments.some((s) => needsNetem(s.impairment))
  ) throw netemMissingError();
  const made: string[] = [];
  const set = new NamespaceSet();
  const started = performance.now();
  try {
    for (const netns of planNamespaces(plan)) {
      set.add(netns, newNSWithName(netns));
      made.push(netns);
    }
    for (const netns of made) setLink(set.sock(netns), "lo", { up: true });
    makeSegments(set, plan);
    impair(set, plan);
    const pending = startLossBatches(
      set,
      plan,
      lossRulesByNetns(plan, (s) => s.impairment, (s) => s.from),
    );
    let forwarding: Promise<void>[] = [];
    let failure: { error: unknown } | undefined;
    try {
      configureNodes(set, plan);
      forwarding = plan.nodes.filter((n) => n.router).map((n) =>
        enableForwarding(set.ns(n.netns), netnsFile(n.netns))
      );
    } catch (error) {
      failure = { error };
    }
    // Every child started is waited for, also after a failure.
    const results = await Promise.allSettled([
      pending.then(finishBatches),
      ...forwarding,
    ]);
    if (failure !== undefined) throw failure.error;
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    debug(
      `lab ${plan.name}: built ${made.length} namespaces in ${
        (performance.now() - started).toFixed(1)
      } ms`,
    );
  } catch (error) {
    set.close();
    for (const netns of made.reverse()) {
      try {
        unmountNS(netnsFile(netns));
      } catch (e) {
        warn(`undoing lab ${plan.name}: ${(e as Error).message}`);
      }
    }
    throw error;
  } finally {
    set.close();
  }
}

/**
 * No IPv6 on a switch's bridge and ports: they carry frames, not packets,
 * and the kernel's per-port IPv6 set-up (link-local address, DAD, MLD) is
 * most of a port's cost. As root only: rootless the sysctl costs a process.
 */
function quietSwitchNamespace(ns: NetNS): void {
  if (isRootless()) return;
  ns.run(() => {
    for (const conf of ["all", "default"]) {
      Deno.writeTextFileSync(
        `/proc/sys/net/ipv6/conf/${conf}/disable_ipv6`,
        "1\n",
      );
    }
  });
}

/** Veth pairs of the links; bridges and ports of the switches. */
function makeSegments(set: NamespaceSet, plan: LabPlan): void {
  for (const segment of plan.segments) {
    const ends = segmentEnds(plan, segment);
    if (segment.kind === "link") {
      const [a, b] = ends as [SegmentEnd, SegmentEnd];
      createLink(set.sock(a.node.netns), {
        kind: "veth",
        name: a.ifname,
        up: true,
        peer: { name: b.ifname, netns: set.ns(b.node.netns) },
      });
      setLink(set.sock(b.node.netns), b.ifname, { up: true });
      continue;
    }
    if (segment.netns === undefined) {
      throw new NsnetError(
        `lab ${plan.name}: switch ${segment.id} has no namespace in the plan`,
      );
    }
    const sw = set.sock(segment.netns);
    quietSwitchNamespace(set.ns(segment.netns));
    const name = switchBridgeName(segment);
    createLink(sw, { kind: "bridge", name, up: true });
    const bridge = getLink(sw, name, { stats: false }).index;
    ends.forEach((end, i) => {
      createLink(sw, {
        kind: "veth",
        name: switchPortName(segment, i),
        master: bridge,
        up: true,
        peer: { name: end.ifname, netns: set.ns(end.node.netns) },
      });
      setLink(set.sock(end.node.netns), end.ifname, { up: true });
    });
  }
}

/** The qdiscs of every impaired segment (netem first tried here). */
function impair(set: NamespaceSet, plan: LabPlan): void {
  for (const segment of plan.segments) {
    if (!isImpaired(segment.impairment)) continue;
    for (const end of impairedEnds(plan, segment)) {
      applyQdiscs(
        set.sock(end.node.netns),
        end.ifname,
        segment.impairment,
        "none",
      );
    }
  }
}

/** Addresses (IPv6 without DAD, usable at once) and routes of every node. */
function configureNodes(set: NamespaceSet, plan: LabPlan): void {
  for (const node of plan.nodes) {
    const sock = set.sock(node.netns);
    const index = new Map(
      listLinks(sock, { stats: false }).map((l) => [l.name, l.index]),
    );
    const indexOf = (name: string): number => {
      const i = index.get(name);
      if (i === undefined) {
        throw new NsnetError(`lab ${plan.name}: ${node.name} has no ${name}`);
      }
      return i;
    };
    for (const iface of node.interfaces) {
      addInterfaceAddresses(sock, indexOf(iface.name), iface.addresses, false);
    }
    for (const route of node.routes) {
      addRoute(sock, {
        destination: route.destination,
        gateway: route.via,
        device: indexOf(route.dev),
      });
    }
  }
}

/**
 * The link-local twin of a global IPv6 address: `fe80::` and its interface
 * id. Added without DAD beside the kernel's own (tentative for a second or
 * two): a router resolves the next hop of a forwarded packet only from a
 * usable link-local address, so without it IPv6 through routers would wait.
 */
export function linkLocalTwin(cidr: string): string {
  const bytes = parsePrefix(cidr).bytes.slice();
  bytes.fill(0, 0, 8);
  bytes[0] = 0xfe;
  bytes[1] = 0x80;
  return `${formatIPv6(bytes)}/64`;
}

/**
 * Puts `addresses` on link `index`: IPv6 ones without DAD, each with its
 * {@linkcode linkLocalTwin}; with `replace`, what is there is kept.
 */
export function addInterfaceAddresses(
  sock: NetlinkSocket,
  index: number,
  addresses: readonly string[],
  replace: boolean,
): void {
  for (const cidr of addresses) {
    const v6 = cidr.includes(":");
    addAddress(sock, index, cidr, { noDad: v6, replace });
    if (v6) {
      addAddress(sock, index, linkLocalTwin(cidr), { noDad: true, replace });
    }
  }
}

/**
 * Removes every namespace of `plan` (their veths, qdiscs and nftables
 * tables go with them); missing ones are fine. Goes on after an error and
 * raises the first one at the end.
 */
export function teardownLab(plan: LabPlan): void {
  let first: unknown;
  for (const netns of planNamespaces(plan).reverse()) {
    try {
      unmountNS(netnsFile(netns));
    } catch (error) {
      first ??= error;
    }
  }
  if (first !== undefined) throw first;
}
