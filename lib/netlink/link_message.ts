/**
 * Link messages (`ifinfomsg` + IFLA attributes): the decoded {@linkcode Link},
 * its 64-bit statistics, and the flag names `ip` prints. Pure: no FFI and no
 * Deno APIs.
 *
 * @module
 */

import {
  attrI32,
  attrString,
  attrU32,
  attrU8,
  forEachAttribute,
} from "./codec.ts";
import {
  IFF,
  IFLA,
  IFLA_INFO,
  OPERSTATES,
  SIZE,
  VETH_INFO,
} from "./constants.ts";
import { NetlinkDecodeError } from "./errors.ts";
import { formatMac } from "./ip_address.ts";

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
}

/** Decodes `rtnl_link_stats64` (any length: missing trailing counters are 0). */
export function decodeLinkStats(
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
  forEachAttribute(view, offset + SIZE.IFINFOMSG, end, (type, at, length) => {
    switch (type) {
      case IFLA.IFNAME:
        link.name = attrString(bytes, at, length);
        break;
      case IFLA.MTU:
        link.mtu = attrU32(view, at, length);
        break;
      case IFLA.MIN_MTU:
        link.minMtu = attrU32(view, at, length);
        break;
      case IFLA.MAX_MTU:
        link.maxMtu = attrU32(view, at, length);
        break;
      case IFLA.ADDRESS:
        link.mac = formatMac(bytes, at, length);
        break;
      case IFLA.BROADCAST:
        link.broadcast = formatMac(bytes, at, length);
        break;
      case IFLA.PERM_ADDRESS:
        link.permanentMac = formatMac(bytes, at, length);
        break;
      case IFLA.OPERSTATE: {
        const state = attrU8(view, at, length);
        link.operstate = OPERSTATES[state] ?? `STATE${state}`;
        break;
      }
      case IFLA.MASTER:
        link.master = attrU32(view, at, length);
        break;
      case IFLA.LINK:
        link.link = attrU32(view, at, length);
        break;
      case IFLA.LINK_NETNSID:
        link.linkNetnsId = attrI32(view, at, length);
        break;
      case IFLA.QDISC:
        link.qdisc = attrString(bytes, at, length);
        break;
      case IFLA.TXQLEN:
        link.txqlen = attrU32(view, at, length);
        break;
      case IFLA.GROUP:
        link.group = attrU32(view, at, length);
        break;
      case IFLA.PROMISCUITY:
        link.promiscuity = attrU32(view, at, length);
        break;
      case IFLA.CARRIER:
        link.carrier = attrU8(view, at, length) !== 0;
        break;
      case IFLA.CARRIER_CHANGES:
        link.carrierChanges = attrU32(view, at, length);
        break;
      case IFLA.IFALIAS:
        link.alias = attrString(bytes, at, length);
        break;
      case IFLA.PROP_LIST:
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
      case IFLA.STATS64:
        link.stats = decodeLinkStats(view, at, length);
        break;
      case IFLA.LINKINFO:
        decodeLinkInfo(bytes, view, at, at + length, link);
        break;
    }
  });
  return link;
}

function decodeLinkInfo(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  link: Link,
): void {
  forEachAttribute(view, start, end, (type, at, length) => {
    if (type === IFLA_INFO.KIND) link.kind = attrString(bytes, at, length);
    else if (type === IFLA_INFO.SLAVE_KIND) {
      link.slaveKind = attrString(bytes, at, length);
    }
  });
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
