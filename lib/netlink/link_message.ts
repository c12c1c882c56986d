/**
 * Link messages (`ifinfomsg` + IFLA attributes): the decoded {@linkcode Link},
 * its 64-bit statistics, and the flag names `ip` prints. Pure: no FFI and no
 * Deno APIs.
 *
 * @module
 */

import {
  align,
  attrI32,
  attrString,
  attrU16,
  attrU32,
  attrU8,
  forEachAttribute,
  MessageWriter,
  type RawAttribute,
} from "./codec.ts";
import {
  AF,
  IFF,
  IFLA,
  IFLA_INFO,
  NLA_TYPE_MASK,
  NLM_F,
  OPERSTATES,
  RTM,
  SIZE,
  VETH_INFO,
} from "./constants.ts";
import { NetlinkDecodeError } from "./errors.ts";
import { formatMac } from "./ip_address.ts";
import { stableCopy } from "./_stable_copy.ts";
import {
  decodeLinkInfo,
  encodeLinkInfo,
  type LinkInfo,
  parseHwAddress,
} from "./link_info.ts";

/**
 * `ifinfomsg` attributes beyond those in constants.ts that a {@linkcode Link}
 * decodes (linux/if_link.h numbers).
 */
export const IFLA_MORE = {
  NUM_TX_QUEUES: 31,
  NUM_RX_QUEUES: 32,
  PROTO_DOWN: 39,
  GSO_MAX_SEGS: 40,
  GSO_MAX_SIZE: 41,
  CARRIER_UP_COUNT: 47,
  CARRIER_DOWN_COUNT: 48,
  GRO_MAX_SIZE: 58,
  TSO_MAX_SIZE: 59,
  TSO_MAX_SEGS: 60,
  ALLMULTI: 61,
  GSO_IPV4_MAX_SIZE: 63,
  GRO_IPV4_MAX_SIZE: 64,
  MAX_PACING_OFFLOAD_HORIZON: 66,
  NETNS_IMMUTABLE: 67,
  HEADROOM: 68,
  TAILROOM: 69,
} as const;

/**
 * A link's `rtnl_link_stats64` counters. Older kernels send fewer (192 or 184
 * bytes); missing counters are 0. Counters are numbers: exact up to 2^53.
 */
export interface LinkStats {
  /** Packets received. */
  rxPackets: number;
  /** Packets sent. */
  txPackets: number;
  /** Bytes received. */
  rxBytes: number;
  /** Bytes sent. */
  txBytes: number;
  /** Bad packets received. */
  rxErrors: number;
  /** Packet transmit problems. */
  txErrors: number;
  /** Received packets dropped (no space, etc.). */
  rxDropped: number;
  /** Packets dropped on transmit. */
  txDropped: number;
  /** Multicast packets received. */
  multicast: number;
  /** Collisions on transmit. */
  collisions: number;
  /** Received frames with a bad length. */
  rxLengthErrors: number;
  /** Receiver ring buffer overflows. */
  rxOverErrors: number;
  /** Received frames with a CRC error. */
  rxCrcErrors: number;
  /** Received frames with an alignment error. */
  rxFrameErrors: number;
  /** Receiver FIFO overruns. */
  rxFifoErrors: number;
  /** Packets missed by the receiver. */
  rxMissedErrors: number;
  /** Transmissions aborted. */
  txAbortedErrors: number;
  /** Carrier errors on transmit. */
  txCarrierErrors: number;
  /** Transmitter FIFO errors. */
  txFifoErrors: number;
  /** Heartbeat (SQE test) errors. */
  txHeartbeatErrors: number;
  /** Late collisions. */
  txWindowErrors: number;
  /** Compressed packets received. */
  rxCompressed: number;
  /** Compressed packets sent. */
  txCompressed: number;
  /** Packets dropped for lack of a protocol handler. */
  rxNohandler: number;
  /** Packets dropped because they were addressed to another host. */
  rxOtherhostDropped: number;
}

/** The counter names of {@linkcode LinkStats} in kernel order. */
export const LINK_STATS_FIELDS: readonly (keyof LinkStats)[] = [
  "rxPackets",
  "txPackets",
  "rxBytes",
  "txBytes",
  "rxErrors",
  "txErrors",
  "rxDropped",
  "txDropped",
  "multicast",
  "collisions",
  "rxLengthErrors",
  "rxOverErrors",
  "rxCrcErrors",
  "rxFrameErrors",
  "rxFifoErrors",
  "rxMissedErrors",
  "txAbortedErrors",
  "txCarrierErrors",
  "txFifoErrors",
  "txHeartbeatErrors",
  "txWindowErrors",
  "rxCompressed",
  "txCompressed",
  "rxNohandler",
  "rxOtherhostDropped",
];

/** A network interface as the kernel reports it. */
export interface Link {
  /** Interface index. */
  index: number;
  /** Interface name. */
  name: string;
  /** ARPHRD link type (1 ether, 772 loopback, 65534 none). */
  type: number;
  /** `IFF_*` flags. */
  flags: number;
  /** The link kind (`veth`, `bridge`, `ifb`...) when it has one. */
  kind: string | undefined;
  /** The kind of link this one is enslaved to (`bridge`...), if any. */
  slaveKind: string | undefined;
  /** MTU in bytes. */
  mtu: number;
  /** Smallest MTU the driver allows, when reported. */
  minMtu: number | undefined;
  /** Largest MTU the driver allows, when reported. */
  maxMtu: number | undefined;
  /** Link-layer address, e.g. `02:42:ac:11:00:02`. */
  mac: string | undefined;
  /** Link-layer broadcast address. */
  broadcast: string | undefined;
  /** Permanent hardware address, when the driver has one. */
  permanentMac: string | undefined;
  /** RFC 2863 operational state: `UP`, `DOWN`, `UNKNOWN`, `LOWERLAYERDOWN`... */
  operstate: string;
  /** Index of the master (bridge, bond) this link is enslaved to. */
  master: number | undefined;
  /** Index of the peer (veth) or parent (macvlan, vlan) link. */
  link: number | undefined;
  /** When set, {@linkcode Link.link} is an index in the namespace with this nsid. */
  linkNetnsId: number | undefined;
  /** Queueing discipline name. */
  qdisc: string | undefined;
  /** Transmit queue length. */
  txqlen: number | undefined;
  /** Interface group. */
  group: number | undefined;
  /** Promiscuity count. */
  promiscuity: number | undefined;
  /** Whether the carrier is up, when reported. */
  carrier: boolean | undefined;
  /** Number of carrier changes, when reported. */
  carrierChanges: number | undefined;
  /** The interface alias, if one is set. */
  alias: string | undefined;
  /** Alternative names (`ip link property add … altname`), in the kernel's order. */
  altNames: string[];
  /** 64-bit statistics, unless they were skipped. */
  stats: LinkStats | undefined;
  /** IFLA_LINKMODE: 0 default, 1 dormant. */
  linkMode?: number;
  /** All-multicast count (IFLA_ALLMULTI). */
  allmulti?: number;
  /** Transmit queues. */
  numTxQueues?: number;
  /** Receive queues. */
  numRxQueues?: number;
  /** Largest GSO segment count. */
  gsoMaxSegs?: number;
  /** Largest GSO packet. */
  gsoMaxSize?: number;
  /** Largest GRO packet. */
  groMaxSize?: number;
  /** Largest TSO packet. */
  tsoMaxSize?: number;
  /** Largest TSO segment count. */
  tsoMaxSegs?: number;
  /** Largest IPv4 GSO packet. */
  gsoIpv4MaxSize?: number;
  /** Largest IPv4 GRO packet. */
  groIpv4MaxSize?: number;
  /** Times the carrier went up. */
  carrierUpCount?: number;
  /** Times the carrier went down. */
  carrierDownCount?: number;
  /** Administratively held down (IFLA_PROTO_DOWN). */
  protoDown?: boolean;
  /** The link cannot be moved to another namespace (IFLA_NETNS_IMMUTABLE). */
  netnsImmutable?: boolean;
  /** Headroom the device needs, in bytes. */
  headroom?: number;
  /** Tailroom the device needs, in bytes. */
  tailroom?: number;
  /** IFLA_MAX_PACING_OFFLOAD_HORIZON, in nanoseconds. */
  maxPacingOffloadHorizon?: number;
  /** IFLA_LINKINFO: kind, kind-specific data, port kind and data (see link_info.ts). */
  info?: LinkInfo;
  /** Attributes nsnet does not decode (IFLA_AF_SPEC, IFLA_XDP, IFLA_MAP...), as they came. */
  unknown?: RawAttribute[];
}

/** Decodes `rtnl_link_stats64` (any length: missing trailing counters are 0). */
export function decodeLinkStats(
  view: DataView,
  offset: number,
  length: number,
): LinkStats {
  if (length < LINK_STATS_FIELDS.length * 8) {
    return shortLinkStats(view, offset, length);
  }
  // The whole struct is there (every kernel since 5.x): plain reads, no bounds per counter.
  const u64 = (at: number): number =>
    view.getUint32(at, true) + view.getUint32(at + 4, true) * 4294967296;
  return {
    rxPackets: u64(offset),
    txPackets: u64(offset + 8),
    rxBytes: u64(offset + 16),
    txBytes: u64(offset + 24),
    rxErrors: u64(offset + 32),
    txErrors: u64(offset + 40),
    rxDropped: u64(offset + 48),
    txDropped: u64(offset + 56),
    multicast: u64(offset + 64),
    collisions: u64(offset + 72),
    rxLengthErrors: u64(offset + 80),
    rxOverErrors: u64(offset + 88),
    rxCrcErrors: u64(offset + 96),
    rxFrameErrors: u64(offset + 104),
    rxFifoErrors: u64(offset + 112),
    rxMissedErrors: u64(offset + 120),
    txAbortedErrors: u64(offset + 128),
    txCarrierErrors: u64(offset + 136),
    txFifoErrors: u64(offset + 144),
    txHeartbeatErrors: u64(offset + 152),
    txWindowErrors: u64(offset + 160),
    rxCompressed: u64(offset + 168),
    txCompressed: u64(offset + 176),
    rxNohandler: u64(offset + 184),
    rxOtherhostDropped: u64(offset + 192),
  };
}

function shortLinkStats(
  view: DataView,
  offset: number,
  length: number,
): LinkStats {
  const count = Math.min(LINK_STATS_FIELDS.length, length >>> 3);
  const u64 = (i: number): number => {
    if (i >= count) return 0;
    const at = offset + i * 8;
    return view.getUint32(at, true) + view.getUint32(at + 4, true) * 4294967296;
  };
  return {
    rxPackets: u64(0),
    txPackets: u64(1),
    rxBytes: u64(2),
    txBytes: u64(3),
    rxErrors: u64(4),
    txErrors: u64(5),
    rxDropped: u64(6),
    txDropped: u64(7),
    multicast: u64(8),
    collisions: u64(9),
    rxLengthErrors: u64(10),
    rxOverErrors: u64(11),
    rxCrcErrors: u64(12),
    rxFrameErrors: u64(13),
    rxFifoErrors: u64(14),
    rxMissedErrors: u64(15),
    txAbortedErrors: u64(16),
    txCarrierErrors: u64(17),
    txFifoErrors: u64(18),
    txHeartbeatErrors: u64(19),
    txWindowErrors: u64(20),
    rxCompressed: u64(21),
    txCompressed: u64(22),
    rxNohandler: u64(23),
    rxOtherhostDropped: u64(24),
  };
}

/**
 * Decodes the body of an RTM_NEWLINK message that spans `[offset, end)` (the
 * part after the netlink header).
 */
export function decodeLink(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  end: number,
): Link {
  if (offset + SIZE.IFINFOMSG > end) {
    throw new NetlinkDecodeError("link message shorter than ifinfomsg", offset);
  }
  const link: Link = {
    index: view.getInt32(offset + 4, true),
    name: "",
    type: view.getUint16(offset + 2, true),
    flags: view.getUint32(offset + 8, true),
    kind: undefined,
    slaveKind: undefined,
    mtu: 0,
    minMtu: undefined,
    maxMtu: undefined,
    mac: undefined,
    broadcast: undefined,
    permanentMac: undefined,
    operstate: "UNKNOWN",
    master: undefined,
    link: undefined,
    linkNetnsId: undefined,
    qdisc: undefined,
    txqlen: undefined,
    group: undefined,
    promiscuity: undefined,
    carrier: undefined,
    carrierChanges: undefined,
    alias: undefined,
    altNames: [],
    stats: undefined,
  };
  let held: [Uint8Array, number] | undefined;
  // The attribute walk is inlined (no callback per link): a dump has ~40 attributes a link.
  let p = offset + SIZE.IFINFOMSG;
  while (p + SIZE.NLATTR <= end) {
    const size = view.getUint16(p, true);
    if (size < SIZE.NLATTR || p + size > end) {
      throw new NetlinkDecodeError(`attribute length ${size} does not fit`, p);
    }
    const at = p + SIZE.NLATTR;
    const length = size - SIZE.NLATTR;
    const type = view.getUint16(p + 2, true) & NLA_TYPE_MASK;
    p += align(size);
    switch (type) {
      case 3: // IFLA.IFNAME
        link.name = attrString(bytes, at, length);
        break;
      case 4: // IFLA.MTU
        link.mtu = attrU32(view, at, length);
        break;
      case 50: // IFLA.MIN_MTU
        link.minMtu = attrU32(view, at, length);
        break;
      case 51: // IFLA.MAX_MTU
        link.maxMtu = attrU32(view, at, length);
        break;
      case 1: // IFLA.ADDRESS
        link.mac = formatMac(bytes, at, length);
        break;
      case 2: // IFLA.BROADCAST
        link.broadcast = formatMac(bytes, at, length);
        break;
      case 54: // IFLA.PERM_ADDRESS
        link.permanentMac = formatMac(bytes, at, length);
        break;
      case 16: { // IFLA.OPERSTATE
        const state = attrU8(view, at, length);
        link.operstate = OPERSTATES[state] ?? `STATE${state}`;
        break;
      }
      case 10: // IFLA.MASTER
        link.master = attrU32(view, at, length);
        break;
      case 5: // IFLA.LINK
        link.link = attrU32(view, at, length);
        break;
      case 37: // IFLA.LINK_NETNSID
        link.linkNetnsId = attrI32(view, at, length);
        break;
      case 6: // IFLA.QDISC
        link.qdisc = attrString(bytes, at, length);
        break;
      case 13: // IFLA.TXQLEN
        link.txqlen = attrU32(view, at, length);
        break;
      case 27: // IFLA.GROUP
        link.group = attrU32(view, at, length);
        break;
      case 30: // IFLA.PROMISCUITY
        link.promiscuity = attrU32(view, at, length);
        break;
      case 33: // IFLA.CARRIER
        link.carrier = attrU8(view, at, length) !== 0;
        break;
      case 35: // IFLA.CARRIER_CHANGES
        link.carrierChanges = attrU32(view, at, length);
        break;
      case 20: // IFLA.IFALIAS
        link.alias = attrString(bytes, at, length);
        break;
      case 52: // IFLA.PROP_LIST
        forEachAttribute(
          view,
          at,
          at + length,
          (inner, innerAt, innerLength) => {
            if (inner === IFLA.ALT_IFNAME) {
              link.altNames.push(attrString(bytes, innerAt, innerLength));
            }
          },
        );
        break;
      case 23: // IFLA.STATS64
        link.stats = decodeLinkStats(view, at, length);
        break;
      case 18: { // IFLA.LINKINFO
        const info = decodeLinkInfo(bytes, view, at, at + length);
        link.info = info;
        link.kind = info.kind;
        link.slaveKind = info.slaveKind;
        break;
      }
      case 17: // IFLA.LINKMODE
        link.linkMode = attrU8(view, at, length);
        break;
      case 61: // IFLA_MORE.ALLMULTI
        link.allmulti = attrU32(view, at, length);
        break;
      case 31: // IFLA_MORE.NUM_TX_QUEUES
        link.numTxQueues = attrU32(view, at, length);
        break;
      case 32: // IFLA_MORE.NUM_RX_QUEUES
        link.numRxQueues = attrU32(view, at, length);
        break;
      case 40: // IFLA_MORE.GSO_MAX_SEGS
        link.gsoMaxSegs = attrU32(view, at, length);
        break;
      case 41: // IFLA_MORE.GSO_MAX_SIZE
        link.gsoMaxSize = attrU32(view, at, length);
        break;
      case 58: // IFLA_MORE.GRO_MAX_SIZE
        link.groMaxSize = attrU32(view, at, length);
        break;
      case 59: // IFLA_MORE.TSO_MAX_SIZE
        link.tsoMaxSize = attrU32(view, at, length);
        break;
      case 60: // IFLA_MORE.TSO_MAX_SEGS
        link.tsoMaxSegs = attrU32(view, at, length);
        break;
      case 63: // IFLA_MORE.GSO_IPV4_MAX_SIZE
        link.gsoIpv4MaxSize = attrU32(view, at, length);
        break;
      case 64: // IFLA_MORE.GRO_IPV4_MAX_SIZE
        link.groIpv4MaxSize = attrU32(view, at, length);
        break;
      case 47: // IFLA_MORE.CARRIER_UP_COUNT
        link.carrierUpCount = attrU32(view, at, length);
        break;
      case 48: // IFLA_MORE.CARRIER_DOWN_COUNT
        link.carrierDownCount = attrU32(view, at, length);
        break;
      case 39: // IFLA_MORE.PROTO_DOWN
        link.protoDown = attrU8(view, at, length) !== 0;
        break;
      case 67: // IFLA_MORE.NETNS_IMMUTABLE
        link.netnsImmutable = attrU8(view, at, length) !== 0;
        break;
      case 68: // IFLA_MORE.HEADROOM
        link.headroom = attrU16(view, at, length);
        break;
      case 69: // IFLA_MORE.TAILROOM
        link.tailroom = attrU16(view, at, length);
        break;
      case 66: // IFLA_MORE.MAX_PACING_OFFLOAD_HORIZON
        link.maxPacingOffloadHorizon = attrU32(view, at, length);
        break;
      default: {
        // Copies shared across the datagram (_stable_copy.ts says why).
        let data = EMPTY;
        if (length > 0) {
          const [copy, base] = held ??= stableCopy(bytes, offset, end);
          data = new Uint8Array(
            copy.buffer,
            copy.byteOffset + at - base,
            length,
          );
        }
        (link.unknown ??= []).push({ type, data });
      }
    }
  }
  return link;
}

// Empty payloads (IFLA_DEVLINK_PORT, IFLA_DPLL_PIN...) share one view: there is nothing to change in it.
const EMPTY: Uint8Array = new Uint8Array(0);

const OPERSTATE_NUMBERS = new Map(OPERSTATES.map((name, i) => [name, i]));

/**
 * Encodes a {@linkcode Link} as an rtnetlink message (RTM_NEWLINK by
 * default): the same type decodes and encodes (R2), so a link read from
 * one namespace can be written, compared or replayed. Every field that is
 * set is written, then the unknown attributes as they came, so
 * `decodeLink(encodeLink(link))` equals `link`. IFLA_LINKINFO is written
 * byte for byte as the kernel sends it; the order of the other attributes
 * is nsnet's, not necessarily the kernel's.
 */
export function encodeLink(
  link: Link,
  type: number = RTM.NEWLINK,
  flags: number = NLM_F.REQUEST,
): MessageWriter {
  const w = new MessageWriter(type, flags, 512).struct(
    SIZE.IFINFOMSG,
    (view, at) => {
      view.setUint8(at, AF.UNSPEC);
      view.setUint16(at + 2, link.type, true);
      view.setInt32(at + 4, link.index, true);
      view.setUint32(at + 8, link.flags, true);
    },
  );
  const u32 = (t: number, v: number | undefined): void => {
    if (v !== undefined) w.u32(t, v);
  };
  if (link.name !== "") w.string(IFLA.IFNAME, link.name);
  u32(IFLA.TXQLEN, link.txqlen);
  w.u8(
    IFLA.OPERSTATE,
    OPERSTATE_NUMBERS.get(link.operstate) ??
      (Number(link.operstate.replace(/^STATE/, "")) || 0),
  );
  if (link.linkMode !== undefined) w.u8(IFLA.LINKMODE, link.linkMode);
  if (link.mtu !== 0) w.u32(IFLA.MTU, link.mtu);
  u32(IFLA.MIN_MTU, link.minMtu);
  u32(IFLA.MAX_MTU, link.maxMtu);
  u32(IFLA.GROUP, link.group);
  u32(IFLA.PROMISCUITY, link.promiscuity);
  u32(IFLA_MORE.ALLMULTI, link.allmulti);
  u32(IFLA_MORE.NUM_TX_QUEUES, link.numTxQueues);
  u32(IFLA_MORE.GSO_MAX_SEGS, link.gsoMaxSegs);
  u32(IFLA_MORE.GSO_MAX_SIZE, link.gsoMaxSize);
  u32(IFLA_MORE.GRO_MAX_SIZE, link.groMaxSize);
  u32(IFLA_MORE.GSO_IPV4_MAX_SIZE, link.gsoIpv4MaxSize);
  u32(IFLA_MORE.GRO_IPV4_MAX_SIZE, link.groIpv4MaxSize);
  u32(IFLA_MORE.TSO_MAX_SIZE, link.tsoMaxSize);
  u32(IFLA_MORE.TSO_MAX_SEGS, link.tsoMaxSegs);
  u32(IFLA_MORE.NUM_RX_QUEUES, link.numRxQueues);
  u32(IFLA.MASTER, link.master);
  if (link.carrier !== undefined) w.u8(IFLA.CARRIER, link.carrier ? 1 : 0);
  if (link.protoDown !== undefined) {
    w.u8(IFLA_MORE.PROTO_DOWN, link.protoDown ? 1 : 0);
  }
  u32(IFLA.CARRIER_CHANGES, link.carrierChanges);
  u32(IFLA_MORE.MAX_PACING_OFFLOAD_HORIZON, link.maxPacingOffloadHorizon);
  if (link.netnsImmutable !== undefined) {
    w.u8(IFLA_MORE.NETNS_IMMUTABLE, link.netnsImmutable ? 1 : 0);
  }
  if (link.headroom !== undefined) w.u16(IFLA_MORE.HEADROOM, link.headroom);
  if (link.tailroom !== undefined) w.u16(IFLA_MORE.TAILROOM, link.tailroom);
  u32(IFLA_MORE.CARRIER_UP_COUNT, link.carrierUpCount);
  u32(IFLA_MORE.CARRIER_DOWN_COUNT, link.carrierDownCount);
  if (link.mac !== undefined) {
    w.bytes(IFLA.ADDRESS, parseHwAddress(link.mac));
  }
  if (link.broadcast !== undefined) {
    w.bytes(IFLA.BROADCAST, parseHwAddress(link.broadcast));
  }
  if (link.permanentMac !== undefined) {
    w.bytes(IFLA.PERM_ADDRESS, parseHwAddress(link.permanentMac));
  }
  u32(IFLA.LINK, link.link);
  if (link.linkNetnsId !== undefined) {
    w.struct(SIZE.NLATTR + 4, (view, at) => {
      view.setUint16(at, SIZE.NLATTR + 4, true);
      view.setUint16(at + 2, IFLA.LINK_NETNSID, true);
      view.setInt32(at + 4, link.linkNetnsId!, true);
    });
  }
  if (link.qdisc !== undefined) w.string(IFLA.QDISC, link.qdisc);
  if (link.alias !== undefined) w.string(IFLA.IFALIAS, link.alias);
  if (link.stats !== undefined) {
    const stats = link.stats;
    w.struct(SIZE.NLATTR + LINK_STATS_FIELDS.length * 8, (view, at) => {
      view.setUint16(at, SIZE.NLATTR + LINK_STATS_FIELDS.length * 8, true);
      view.setUint16(at + 2, IFLA.STATS64, true);
      LINK_STATS_FIELDS.forEach((name, i) => {
        const n = stats[name];
        view.setUint32(at + 4 + i * 8, n % 4294967296, true);
        view.setUint32(at + 8 + i * 8, Math.floor(n / 4294967296), true);
      });
    });
  }
  const info: LinkInfo | undefined = link.info ??
    (link.kind !== undefined || link.slaveKind !== undefined
      ? { kind: link.kind, slaveKind: link.slaveKind }
      : undefined);
  if (info !== undefined) w.bytes(IFLA.LINKINFO, encodeLinkInfo(info));
  if (link.altNames.length > 0) {
    w.begin(IFLA.PROP_LIST);
    for (const name of link.altNames) w.string(IFLA.ALT_IFNAME, name);
    w.end();
  }
  for (const raw of link.unknown ?? []) w.bytes(raw.type, raw.data);
  return w;
}

/** The peer a veth creation request names, as read back from the request. */
export interface VethPeerInfo {
  /** The peer's name. */
  name: string;
  /** The namespace fd the peer is created in, if one was given. */
  netnsFd: number | undefined;
}

/**
 * Reads the VETH_INFO_PEER of a veth creation request's IFLA_LINKINFO (for
 * round-trip checks of what nsnet sends). Returns undefined if there is none.
 */
export function decodeVethPeer(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  end: number,
): VethPeerInfo | undefined {
  let peer: VethPeerInfo | undefined;
  forEachAttribute(view, offset + SIZE.IFINFOMSG, end, (type, at, length) => {
    if (type !== IFLA.LINKINFO) return;
    forEachAttribute(view, at, at + length, (infoType, infoAt, infoLength) => {
      if (infoType !== IFLA_INFO.DATA) return;
      forEachAttribute(
        view,
        infoAt,
        infoAt + infoLength,
        (dataType, dataAt, dataLength) => {
          if (dataType !== VETH_INFO.PEER) return;
          if (dataLength < SIZE.IFINFOMSG) {
            throw new NetlinkDecodeError(
              "veth peer shorter than ifinfomsg",
              dataAt,
            );
          }
          const info: VethPeerInfo = { name: "", netnsFd: undefined };
          forEachAttribute(
            view,
            dataAt + SIZE.IFINFOMSG,
            dataAt + dataLength,
            (peerType, peerAt, peerLength) => {
              if (peerType === IFLA.IFNAME) {
                info.name = attrString(bytes, peerAt, peerLength);
              }
              if (peerType === IFLA.NET_NS_FD) {
                info.netnsFd = attrU32(view, peerAt, peerLength);
              }
            },
          );
          peer = info;
        },
      );
    });
  });
  return peer;
}

const FLAG_NAMES: readonly [number, string][] = [
  [IFF.LOOPBACK, "LOOPBACK"],
  [IFF.BROADCAST, "BROADCAST"],
  [IFF.POINTOPOINT, "POINTOPOINT"],
  [IFF.MULTICAST, "MULTICAST"],
  [IFF.NOARP, "NOARP"],
  [IFF.ALLMULTI, "ALLMULTI"],
  [IFF.PROMISC, "PROMISC"],
  [IFF.MASTER, "MASTER"],
  [IFF.SLAVE, "SLAVE"],
  [IFF.DEBUG, "DEBUG"],
  [IFF.DYNAMIC, "DYNAMIC"],
  [IFF.AUTOMEDIA, "AUTOMEDIA"],
  [IFF.PORTSEL, "PORTSEL"],
  [IFF.NOTRAILERS, "NOTRAILERS"],
  [IFF.UP, "UP"],
  [IFF.LOWER_UP, "LOWER_UP"],
  [IFF.DORMANT, "DORMANT"],
  [IFF.ECHO, "ECHO"],
];

/** The flag names `ip link` prints, in its order (`NO-CARRIER` when up without carrier). */
export function linkFlagNames(flags: number): string[] {
  const names: string[] = [];
  if ((flags & IFF.UP) !== 0 && (flags & IFF.RUNNING) === 0) {
    names.push("NO-CARRIER");
  }
  for (const [bit, name] of FLAG_NAMES) {
    if ((flags & bit) !== 0) names.push(name);
  }
  return names;
}
