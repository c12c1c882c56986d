/**
 * `IFLA_LINKINFO` decoded and encoded by schema: one table per link kind
 * (and per port kind, for `IFLA_INFO_SLAVE_DATA`) saying each attribute's
 * number, its name in nsnet, its name in `ip -j -d link`, its wire type and,
 * for enumerations, its value words. One generic reader and one generic
 * writer walk the tables, so a new kind is a new table, not new code.
 *
 * Attributes a table does not list are kept raw (`unknown`), and decoding
 * keeps the wire order of the known ones (object insertion order), so that
 * {@linkcode encodeLinkInfo} gives back the kernel's bytes exactly.
 *
 * Kinds: veth, bridge (and bridge ports), macvlan, macvtap, vxlan, tun, ifb,
 * vlan, ipvlan, ipvtap, bond, wireguard. wireguard's netdev carries no
 * `IFLA_INFO_DATA`: its configuration (keys, peers) lives in the
 * `wireguard` generic-netlink family, which nsnet does not speak.
 *
 * Pure: no FFI and no Deno APIs.
 *
 * @module
 */

import {
  attrString,
  forEachAttribute,
  type RawAttribute,
  rawAttribute,
} from "./codec.ts";
import { InvalidArgumentError } from "../errors.ts";
import { IFLA_INFO } from "./constants.ts";
import { NetlinkDecodeError } from "./errors.ts";
import { formatIP, formatMac, parseIP } from "./ip_address.ts";

/** The wire type of one attribute in a kind's table. */
export type LinkInfoCodec =
  | "u8"
  | "u16"
  | "u32"
  | "u64"
  | "s32"
  | "be16"
  | "be32"
  | "bool"
  | "flag"
  | "string"
  | "ipv4"
  | "ipv6"
  | "mac"
  | "binary";

/** One attribute of a kind's `IFLA_INFO_DATA` (or `IFLA_INFO_SLAVE_DATA`). */
export interface LinkInfoField {
  /** Attribute number. */
  readonly type: number;
  /** Its key in nsnet's decoded data (camelCase). */
  readonly name: string;
  /** Its key in `ip -j -d link`'s `info_data`, when ip prints it. */
  readonly ip?: string;
  /** Wire type. */
  readonly codec: LinkInfoCodec;
  /** Value words for an enumeration (`mode` 4 is `"bridge"`); unknown numbers stay numbers. */
  readonly values?: Readonly<Record<number, string>>;
  /**
   * How ip prints it in JSON, when not as the value itself: `hex` a
   * `"0x…"` string, `timer` centiseconds as seconds, `bridgeId` the
   * `8000.02:…` form, `ifname` an index as the link's name, `range` a
   * `{low, high}` of two __be16.
   */
  readonly json?: "hex" | "timer" | "bridgeId" | "ifname" | "range";
}

/** A decoded value: numbers, booleans (u8 0/1 or a flag), strings, addresses, raw structs. */
export type LinkInfoValue = number | boolean | string | Uint8Array;

/**
 * A kind's decoded data: its fields by nsnet name, in wire order, plus
 * the attributes its table does not know.
 */
export interface LinkInfoData {
  /** Decoded fields, keyed by {@linkcode LinkInfoField.name}. */
  [field: string]: LinkInfoValue | RawAttribute[] | undefined;
  /** Attributes the kind's table does not list, as they came. */
  unknown?: RawAttribute[];
}

/** A link's `IFLA_LINKINFO`. */
export interface LinkInfo {
  /** `IFLA_INFO_KIND`: `veth`, `bridge`, `vxlan`... */
  kind?: string;
  /** `IFLA_INFO_DATA`, decoded by the kind's table (raw attributes only, for a kind nsnet has no table for). */
  data?: LinkInfoData;
  /** `IFLA_INFO_SLAVE_KIND`: the kind of the master this link is a port of. */
  slaveKind?: string;
  /** `IFLA_INFO_SLAVE_DATA`, decoded by the port table of `slaveKind`. */
  slaveData?: LinkInfoData;
  /** Other `IFLA_LINKINFO` attributes (`IFLA_INFO_XSTATS`...), as they came. */
  unknown?: RawAttribute[];
}

const camel = (snake: string): string =>
  snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** A field whose ip name is its snake_case nsnet name. */
function f(
  type: number,
  ip: string,
  codec: LinkInfoCodec,
  values?: Record<number, string>,
  json?: LinkInfoField["json"],
): LinkInfoField {
  return { type, name: camel(ip), ip, codec, values, json };
}

/** VLAN protocols by their ethertype, as ip names them. */
export const VLAN_PROTOCOLS: Readonly<Record<number, string>> = {
  0x8100: "802.1Q",
  0x88a8: "802.1ad",
};

/** macvlan/macvtap modes (`IFLA_MACVLAN_MODE`). */
export const MACVLAN_MODES: Readonly<Record<number, string>> = {
  1: "private",
  2: "vepa",
  4: "bridge",
  8: "passthru",
  16: "source",
};

/** ipvlan modes (`IFLA_IPVLAN_MODE`). */
export const IPVLAN_MODES: Readonly<Record<number, string>> = {
  0: "l2",
  1: "l3",
  2: "l3s",
};

/** tun device types (`IFLA_TUN_TYPE`: IFF_TUN, IFF_TAP). */
export const TUN_TYPES: Readonly<Record<number, string>> = {
  1: "tun",
  2: "tap",
};

/** Bonding modes (`IFLA_BOND_MODE`). */
export const BOND_MODES: Readonly<Record<number, string>> = {
  0: "balance-rr",
  1: "active-backup",
  2: "balance-xor",
  3: "broadcast",
  4: "802.3ad",
  5: "balance-tlb",
  6: "balance-alb",
};

/** vxlan `df` values (`IFLA_VXLAN_DF`). */
export const VXLAN_DF: Readonly<Record<number, string>> = {
  0: "unset",
  1: "set",
  2: "inherit",
};

/** Bridge port STP states (`IFLA_BRPORT_STATE`). */
export const BRIDGE_PORT_STATES: Readonly<Record<number, string>> = {
  0: "disabled",
  1: "listening",
  2: "learning",
  3: "forwarding",
  4: "blocking",
};

/** `IFLA_INFO_DATA` attribute numbers of a vlan (linux/if_link.h). */
export const IFLA_VLAN = {
  ID: 1,
  FLAGS: 2,
  EGRESS_QOS: 3,
  INGRESS_QOS: 4,
  PROTOCOL: 5,
} as const;

/** `IFLA_INFO_DATA` attribute numbers of an ipvlan. */
export const IFLA_IPVLAN = { MODE: 1, FLAGS: 2 } as const;

/** `IFLA_INFO_DATA` attribute numbers of a tun/tap device. */
export const IFLA_TUN = {
  OWNER: 1,
  GROUP: 2,
  TYPE: 3,
  PI: 4,
  VNET_HDR: 5,
  PERSIST: 6,
  MULTI_QUEUE: 7,
  NUM_QUEUES: 8,
  NUM_DISABLED_QUEUES: 9,
} as const;

const BRIDGE: readonly LinkInfoField[] = [
  f(1, "forward_delay", "u32"),
  f(2, "hello_time", "u32"),
  f(3, "max_age", "u32"),
  f(4, "ageing_time", "u32"),
  f(5, "stp_state", "u32"),
  f(6, "priority", "u16"),
  f(7, "vlan_filtering", "u8"),
  f(8, "vlan_protocol", "be16", VLAN_PROTOCOLS),
  f(9, "group_fwd_mask", "u16", undefined, "hex"),
  f(10, "root_id", "binary", undefined, "bridgeId"),
  f(11, "bridge_id", "binary", undefined, "bridgeId"),
  f(12, "root_port", "u16"),
  f(13, "root_path_cost", "u32"),
  f(14, "topology_change", "u8"),
  f(15, "topology_change_detected", "u8"),
  f(16, "hello_timer", "u64", undefined, "timer"),
  f(17, "tcn_timer", "u64", undefined, "timer"),
  f(18, "topology_change_timer", "u64", undefined, "timer"),
  f(19, "gc_timer", "u64", undefined, "timer"),
  f(20, "group_addr", "mac"),
  f(21, "fdb_flush", "flag"),
  f(22, "mcast_router", "u8"),
  f(23, "mcast_snooping", "u8"),
  f(24, "mcast_query_use_ifaddr", "u8"),
  f(25, "mcast_querier", "u8"),
  f(26, "mcast_hash_elasticity", "u32"),
  f(27, "mcast_hash_max", "u32"),
  f(28, "mcast_last_member_cnt", "u32"),
  f(29, "mcast_startup_query_cnt", "u32"),
  f(30, "mcast_last_member_intvl", "u64"),
  f(31, "mcast_membership_intvl", "u64"),
  f(32, "mcast_querier_intvl", "u64"),
  f(33, "mcast_query_intvl", "u64"),
  f(34, "mcast_query_response_intvl", "u64"),
  f(35, "mcast_startup_query_intvl", "u64"),
  f(36, "nf_call_iptables", "u8"),
  f(37, "nf_call_ip6tables", "u8"),
  f(38, "nf_call_arptables", "u8"),
  f(39, "vlan_default_pvid", "u16"),
  { type: 40, name: "pad", codec: "binary" },
  f(41, "vlan_stats_enabled", "u8"),
  f(42, "mcast_stats_enabled", "u8"),
  f(43, "mcast_igmp_version", "u8"),
  f(44, "mcast_mld_version", "u8"),
  f(45, "vlan_stats_per_port", "u8"),
  { type: 46, name: "multiBoolopt", codec: "binary" }, // struct br_boolopt_multi
  { type: 47, name: "mcastQuerierState", codec: "binary" }, // nested, kept whole
  f(48, "fdb_n_learned", "u32"),
  f(49, "fdb_max_learned", "u32"),
];

const BRIDGE_PORT: readonly LinkInfoField[] = [
  f(1, "state", "u8", BRIDGE_PORT_STATES),
  f(2, "priority", "u16"),
  f(3, "cost", "u32"),
  f(4, "hairpin", "bool"),
  f(5, "guard", "bool"),
  f(6, "root_block", "bool"),
  f(7, "fastleave", "bool"),
  f(8, "learning", "bool"),
  f(9, "flood", "bool"),
  f(10, "proxy_arp", "bool"),
  f(11, "learning_sync", "bool"),
  f(12, "proxy_arp_wifi", "bool"),
  f(13, "root_id", "binary", undefined, "bridgeId"),
  f(14, "bridge_id", "binary", undefined, "bridgeId"),
  f(15, "designated_port", "u16"),
  f(16, "designated_cost", "u16"),
  f(17, "id", "u16", undefined, "hex"),
  f(18, "no", "u16", undefined, "hex"),
  f(19, "topology_change_ack", "u8"),
  f(20, "config_pending", "u8"),
  f(21, "message_age_timer", "u64", undefined, "timer"),
  f(22, "forward_delay_timer", "u64", undefined, "timer"),
  f(23, "hold_timer", "u64", undefined, "timer"),
  f(24, "flush", "flag"),
  f(25, "multicast_router", "u8"),
  { type: 26, name: "pad", codec: "binary" },
  f(27, "mcast_flood", "bool"),
  f(28, "mcast_to_unicast", "bool"),
  f(29, "vlan_tunnel", "bool"),
  f(30, "bcast_flood", "bool"),
  f(31, "group_fwd_mask", "u16", undefined, "hex"),
  f(32, "neigh_suppress", "bool"),
  f(33, "isolated", "bool"),
  f(34, "backup_port", "u32", undefined, "ifname"),
  f(35, "mrp_ring_open", "bool"),
  f(36, "mrp_in_open", "bool"),
  f(37, "mcast_eht_hosts_limit", "u32"),
  f(38, "mcast_eht_hosts_cnt", "u32"),
  f(39, "locked", "bool"),
  f(40, "mab", "bool"),
  f(41, "mcast_n_groups", "u32"),
  f(42, "mcast_max_groups", "u32"),
  f(43, "neigh_vlan_suppress", "bool"),
  f(44, "backup_nhid", "u32"),
  f(45, "neigh_forward_grat", "bool"),
];

const MACVLAN: readonly LinkInfoField[] = [
  f(1, "mode", "u32", MACVLAN_MODES),
  { type: 2, name: "flags", codec: "u16" }, // MACVLAN_FLAG_NOPROMISC 1, NODST 2
  { type: 3, name: "macaddrMode", codec: "u32" },
  { type: 4, name: "macaddr", codec: "mac" },
  { type: 5, name: "macaddrData", codec: "binary" },
  { type: 6, name: "macaddrCount", ip: "macaddr_count", codec: "u32" },
  { type: 7, name: "bcQueueLen", ip: "bcqueuelen", codec: "u32" },
  { type: 8, name: "bcQueueLenUsed", ip: "usedbcqueuelen", codec: "u32" },
  { type: 9, name: "bcCutoff", ip: "bclim", codec: "s32" },
];

const VXLAN: readonly LinkInfoField[] = [
  f(1, "id", "u32"),
  { type: 2, name: "group", codec: "ipv4" },
  f(3, "link", "u32", undefined, "ifname"),
  f(4, "local", "ipv4"),
  f(5, "ttl", "u8"),
  f(6, "tos", "u8", undefined, "hex"),
  f(7, "learning", "bool"),
  f(8, "ageing", "u32"),
  f(9, "limit", "u32"),
  f(10, "port_range", "binary", undefined, "range"), // struct { __be16 low, high }
  f(11, "proxy", "bool"),
  f(12, "rsc", "bool"),
  f(13, "l2miss", "bool"),
  f(14, "l3miss", "bool"),
  f(15, "port", "be16"),
  { type: 16, name: "group6", codec: "ipv6" },
  { type: 17, name: "local6", codec: "ipv6" },
  f(18, "udp_csum", "bool"),
  f(19, "udp_zero_csum6_tx", "bool"),
  f(20, "udp_zero_csum6_rx", "bool"),
  f(21, "remcsum_tx", "bool"),
  f(22, "remcsum_rx", "bool"),
  f(23, "gbp", "flag"),
  f(24, "remcsum_nopartial", "flag"),
  f(25, "collect_metadata", "bool"),
  f(26, "label", "be32", undefined, "hex"),
  f(27, "gpe", "flag"),
  f(28, "ttl_inherit", "bool"),
  f(29, "df", "u8", VXLAN_DF),
  f(30, "vnifilter", "bool"),
  f(31, "localbypass", "bool"),
  f(32, "label_policy", "u32"),
  f(33, "reserved_bits", "binary"),
  f(34, "mc_route", "bool"),
];

const TUN: readonly LinkInfoField[] = [
  { type: 1, name: "owner", ip: "user", codec: "u32" },
  { type: 2, name: "group", ip: "group", codec: "u32" },
  f(3, "type", "u8", TUN_TYPES),
  f(4, "pi", "bool"),
  f(5, "vnet_hdr", "bool"),
  f(6, "persist", "bool"),
  f(7, "multi_queue", "bool"),
  { type: 8, name: "numQueues", ip: "numqueues", codec: "u32" },
  { type: 9, name: "numDisabledQueues", ip: "numdisabled", codec: "u32" },
];

const VLAN: readonly LinkInfoField[] = [
  f(1, "id", "u16"),
  { type: 2, name: "flags", codec: "binary" }, // struct ifla_vlan_flags { u32 flags, mask }
  { type: 3, name: "egressQos", codec: "binary" }, // nested IFLA_VLAN_QOS_MAPPING
  { type: 4, name: "ingressQos", codec: "binary" },
  f(5, "protocol", "be16", VLAN_PROTOCOLS),
];

const IPVLAN: readonly LinkInfoField[] = [
  f(1, "mode", "u16", IPVLAN_MODES),
  { type: 2, name: "flags", codec: "u16" }, // IPVLAN_F_PRIVATE 1, IPVLAN_F_VEPA 2
];

const BOND: readonly LinkInfoField[] = [
  f(1, "mode", "u8", BOND_MODES),
  f(2, "active_slave", "u32", undefined, "ifname"),
  f(3, "miimon", "u32"),
  f(4, "updelay", "u32"),
  f(5, "downdelay", "u32"),
  f(6, "use_carrier", "u8"),
  f(7, "arp_interval", "u32"),
  { type: 8, name: "arpIpTarget", codec: "binary" }, // nested list of IPv4 addresses
  f(9, "arp_validate", "u32"),
  f(10, "arp_all_targets", "u32"),
  f(11, "primary", "u32", undefined, "ifname"),
  f(12, "primary_reselect", "u8"),
  f(13, "fail_over_mac", "u8"),
  f(14, "xmit_hash_policy", "u8"),
  f(15, "resend_igmp", "u32"),
  f(16, "num_peer_notif", "u8"),
  f(17, "all_slaves_active", "u8"),
  f(18, "min_links", "u32"),
  f(19, "lp_interval", "u32"),
  f(20, "packets_per_slave", "u32"),
  f(21, "ad_lacp_rate", "u8"),
  f(22, "ad_select", "u8"),
  { type: 23, name: "adInfo", codec: "binary" },
  f(24, "ad_actor_sys_prio", "u16"),
  f(25, "ad_user_port_key", "u16"),
  f(26, "ad_actor_system", "mac"),
  f(27, "tlb_dynamic_lb", "u8"),
  f(28, "peer_notify_delay", "u32"),
  f(29, "ad_lacp_active", "u8"),
  f(30, "missed_max", "u8"),
  { type: 31, name: "nsIp6Target", codec: "binary" },
  f(32, "coupled_control", "u8"),
];

const VETH: readonly LinkInfoField[] = [
  // VETH_INFO_PEER: an ifinfomsg and the peer's IFLA attributes; only in requests.
  { type: 1, name: "peer", codec: "binary" },
];

/**
 * The `IFLA_INFO_DATA` table of each link kind nsnet decodes. A kind with
 * an empty table (ifb, wireguard) has no `IFLA_INFO_DATA` at all.
 */
export const LINK_INFO_SCHEMAS: Readonly<
  Record<string, readonly LinkInfoField[]>
> = {
  veth: VETH,
  bridge: BRIDGE,
  macvlan: MACVLAN,
  macvtap: MACVLAN,
  vxlan: VXLAN,
  tun: TUN,
  ifb: [],
  vlan: VLAN,
  ipvlan: IPVLAN,
  ipvtap: IPVLAN,
  bond: BOND,
  wireguard: [],
};

/** The `IFLA_INFO_SLAVE_DATA` table of each master kind (`IFLA_INFO_SLAVE_KIND`). */
export const LINK_SLAVE_INFO_SCHEMAS: Readonly<
  Record<string, readonly LinkInfoField[]>
> = {
  bridge: BRIDGE_PORT,
};

// Lookup by attribute number, built once per table.
const byType = new WeakMap<readonly LinkInfoField[], LinkInfoField[]>();
const byName = new WeakMap<
  readonly LinkInfoField[],
  Map<string, LinkInfoField>
>();

function typeIndex(schema: readonly LinkInfoField[]): LinkInfoField[] {
  let index = byType.get(schema);
  if (index === undefined) {
    index = [];
    for (const field of schema) index[field.type] = field;
    byType.set(schema, index);
  }
  return index;
}

function nameIndex(
  schema: readonly LinkInfoField[],
): Map<string, LinkInfoField> {
  let index = byName.get(schema);
  if (index === undefined) {
    index = new Map(schema.map((field) => [field.name, field]));
    byName.set(schema, index);
  }
  return index;
}

function need(
  length: number,
  size: number,
  field: LinkInfoField,
  at: number,
): void {
  if (length < size) {
    throw new NetlinkDecodeError(
      `${field.name}: ${field.codec} attribute has ${length} bytes`,
      at,
    );
  }
}

function decodeValue(
  bytes: Uint8Array,
  view: DataView,
  field: LinkInfoField,
  at: number,
  length: number,
): LinkInfoValue {
  let n: number;
  switch (field.codec) {
    case "u8":
      need(length, 1, field, at);
      n = view.getUint8(at);
      break;
    case "u16":
      need(length, 2, field, at);
      n = view.getUint16(at, true);
      break;
    case "be16":
      need(length, 2, field, at);
      n = view.getUint16(at, false);
      break;
    case "u32":
      need(length, 4, field, at);
      n = view.getUint32(at, true);
      break;
    case "be32":
      need(length, 4, field, at);
      n = view.getUint32(at, false);
      break;
    case "s32":
      need(length, 4, field, at);
      n = view.getInt32(at, true);
      break;
    case "u64":
      need(length, 8, field, at);
      n = view.getUint32(at, true) + view.getUint32(at + 4, true) * 4294967296;
      break;
    case "bool":
      need(length, 1, field, at);
      return view.getUint8(at) !== 0;
    case "flag":
      return true;
    case "string":
      return attrString(bytes, at, length);
    case "ipv4":
      need(length, 4, field, at);
      return formatIP(bytes, at, 4);
    case "ipv6":
      need(length, 16, field, at);
      return formatIP(bytes, at, 16);
    case "mac":
      return formatMac(bytes, at, length);
    case "binary":
      return bytes.slice(at, at + length);
  }
  const word = field.values?.[n];
  return word ?? n;
}

/**
 * Decodes a kind's data nest spanning `[start, end)` by `schema`; attributes
 * it does not list go to `unknown`.
 */
export function decodeLinkInfoData(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  schema: readonly LinkInfoField[] | undefined,
): LinkInfoData {
  const data: LinkInfoData = {};
  const index = schema === undefined ? undefined : typeIndex(schema);
  forEachAttribute(view, start, end, (type, at, length) => {
    const field = index?.[type];
    if (field === undefined) {
      (data.unknown ??= []).push(rawAttribute(bytes, type, at, length));
    } else {
      data[field.name] = decodeValue(bytes, view, field, at, length);
    }
  });
  return data;
}

/** Decodes the `IFLA_LINKINFO` nest spanning `[start, end)`. */
export function decodeLinkInfo(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
): LinkInfo {
  const info: LinkInfo = {};
  let data: [number, number] | undefined;
  let slaveData: [number, number] | undefined;
  forEachAttribute(view, start, end, (type, at, length) => {
    switch (type) {
      case IFLA_INFO.KIND:
        info.kind = attrString(bytes, at, length);
        break;
      case IFLA_INFO.DATA:
        data = [at, at + length];
        break;
      case IFLA_INFO.SLAVE_KIND:
        info.slaveKind = attrString(bytes, at, length);
        break;
      case IFLA_INFO.SLAVE_DATA:
        slaveData = [at, at + length];
        break;
      default:
        (info.unknown ??= []).push(rawAttribute(bytes, type, at, length));
    }
  });
  // The data's table depends on the kind, which may come after it.
  if (data !== undefined) {
    info.data = decodeLinkInfoData(
      bytes,
      view,
      data[0],
      data[1],
      info.kind === undefined ? undefined : LINK_INFO_SCHEMAS[info.kind],
    );
  }
  if (slaveData !== undefined) {
    info.slaveData = decodeLinkInfoData(
      bytes,
      view,
      slaveData[0],
      slaveData[1],
      info.slaveKind === undefined
        ? undefined
        : LINK_SLAVE_INFO_SCHEMAS[info.slaveKind],
    );
  }
  return info;
}

/** A growing list of attributes, written without NLA_F_NESTED on nests (as the kernel sends IFLA_LINKINFO). */
export class AttributeBuffer {
  #parts: Uint8Array[] = [];
  #length = 0;

  /** Appends one attribute with `payload`. */
  add(type: number, payload: Uint8Array): this {
    const total = 4 + payload.length;
    const padded = (total + 3) & ~3;
    const out = new Uint8Array(padded);
    const view = new DataView(out.buffer);
    view.setUint16(0, total, true);
    view.setUint16(2, type, true);
    out.set(payload, 4);
    this.#parts.push(out);
    this.#length += padded;
    return this;
  }

  /** The attributes so far, concatenated. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let p = 0;
    for (const part of this.#parts) {
      out.set(part, p);
      p += part.length;
    }
    return out;
  }
}

const encoder = new TextEncoder();

/**
 * Parses a hardware address of any length as {@linkcode formatMac} writes
 * it (`02:42:ac:11:00:02`, or 4 bytes for an ipip tunnel; `""` is empty).
 */
export function parseHwAddress(text: string): Uint8Array {
  if (text === "") return new Uint8Array(0);
  const parts = text.split(":");
  if (!parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new InvalidArgumentError(
      `invalid hardware address ${JSON.stringify(text)}`,
    );
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

function number(field: LinkInfoField, value: LinkInfoValue): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && field.values !== undefined) {
    for (const [n, word] of Object.entries(field.values)) {
      if (word === value) return Number(n);
    }
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  throw new InvalidArgumentError(
    `${field.name}: ${JSON.stringify(value)} is not a ${field.codec} value` +
      (field.values
        ? ` (one of ${Object.values(field.values).join(", ")})`
        : ""),
  );
}

function encodeValue(field: LinkInfoField, value: LinkInfoValue): Uint8Array {
  const fixed = (size: number, set: (view: DataView) => void): Uint8Array => {
    const out = new Uint8Array(size);
    set(new DataView(out.buffer));
    return out;
  };
  switch (field.codec) {
    case "u8":
    case "bool":
      return Uint8Array.of(number(field, value) & 0xff);
    case "u16":
      return fixed(2, (v) => v.setUint16(0, number(field, value), true));
    case "be16":
      return fixed(2, (v) => v.setUint16(0, number(field, value), false));
    case "u32":
      return fixed(4, (v) => v.setUint32(0, number(field, value) >>> 0, true));
    case "be32":
      return fixed(4, (v) => v.setUint32(0, number(field, value) >>> 0, false));
    case "s32":
      return fixed(4, (v) => v.setInt32(0, number(field, value), true));
    case "u64": {
      const n = number(field, value);
      return fixed(8, (v) => {
        v.setUint32(0, n % 4294967296, true);
        v.setUint32(4, Math.floor(n / 4294967296), true);
      });
    }
    case "flag":
      return new Uint8Array(0);
    case "string":
      return encoder.encode(String(value) + "\0");
    case "ipv4":
    case "ipv6":
      return parseIP(String(value)).bytes;
    case "mac":
      return parseHwAddress(String(value));
    case "binary":
      if (value instanceof Uint8Array) return value;
      throw new InvalidArgumentError(`${field.name}: expected bytes`);
  }
}

/**
 * Encodes a kind's data: its fields in the object's key order (the wire
 * order they were decoded in), then the unknown attributes. A `flag` field
 * that is false is left out.
 */
export function encodeLinkInfoData(
  data: LinkInfoData,
  schema: readonly LinkInfoField[] | undefined,
): Uint8Array {
  const out = new AttributeBuffer();
  const names = schema === undefined ? undefined : nameIndex(schema);
  for (const key of Object.keys(data)) {
    if (key === "unknown") continue;
    const value = data[key];
    if (value === undefined || Array.isArray(value)) continue;
    const field = names?.get(key);
    if (field === undefined) {
      throw new InvalidArgumentError(`no ${key} attribute in this kind's data`);
    }
    if (field.codec === "flag" && value === false) continue;
    out.add(field.type, encodeValue(field, value));
  }
  for (const raw of data.unknown ?? []) out.add(raw.type, raw.data);
  return out.bytes();
}

/**
 * The payload of an `IFLA_LINKINFO` for `info`, in the kernel's order:
 * kind, other attributes (xstats), data, port kind, port data. Nests carry
 * no NLA_F_NESTED flag, as the kernel's own do; the kernel accepts both.
 */
export function encodeLinkInfo(info: LinkInfo): Uint8Array {
  const out = new AttributeBuffer();
  if (info.kind !== undefined) {
    out.add(IFLA_INFO.KIND, encoder.encode(info.kind + "\0"));
  }
  for (const raw of info.unknown ?? []) out.add(raw.type, raw.data);
  if (info.data !== undefined) {
    out.add(
      IFLA_INFO.DATA,
      encodeLinkInfoData(
        info.data,
        info.kind === undefined ? undefined : LINK_INFO_SCHEMAS[info.kind],
      ),
    );
  }
  if (info.slaveKind !== undefined) {
    out.add(IFLA_INFO.SLAVE_KIND, encoder.encode(info.slaveKind + "\0"));
  }
  if (info.slaveData !== undefined) {
    out.add(
      IFLA_INFO.SLAVE_DATA,
      encodeLinkInfoData(
        info.slaveData,
        info.slaveKind === undefined
          ? undefined
          : LINK_SLAVE_INFO_SCHEMAS[info.slaveKind],
      ),
    );
  }
  return out.bytes();
}

/** A JSON value as ip prints it. */
export type IpJson =
  | string
  | number
  | boolean
  | null
  | IpJson[]
  | { [key: string]: IpJson };

function hex(n: number): string {
  return n === 0 ? "0" : `0x${n.toString(16)}`;
}

function bridgeId(bytes: Uint8Array): string {
  if (bytes.length < 8) return "";
  // ip writes the priority bytes padded and the address bytes unpadded ("8000.3a:c:15:…").
  const h = (b: number): string => b.toString(16);
  const prio = h(bytes[0]!).padStart(2, "0") + h(bytes[1]!).padStart(2, "0");
  return `${prio}.${Array.from(bytes.subarray(2, 8), h).join(":")}`;
}

const VLAN_FLAG_NAMES: readonly [number, string][] = [
  [0x1, "REORDER_HDR"],
  [0x2, "GVRP"],
  [0x4, "LOOSE_BINDING"],
  [0x8, "MVRP"],
  [0x10, "BRIDGE_BINDING"],
];

/**
 * `info_data` (or `info_slave_data`) as `ip -j -d link` prints it, from
 * decoded data: ip's keys and value words; fields ip does not print (raw
 * structs nsnet keeps as bytes) are left out. `nameOf` turns an index
 * into a link name (ip prints `"link": "eth0"` for a vxlan's dev).
 */
export function linkInfoDataIpJson(
  kind: string,
  data: LinkInfoData,
  schema: readonly LinkInfoField[] | undefined,
  nameOf: (index: number) => string,
): Record<string, IpJson> {
  const out: Record<string, IpJson> = {};
  const names = schema === undefined ? undefined : nameIndex(schema);
  for (const key of Object.keys(data)) {
    const field = names?.get(key);
    const value = data[key];
    if (
      field === undefined || field.ip === undefined || value === undefined ||
      Array.isArray(value)
    ) continue;
    if (value instanceof Uint8Array) {
      if (field.json === "bridgeId") out[field.ip] = bridgeId(value);
      else if (field.json === "range" && value.length >= 4) {
        out[field.ip] = {
          low: (value[0]! << 8) | value[1]!,
          high: (value[2]! << 8) | value[3]!,
        };
      }
      continue;
    }
    if (typeof value === "number") {
      switch (field.json) {
        case "hex":
          out[field.ip] = hex(value);
          continue;
        case "timer":
          out[field.ip] = Math.round(value) / 100;
          continue;
        case "ifname":
          if (value !== 0) out[field.ip] = nameOf(value);
          continue;
      }
    }
    out[field.ip] = value;
  }
  // What ip prints differently from one attribute, one key.
  switch (kind) {
    case "vxlan":
      vxlanJson(data, out);
      break;
    case "macvlan":
    case "macvtap": {
      const flags = typeof data.flags === "number" ? data.flags : 0;
      if (flags & 1) out.nopromisc = true;
      if (flags & 2) out.nodst = true;
      break;
    }
    case "tun":
      if (out.user === 0xffffffff) delete out.user;
      if (out.group === 0xffffffff) delete out.group;
      break;
    case "bridge":
      if (data.multiBoolopt instanceof Uint8Array) {
        const b = data.multiBoolopt;
        if (b.length >= 8) {
          const v = new DataView(b.buffer, b.byteOffset, 8);
          const value = v.getUint32(0, true);
          const mask = v.getUint32(4, true);
          if (mask & 1) out.no_linklocal_learn = (value & 1) ? 1 : 0;
          if (mask & 2) out.mcast_vlan_snooping = (value & 2) ? 1 : 0;
          if (mask & 4) out.mst_enabled = (value & 4) ? 1 : 0;
        }
      }
      break;
    case "bridge_slave":
      if (typeof data.groupFwdMask === "number") {
        out.group_fwd_mask_str = `0x${data.groupFwdMask.toString(16)}`;
      }
      break;
    case "vlan":
      if (data.flags instanceof Uint8Array && data.flags.length >= 4) {
        const b = data.flags;
        const flags = new DataView(b.buffer, b.byteOffset, 4).getUint32(
          0,
          true,
        );
        out.flags = VLAN_FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0)
          .map(([, name]) => name);
      }
      break;
  }
  return out;
}

function vxlanJson(data: LinkInfoData, out: Record<string, IpJson>): void {
  const multicast4 = (a: string): boolean => {
    const first = Number(a.split(".")[0]);
    return first >= 224 && first <= 239;
  };
  if (typeof data.group === "string" && data.group !== "0.0.0.0") {
    out[multicast4(data.group) ? "group" : "remote"] = data.group;
  } else if (typeof data.group6 === "string" && data.group6 !== "::") {
    out[data.group6.startsWith("ff") ? "group6" : "remote6"] = data.group6;
  }
  if (out.local === "0.0.0.0") delete out.local;
  if (typeof data.local6 === "string" && data.local6 !== "::") {
    out.local6 = data.local6;
  }
  if (out.tos === "0") delete out.tos;
  if (out.label === "0") delete out.label;
  if (out.limit === 0) delete out.limit;
  if (data.gbp === true) out.gbp = null;
  if (data.gpe === true) out.gpe = null;
  delete out.remcsum_nopartial;
  delete out.ttl_inherit;
}

/**
 * The `linkinfo` object of `ip -j -d link`: `info_kind`, `info_data`,
 * `info_slave_kind`, `info_slave_data`. ip prints `info_data` only for
 * kinds it has a printer for (not veth or ifb).
 */
export function linkInfoIpJson(
  info: LinkInfo,
  nameOf: (index: number) => string,
): Record<string, IpJson> {
  const out: Record<string, IpJson> = {};
  if (info.kind !== undefined) {
    out.info_kind = info.kind;
    const schema = LINK_INFO_SCHEMAS[info.kind];
    if (schema !== undefined && schema.length > 0 && info.kind !== "veth") {
      out.info_data = linkInfoDataIpJson(
        info.kind,
        info.data ?? {},
        schema,
        nameOf,
      );
    }
  }
  if (info.slaveKind !== undefined) {
    out.info_slave_kind = info.slaveKind;
    const schema = LINK_SLAVE_INFO_SCHEMAS[info.slaveKind];
    if (schema !== undefined) {
      out.info_slave_data = linkInfoDataIpJson(
        `${info.slaveKind}_slave`,
        info.slaveData ?? {},
        schema,
        nameOf,
      );
    }
  }
  return out;
}
