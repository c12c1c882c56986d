/**
 * Neighbour messages (`struct ndmsg` + NDA attributes) and the decoded
 * {@linkcode Neighbour}: the ARP and NDP cache `ip neigh` shows. Pure: no FFI
 * and no Deno APIs.
 *
 * @module
 */

import {
  align,
  attrU16,
  attrU32,
  attrU8,
  type MessageWriter,
  type RawAttribute,
  rawAttribute,
} from "./codec.ts";
import { NLA_TYPE_MASK } from "./constants.ts";
import { NetlinkDecodeError } from "./errors.ts";
import { formatIP, formatMac, parseIP } from "./ip_address.ts";

/** rtnetlink message types of neighbours. */
export const RTM_NEIGH = { NEWNEIGH: 28, DELNEIGH: 29, GETNEIGH: 30 } as const;

/** The size of `struct ndmsg`. */
export const NDMSG_SIZE = 12;

/** `NDA_*`: neighbour attribute types (linux/neighbour.h). */
export const NDA = {
  DST: 1,
  LLADDR: 2,
  CACHEINFO: 3,
  PROBES: 4,
  VLAN: 5,
  PORT: 6,
  VNI: 7,
  IFINDEX: 8,
  MASTER: 9,
  LINK_NETNSID: 10,
  SRC_VNI: 11,
  PROTOCOL: 12,
  NH_ID: 13,
  FDB_EXT_ATTRS: 14,
  FLAGS_EXT: 15,
} as const;

/** `NUD_*`: neighbour states, a bit each. */
export const NUD = {
  NONE: 0x00,
  INCOMPLETE: 0x01,
  REACHABLE: 0x02,
  STALE: 0x04,
  DELAY: 0x08,
  PROBE: 0x10,
  FAILED: 0x20,
  NOARP: 0x40,
  PERMANENT: 0x80,
} as const;

/** `NTF_*`: neighbour flags of `ndmsg.ndm_flags`. */
export const NTF = {
  USE: 0x01,
  SELF: 0x02,
  MASTER: 0x04,
  PROXY: 0x08,
  EXT_LEARNED: 0x10,
  OFFLOADED: 0x20,
  STICKY: 0x40,
  ROUTER: 0x80,
} as const;

/** `NTF_EXT_*`: the extended flags of NDA_FLAGS_EXT. */
export const NTF_EXT = { MANAGED: 0x1, LOCKED: 0x2 } as const;

/** `struct nda_cacheinfo`: ages in clock ticks (USER_HZ, 100 a second). */
export interface NeighbourCacheInfo {
  /** Ticks since the entry was last confirmed. */
  confirmed: number;
  /** Ticks since it was last used. */
  used: number;
  /** Ticks since it was last updated. */
  updated: number;
  /** References held on it. */
  refcnt: number;
}

/** A neighbour (ARP/NDP) cache entry. Optional fields are present only when sent. */
export interface Neighbour {
  /** `AF.INET` (2), `AF.INET6` (10), or 7 (`AF_BRIDGE`, an FDB entry). */
  family: number;
  /** Index of the interface. */
  index: number;
  /** `NUD_*` state bits. */
  state: number;
  /** `NTF_*` flags. */
  flags: number;
  /** `ndm_type` (a route type, RTN_UNICAST for ordinary entries). */
  type: number;
  /** The neighbour's IP address. */
  destination?: string;
  /** Its link-layer address (`aa:bb:cc:dd:ee:ff`). */
  lladdr?: string;
  /** Probes sent so far. */
  probes?: number;
  /** Ages and reference count. */
  cacheInfo?: NeighbourCacheInfo;
  /** Bridge FDB: VLAN id. */
  vlan?: number;
  /** Who installed it (RTPROT_*). */
  protocol?: number;
  /** Master device index. */
  master?: number;
  /** `NTF_EXT_*` flags. */
  flagsExt?: number;
  /** Attributes nsnet does not decode, as they came. */
  unknown?: RawAttribute[];
}

/** Decodes the body of an RTM_NEWNEIGH message spanning `[offset, end)`. */
export function decodeNeighbour(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  end: number,
): Neighbour {
  if (offset + NDMSG_SIZE > end) {
    throw new NetlinkDecodeError(
      "neighbour message shorter than ndmsg",
      offset,
    );
  }
  const n: Neighbour = {
    family: view.getUint8(offset),
    index: view.getInt32(offset + 4, true),
    state: view.getUint16(offset + 8, true),
    flags: view.getUint8(offset + 10),
    type: view.getUint8(offset + 11),
  };
  // The attribute walk is inlined (no callback): neighbour dumps run to 10k+ messages.
  let p = offset + NDMSG_SIZE;
  while (p + 4 <= end) {
    const size = view.getUint16(p, true);
    if (size < 4 || p + size > end) {
      throw new NetlinkDecodeError(`attribute length ${size} does not fit`, p);
    }
    const at = p + 4;
    const length = size - 4;
    const type = view.getUint16(p + 2, true) & NLA_TYPE_MASK;
    switch (type) {
      case NDA.DST:
        n.destination = formatIP(bytes, at, length);
        break;
      case NDA.LLADDR:
        n.lladdr = formatMac(bytes, at, length);
        break;
      case NDA.PROBES:
        n.probes = attrU32(view, at, length);
        break;
      case NDA.CACHEINFO:
        if (length < 16) {
          throw new NetlinkDecodeError("NDA_CACHEINFO too short", at);
        }
        n.cacheInfo = {
          confirmed: view.getUint32(at, true),
          used: view.getUint32(at + 4, true),
          updated: view.getUint32(at + 8, true),
          refcnt: view.getUint32(at + 12, true),
        };
        break;
      case NDA.VLAN:
        n.vlan = attrU16(view, at, length);
        break;
      case NDA.PROTOCOL:
        n.protocol = attrU8(view, at, length);
        break;
      case NDA.MASTER:
        n.master = attrU32(view, at, length);
        break;
      case NDA.FLAGS_EXT:
        n.flagsExt = attrU32(view, at, length);
        break;
      default:
        (n.unknown ??= []).push(rawAttribute(bytes, type, at, length));
    }
    p += align(size);
  }
  return n;
}

function macBytes(text: string): Uint8Array {
  if (text === "") return new Uint8Array(0);
  return Uint8Array.from(text.split(":").map((p) => parseInt(p, 16)));
}

/**
 * Writes `n` as an `ndmsg` and its attributes into `writer` (an RTM_NEWNEIGH
 * or RTM_DELNEIGH request, or a test's message). Raw `unknown` attributes are
 * written back unchanged.
 */
export function encodeNeighbour(
  writer: MessageWriter,
  n: Neighbour,
): MessageWriter {
  writer.struct(NDMSG_SIZE, (view, at) => {
    view.setUint8(at, n.family);
    view.setInt32(at + 4, n.index, true);
    view.setUint16(at + 8, n.state, true);
    view.setUint8(at + 10, n.flags);
    view.setUint8(at + 11, n.type);
  });
  if (n.destination !== undefined) {
    writer.bytes(NDA.DST, parseIP(n.destination).bytes);
  }
  if (n.lladdr !== undefined) writer.bytes(NDA.LLADDR, macBytes(n.lladdr));
  if (n.probes !== undefined) writer.u32(NDA.PROBES, n.probes);
  if (n.cacheInfo !== undefined) {
    const data = new Uint8Array(16);
    const view = new DataView(data.buffer);
    view.setUint32(0, n.cacheInfo.confirmed >>> 0, true);
    view.setUint32(4, n.cacheInfo.used >>> 0, true);
    view.setUint32(8, n.cacheInfo.updated >>> 0, true);
    view.setUint32(12, n.cacheInfo.refcnt >>> 0, true);
    writer.bytes(NDA.CACHEINFO, data);
  }
  if (n.vlan !== undefined) writer.u16(NDA.VLAN, n.vlan);
  if (n.protocol !== undefined) writer.u8(NDA.PROTOCOL, n.protocol);
  if (n.master !== undefined) writer.u32(NDA.MASTER, n.master);
  if (n.flagsExt !== undefined) writer.u32(NDA.FLAGS_EXT, n.flagsExt);
  for (const raw of n.unknown ?? []) writer.bytes(raw.type, raw.data);
  return writer;
}

const STATE_NAMES: readonly [number, string][] = [
  [NUD.INCOMPLETE, "INCOMPLETE"],
  [NUD.REACHABLE, "REACHABLE"],
  [NUD.STALE, "STALE"],
  [NUD.DELAY, "DELAY"],
  [NUD.PROBE, "PROBE"],
  [NUD.FAILED, "FAILED"],
  [NUD.NOARP, "NOARP"],
  [NUD.PERMANENT, "PERMANENT"],
];

/** The names `ip neigh` prints for a state (`["REACHABLE"]`; empty for NONE). */
export function neighbourStateNames(state: number): string[] {
  const names: string[] = [];
  for (const [bit, name] of STATE_NAMES) if (state & bit) names.push(name);
  const rest = state & ~0xff;
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names;
}

/** Parses `ip neigh`'s `nud` word (`permanent`, `reachable`, `noarp`, `none`...). */
export function parseNeighbourState(text: string): number | undefined {
  const upper = text.toUpperCase();
  if (upper === "NONE") return NUD.NONE;
  for (const [bit, name] of STATE_NAMES) if (name === upper) return bit;
  return undefined;
}

const FLAG_NAMES: readonly [number, string][] = [
  [NTF.ROUTER, "router"],
  [NTF.PROXY, "proxy"],
  [NTF.EXT_LEARNED, "extern_learn"],
  [NTF.OFFLOADED, "offload"],
];

/** The words `ip neigh` prints for flags it shows (`router`, `proxy`, `extern_learn`, `offload`). */
export function neighbourFlagNames(flags: number): string[] {
  return FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n);
}
