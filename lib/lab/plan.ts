/**
 * Planning a lab: from a checked {@linkcode LabSpec} and a lab name to the
 * {@linkcode LabPlan} that gets built — namespace names, interface names,
 * IPv4 and IPv6 addresses, and the routes that let every node reach every
 * subnet by a shortest path through routers. Pure and deterministic: the
 * same spec and name give the same plan, byte for byte.
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import { formatIPv6 } from "../netlink/ip_address.ts";
import { sha256, sha256Hex } from "../sha256.ts";
import { resolveAddressing } from "./_addressing.ts";
import { mergePrefixes, type NumericPrefix } from "./_route_merge.ts";
import {
  IMPAIRMENT_KEYS,
  LabSpecError,
  parseLabSpec,
  validateLabName,
} from "./spec.ts";
import type {
  Impairment,
  LabPlan,
  LabSpec,
  PlannedInterface,
  PlannedNode,
  PlannedRoute,
  PlannedSegment,
} from "./types.ts";

/** Every namespace of a lab is named `nsnet-lab-…`. */
export const LAB_NETNS_PREFIX = "nsnet-lab-";

/**
 * The longest namespace name a lab uses, in bytes: short enough to read in
 * `ip netns` and to leave room in paths built from it. Labs whose names
 * would exceed it get a shorter form with a hash (see {@linkcode labNetnsPrefix}).
 */
export const MAX_LAB_NETNS_BYTES = 48;

/** The name of a switch's bridge inside its namespace. */
export const SWITCH_BRIDGE_NAME = "br0";

/** The longest suffix after the prefix: `sw.` and a 15-byte switch name. */
const LONGEST_SUFFIX = 3 + 15;

/**
 * What every namespace name of lab `lab` starts with: `nsnet-lab-<lab>.`,
 * or, when that would make names longer than {@linkcode MAX_LAB_NETNS_BYTES},
 * `nsnet-lab-<first 8 bytes of lab>~<8 hex digits of its SHA-256>.`. Lab
 * names hold no `.` or `~`, so no two labs share a prefix, and remains of a
 * lab can be found by it.
 */
export function labNetnsPrefix(lab: string): string {
  validateLabName(lab);
  const long = `${LAB_NETNS_PREFIX}${lab}.`;
  if (long.length + LONGEST_SUFFIX <= MAX_LAB_NETNS_BYTES) return long;
  return `${LAB_NETNS_PREFIX}${lab.slice(0, 8)}~${sha256Hex(lab).slice(0, 8)}.`;
}

/** The namespace of node `node` of lab `lab`: `nsnet-lab-<lab>.<node>`. */
export function labNodeNetns(lab: string, node: string): string {
  return labNetnsPrefix(lab) + node;
}

/** The namespace holding switch `name`'s bridge: `nsnet-lab-<lab>.sw.<name>`. */
export function labSwitchNetns(lab: string, name: string): string {
  return `${labNetnsPrefix(lab)}sw.${name}`;
}

/**
 * The IPv6 address `host` (0: the subnet) of segment `index` (links first,
 * then switches), /64: `fd77:<16 bits of the lab's hash>:0:<index>::<host>`.
 */
function ula(
  hash: Uint8Array,
  index: number,
  host: number,
  prefixLength = 64,
): string {
  const bytes = new Uint8Array(16);
  bytes[0] = 0xfd;
  bytes[1] = 0x77;
  bytes[2] = hash[0]!;
  bytes[3] = hash[1]!;
  // The index ends the /64 prefix, so that consecutive segments are sibling
  // prefixes and their routes merge (two /64s into one /63, …).
  bytes[6] = index >> 8;
  bytes[7] = index & 0xff;
  bytes[12] = host >>> 24;
  bytes[13] = (host >>> 16) & 0xff;
  bytes[14] = (host >>> 8) & 0xff;
  bytes[15] = host & 0xff;
  return `${formatIPv6(bytes)}/${prefixLength}`;
}

/** An IPv4 CIDR as a 32-bit prefix. */
function ipv4Prefix(cidr: string): NumericPrefix {
  const [address, length] = cidr.split("/");
  const value = address!.split(".").reduce(
    (v, octet) => v * 256 + Number(octet),
    0,
  );
  return { value, length: Number(length) };
}

function formatIPv4Number(value: number): string {
  return `${Math.floor(value / 16777216)}.${Math.floor(value / 65536) % 256}.${
    Math.floor(value / 256) % 256
  }.${value % 256}`;
}

function impairmentOf(source: Impairment): Impairment {
  const out: Impairment = {};
  for (const key of IMPAIRMENT_KEYS) {
    if (source[key] !== undefined) out[key] = source[key];
  }
  return out;
}

function bareIP(cidr: string): string {
  return cidr.slice(0, cidr.indexOf("/"));
}

/**
 * Plans lab `name` from `spec`, which is checked first with
 * {@linkcode parseLabSpec} (so a spec written in code gets the same errors
 * as a file). Raises {@linkcode LabSpecError} for a bad spec or lab name.
 *
 * - Namespaces: {@linkcode labNodeNetns} per node; a switch's bridge
 *   ({@linkcode SWITCH_BRIDGE_NAME}) in a namespace of its own
 *   ({@linkcode labSwitchNetns}) with ports `port0`, `port1`, … in member order.
 * - Interfaces: `eth0`, `eth1`, … per node in spec order, links first,
 *   then switches.
 * - IPv4: each link and switch its subnet (given, or the next free /24 of
 *   the pool); link ends `.1` and `.2`, switch members `.1`, `.2`, … in
 *   order, given addresses kept and skipped.
 * - IPv6 (unless `ipv6: false`): segment `i` gets
 *   `fd77:<16 bits of the SHA-256 of the lab name>:0:<i>::/64`, member `k`
 *   (in order) the address `::<k+1>`.
 * - Routes: for every subnet a node is not on, the first hop of a shortest
 *   path to a node on it, passing only through routers (ties: the order of
 *   interfaces, then of members). Unreachable subnets get no route. Routes
 *   with one next hop are then merged into the fewest prefixes covering
 *   exactly their subnets (two sibling /24s become one /23), so that a
 *   chain's routes grow as n·log n, not n²; every address is forwarded as
 *   by one route per subnet.
 *
 * @example
 * ```ts
 * import { planLab } from "@nsnet/nsnet/lab";
 * const plan = planLab({
 *   nodes: { a: {}, r: { router: true }, b: {} },
 *   links: [{ ends: ["a", "r"] }, { ends: ["r", "b"] }],
 * }, "demo");
 * console.log(plan.nodes[0]!.routes); // [{ destination: "10.77.1.0/24", via: "10.77.0.2", dev: "eth0" }, …]
 * ```
 */
export function planLab(spec: LabSpec, name: string): LabPlan {
  validateLabName(name);
  const checked = parseLabSpec(spec);
  const resolved = resolveAddressing(checked, (field, problem) => {
    throw new LabSpecError(field, problem);
  });
  const ipv6 = checked.ipv6 ?? true;
  if (ipv6 && resolved.length > 0xffff) {
    throw new LabSpecError(
      "",
      `${resolved.length} links and switches are more than the 65535 IPv6 /64s a lab numbers (set "ipv6": false)`,
    );
  }
  const hash = sha256(name);
  const names = Object.keys(checked.nodes);
  const nodes = new Map<string, PlannedNode>();
  for (const node of names) {
    const spec = checked.nodes[node]!;
    nodes.set(node, {
      name: node,
      netns: labNodeNetns(name, node),
      router: spec.router ?? false,
      uplink: spec.uplink ?? false,
      interfaces: [],
      routes: [],
    });
  }

  const links = checked.links ?? [];
  const switches = Object.entries(checked.switches ?? {});
  const segments: PlannedSegment[] = resolved.map((r, index) => {
    const segment: PlannedSegment = {
      id: r.id,
      kind: r.kind,
      nodes: r.nodes,
      subnet: r.subnet,
    } as PlannedSegment;
    if (ipv6) segment.subnet6 = ula(hash, index, 0);
    if (r.kind === "link") {
      const link = links[index]!;
      segment.impairment = impairmentOf(link);
      if (link.from !== undefined) segment.from = link.from;
    } else {
      const [swName, sw] = switches[index - links.length]!;
      segment.impairment = impairmentOf(sw);
      segment.netns = labSwitchNetns(name, swName);
      segment.bridge = SWITCH_BRIDGE_NAME;
      segment.ports = r.nodes.map((_, k) => `port${k}`);
    }
    return segment;
  });

  // Interfaces, and per segment each member's interface.
  const ifaceOn: Map<string, PlannedInterface>[] = resolved.map((r, index) => {
    const members = new Map<string, PlannedInterface>();
    r.nodes.forEach((member, k) => {
      const node = nodes.get(member)!;
      const addresses = [r.addresses[k]!];
      if (ipv6) addresses.push(ula(hash, index, k + 1));
      const iface: PlannedInterface = {
        name: `eth${node.interfaces.length}`,
        segment: r.id,
        addresses,
      };
      node.interfaces.push(iface);
      members.set(member, iface);
    });
    return members;
  });

  // Routes, on integers: node i, segment s, member position k. Neighbours
  // are taken in the order of a node's interfaces, then of members.
  const n = names.length;
  const m = resolved.length;
  const indexOf = new Map(names.map((node, i) => [node, i]));
  const router = names.map((node) => nodes.get(node)!.router);
  const membersOf = resolved.map((r) => r.nodes.map((x) => indexOf.get(x)!));
  const segmentsOf: number[][] = names.map(() => []);
  membersOf.forEach((members, s) => {
    for (const i of members) segmentsOf[i]!.push(s);
  });
  // The bare next-hop address of member k of segment s, per family.
  const viaOf = [0, 1].map((family) =>
    resolved.map((_, s) =>
      resolved[s]!.nodes.map((member) =>
        bareIP(ifaceOn[s]!.get(member)!.addresses[family] ?? "/")
      )
    )
  );
  // Destinations as numbers, to merge: IPv4 subnets as 32-bit prefixes;
  // IPv6 ones, all /64s of one /48, by their 16-bit segment index.
  const destinationOf: NumericPrefix[][] = [
    resolved.map((r) => ipv4Prefix(r.subnet)),
    resolved.map((_, s) => ({ value: s, length: 16 })),
  ];
  const formatDestination = [
    (p: NumericPrefix): string => `${formatIPv4Number(p.value)}/${p.length}`,
    (p: NumericPrefix): string => ula(hash, p.value, 0, 48 + p.length),
  ];
  const familyBits = [32, 16];
  const seen = new Int32Array(n).fill(-1);
  const expanded = new Int32Array(m).fill(-1);
  const targeted = new Int32Array(m).fill(-1);
  const hopSegment = new Int32Array(n);
  const hopMember = new Int32Array(n);
  const target = new Int32Array(m);
  const queue = new Int32Array(n);
  for (let source = 0; source < n; source++) {
    const node = nodes.get(names[source]!)!;
    for (const s of segmentsOf[source]!) targeted[s] = source; // attached
    // BFS from the source, expanding only the source and routers; the
    // first hop of every node reached. A segment once expanded has all its
    // members seen: it is skipped after.
    seen[source] = source;
    queue[0] = source;
    let tail = 1;
    for (let head = 0; head < tail; head++) {
      const at = queue[head]!;
      if (at !== source && !router[at]) continue;
      for (const s of segmentsOf[at]!) {
        if (expanded[s] === source) continue;
        expanded[s] = source;
        const members = membersOf[s]!;
        for (let k = 0; k < members.length; k++) {
          const next = members[k]!;
          if (seen[next] === source) continue;
          seen[next] = source;
          if (at === source) {
            hopSegment[next] = s;
            hopMember[next] = k;
          } else {
            hopSegment[next] = hopSegment[at]!;
            hopMember[next] = hopMember[at]!;
          }
          queue[tail++] = next;
        }
      }
    }
    // Each subnet not attached: the first node reached (fewest hops) on it.
    for (let head = 1; head < tail; head++) {
      const reached = queue[head]!;
      for (const s of segmentsOf[reached]!) {
        if (targeted[s] === source) continue;
        targeted[s] = source;
        target[s] = reached;
      }
    }
    for (const s of segmentsOf[source]!) target[s] = -1;
    const dev = new Map(
      node.interfaces.map((i, k) => [segmentsOf[source]![k]!, i.name]),
    );
    // Per family, the destinations of each first hop, merged.
    const routes: PlannedRoute[] = [];
    for (const family of ipv6 ? [0, 1] : [0]) {
      const byHop = new Map<number, NumericPrefix[]>();
      for (let s = 0; s < m; s++) {
        if (targeted[s] !== source || target[s] === -1) continue;
        const reached = target[s]!;
        const key = hopSegment[reached]! * 65536 + hopMember[reached]!;
        let list = byHop.get(key);
        if (list === undefined) byHop.set(key, list = []);
        list.push(destinationOf[family]![s]!);
      }
      const merged: { prefix: NumericPrefix; route: PlannedRoute }[] = [];
      for (const [key, list] of byHop) {
        const hop = Math.floor(key / 65536);
        const via = viaOf[family]![hop]![key % 65536]!;
        for (const prefix of mergePrefixes(list, familyBits[family]!)) {
          merged.push({
            prefix,
            route: {
              destination: formatDestination[family]!(prefix),
              via,
              dev: dev.get(hop)!,
            },
          });
        }
      }
      merged.sort((a, b) => a.prefix.value - b.prefix.value);
      for (const { route } of merged) routes.push(route);
    }
    node.routes = routes;
  }

  return { name, nodes: names.map((n) => nodes.get(n)!), segments };
}

/** Options of {@linkcode labAddress}. */
export interface LabAddressOptions {
  /** 4 (default) or 6. */
  family?: 4 | 6;
  /**
   * The node that will use the address: the address is the one on the
   * segment shared with it, else on the interface its route towards that
   * node leaves by (default: the node's first interface).
   */
  towards?: string;
}

function planNode(plan: LabPlan, name: string): PlannedNode {
  const node = plan.nodes.find((n) => n.name === name);
  if (node === undefined) {
    throw new InvalidArgumentError(
      `lab ${plan.name} has no node named ${JSON.stringify(name)}`,
      { hint: `its nodes are ${plan.nodes.map((n) => n.name).join(", ")}` },
    );
  }
  return node;
}

/**
 * The bare IP address of `node` in `plan` (IPv4 unless `family: 6`), chosen
 * as {@linkcode LabAddressOptions.towards} says. Raises
 * {@linkcode InvalidArgumentError} for an unknown node or a node with no
 * address of that family.
 */
export function labAddress(
  plan: LabPlan,
  node: string,
  options: LabAddressOptions = {},
): string {
  const family = options.family ?? 4;
  const at = planNode(plan, node);
  const slot = family === 4 ? 0 : 1;
  let iface = at.interfaces[0];
  if (options.towards !== undefined && options.towards !== node) {
    const peer = planNode(plan, options.towards);
    const shared = at.interfaces.find((i) =>
      peer.interfaces.some((p) => p.segment === i.segment)
    );
    if (shared !== undefined) {
      iface = shared;
    } else {
      // Leave by the interface of this node's route to a subnet of the peer.
      const subnets = new Set(
        peer.interfaces.map((p) => {
          const segment = plan.segments.find((s) => s.id === p.segment);
          return family === 4 ? segment?.subnet : segment?.subnet6;
        }),
      );
      const route = at.routes.find((r) => subnets.has(r.destination));
      if (route !== undefined) {
        iface = at.interfaces.find((i) => i.name === route.dev) ?? iface;
      }
    }
  }
  const address = iface?.addresses[slot];
  if (address === undefined) {
    throw new InvalidArgumentError(
      `node ${node} of lab ${plan.name} has no IPv${family} address`,
      {
        hint: at.interfaces.length === 0
          ? "it is on no link or switch"
          : "the lab was planned with ipv6 off",
      },
    );
  }
  return bareIP(address);
}

/**
 * The link between nodes `a` and `b` (either order) in `plan`, or undefined
 * if they share none (a spec has at most one link per pair).
 */
export function labLinkBetween(
  plan: LabPlan,
  a: string,
  b: string,
): PlannedSegment | undefined {
  return plan.segments.find((s) =>
    s.kind === "link" &&
    ((s.nodes[0] === a && s.nodes[1] === b) ||
      (s.nodes[0] === b && s.nodes[1] === a))
  );
}
