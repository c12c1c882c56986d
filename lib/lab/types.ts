/**
 * The shapes of a network lab: the spec a user writes (in code or as a JSON
 * file) and the plan nsnet computes from it (names, addresses, routes), which
 * is what gets built, recorded and torn down.
 *
 * @module
 */

/** What a link (or a switch port) does to the packets it carries. */
export interface Impairment {
  /** Rate limit, tc's words: `"20mbit"`, `"512kbit"`, `"1gbit"`. */
  rate?: string;
  /** Packet loss: `"20%"`. netem, or an nftables `numgen random` drop where the kernel has no netem. */
  loss?: string;
  /** One-way delay: `"10ms"`. Needs netem (`CONFIG_NET_SCH_NETEM`). */
  delay?: string;
  /** Delay variation: `"2ms"`; only with `delay`. Needs netem. */
  jitter?: string;
  /** Duplicated packets: `"1%"`. Needs netem. */
  duplicate?: string;
  /** Reordered packets: `"25%"`; only with `delay`. Needs netem. */
  reorder?: string;
  /** Corrupted packets: `"0.1%"`. Needs netem. */
  corrupt?: string;
}

/** A node: a network namespace of its own. */
export interface NodeSpec {
  /** Forward packets between its links (IPv4 and IPv6 forwarding on); routes may pass through it. */
  router?: boolean;
  /**
   * Outbound access through the host (root: a bridge and masquerade;
   * rootless: the rootless namespace). Never needed by tests.
   */
  uplink?: boolean;
}

/** A veth pair between two nodes. */
export interface LinkSpec extends Impairment {
  /** The two nodes it joins (never the same node twice). */
  ends: [string, string];
  /** IPv4 subnet of the link (default: the next free one from the lab's pool). */
  subnet?: string;
  /** The ends' addresses, CIDR, in the order of `ends` (default: assigned from `subnet`). */
  addresses?: [string, string];
  /**
   * Only the traffic sent by this end is impaired (default: both directions).
   */
  from?: string;
}

/** A bridge that many nodes join, each through a veth of its own. */
export interface SwitchSpec extends Impairment {
  /** The nodes that join it. */
  nodes: string[];
  /** IPv4 subnet of the switch (default: the next free one from the lab's pool). */
  subnet?: string;
  /** Addresses of members by node name, CIDR (default: assigned from `subnet`). */
  addresses?: Record<string, string>;
}

/**
 * A topology: `{"nodes": {"a": {}, "r": {"router": true}, "b": {}},
 * "links": [{"ends": ["a", "r"], "rate": "20mbit"}]}`.
 */
export interface LabSpec {
  /** Nodes by name (letters, digits, `-` and `_`; at most 15 bytes). */
  nodes: Record<string, NodeSpec>;
  /** Point-to-point links. */
  links?: LinkSpec[];
  /** Switches by name. */
  switches?: Record<string, SwitchSpec>;
  /** IPv4 pool that link and switch subnets are taken from, one /24 each (default `10.77.0.0/16`). */
  pool?: string;
  /** Give every link and switch an IPv6 ULA /64 too (default true). */
  ipv6?: boolean;
}

/** One interface of a planned node. */
export interface PlannedInterface {
  /** Its name inside the node (`eth0`, `eth1`, … in the order of the spec). */
  name: string;
  /** What it attaches to: `link:<index>` or `switch:<name>`. */
  segment: string;
  /** Its addresses, CIDR (IPv4 first, then IPv6 if any). */
  addresses: string[];
}

/** A route a node needs to reach a subnet it is not attached to. */
export interface PlannedRoute {
  /** Destination subnet, CIDR. */
  destination: string;
  /** Next hop: an address of a neighbour on a shared segment. */
  via: string;
  /** The node's interface towards it. */
  dev: string;
}

/** A node as planned. */
export interface PlannedNode {
  /** Its name in the spec. */
  name: string;
  /** The name of its network namespace (`nsnet-lab-<lab>-<node>` or shorter). */
  netns: string;
  /** Forwarding on. */
  router: boolean;
  /** Outbound access through the host. */
  uplink: boolean;
  /** Its interfaces. */
  interfaces: PlannedInterface[];
  /** Its routes. */
  routes: PlannedRoute[];
}

/** A segment (link or switch) as planned. */
export interface PlannedSegment {
  /** `link:<index>` or `switch:<name>`. */
  id: string;
  /** `link` (a veth pair) or `switch` (a bridge, in a namespace of its own). */
  kind: "link" | "switch";
  /** Member nodes: the two ends of a link, the members of a switch. */
  nodes: string[];
  /** IPv4 subnet. */
  subnet: string;
  /** IPv6 subnet, if any. */
  subnet6?: string;
  /** Impairment as given in the spec. */
  impairment: Impairment;
  /** Only the traffic this end sends is impaired (links only). */
  from?: string;
  /** For a switch: the namespace holding its bridge. */
  netns?: string;
  /** For a switch: the bridge's name inside `netns` (`br0`). */
  bridge?: string;
  /**
   * For a switch: the bridge ports inside `netns`, one per member in the
   * order of `nodes` (`port0`, `port1`, …), each the peer of the member's
   * interface on this segment.
   */
  ports?: string[];
}

/** The whole plan of a lab: what `Lab.create` builds and the record keeps. */
export interface LabPlan {
  /** The lab's name. */
  name: string;
  /** Nodes, in the order of the spec. */
  nodes: PlannedNode[];
  /** Links and switches, links first in spec order, then switches. */
  segments: PlannedSegment[];
}
