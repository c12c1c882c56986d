/**
 * Address messages (`ifaddrmsg` + IFA attributes) and the decoded
 * {@linkcode Address}. Pure: no FFI and no Deno APIs.
 *
 * @module
 */

import {
  attrString,
  attrU32,
  attrU8,
  forEachAttribute,
  MessageWriter,
  type RawAttribute,
} from "./codec.ts";
import { AF, IFA, IFA_F, NLM_F, RT_SCOPE, RTM, SIZE } from "./constants.ts";
import { stableCopy } from "./_stable_copy.ts";
import { NetlinkDecodeError } from "./errors.ts";
import { formatIP, parseIP } from "./ip_address.ts";

/** An IP address assigned to an interface. */
export interface Address {
  /** `AF.INET` (2) or `AF.INET6` (10). */
  family: number;
  /** Index of the interface it is on. */
  index: number;
  /** The address itself: IFA_LOCAL, else IFA_ADDRESS (as iproute2 reads it). */
  address: string;
  /** The peer on a point-to-point link (IFA_ADDRESS when it differs from IFA_LOCAL). */
  peer: string | undefined;
  /** Prefix length in bits. */
  prefixLength: number;
  /** Scope: 0 universe (global), 253 link, 254 host. */
  scope: number;
  /** `IFA_F_*` flags (the 32-bit IFA_FLAGS when present). */
  flags: number;
  /** IPv4 label (the interface name, or `name:alias`). */
  label: string | undefined;
  /** IPv4 broadcast address. */
  broadcast: string | undefined;
  /** Valid lifetime in seconds (0xffffffff: forever), when reported. */
  validLifetime: number | undefined;
  /** Preferred lifetime in seconds (0xffffffff: forever), when reported. */
  preferredLifetime: number | undefined;
  /** When the address was added, in hundredths of a second since boot (IFA_CACHEINFO cstamp). */
  createdStamp?: number;
  /** When it was last updated, in hundredths of a second since boot (IFA_CACHEINFO tstamp). */
  updatedStamp?: number;
  /** IPv6 anycast address (IFA_ANYCAST). */
  anycast?: string;
  /** Multicast address (IFA_MULTICAST). */
  multicast?: string;
  /** The metric of the prefix route it adds (IFA_RT_PRIORITY). */
  metric?: number;
  /** Who added it (IFA_PROTO: 1 kernel_lo, 2 kernel_ra, 3 kernel_ll). */
  protocol?: number;
  /** Attributes nsnet does not decode, as they came. */
  unknown?: RawAttribute[];
}

/** Decodes the body of an RTM_NEWADDR message spanning `[offset, end)`. */
export function decodeAddress(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  end: number,
): Address {
  if (offset + SIZE.IFADDRMSG > end) {
    throw new NetlinkDecodeError(
      "address message shorter than ifaddrmsg",
      offset,
    );
  }
  let local: string | undefined;
  let address: string | undefined;
  const result: Address = {
    family: view.getUint8(offset),
    index: view.getUint32(offset + 4, true),
    address: "",
    peer: undefined,
    prefixLength: view.getUint8(offset + 1),
    scope: view.getUint8(offset + 3),
    flags: view.getUint8(offset + 2),
    label: undefined,
    broadcast: undefined,
    validLifetime: undefined,
    preferredLifetime: undefined,
  };
  let held: [Uint8Array, number] | undefined;
  forEachAttribute(view, offset + SIZE.IFADDRMSG, end, (type, at, length) => {
    switch (type) {
      case IFA.LOCAL:
        local = formatIP(bytes, at, length);
        break;
      case IFA.ADDRESS:
        address = formatIP(bytes, at, length);
        break;
      case IFA.LABEL:
        result.label = attrString(bytes, at, length);
        break;
      case IFA.BROADCAST:
        result.broadcast = formatIP(bytes, at, length);
        break;
      case IFA.FLAGS:
        result.flags = attrU32(view, at, length);
        break;
      case IFA.CACHEINFO:
        if (length < 8) {
          throw new NetlinkDecodeError("IFA_CACHEINFO too short", at);
        }
        result.preferredLifetime = view.getUint32(at, true);
        result.validLifetime = view.getUint32(at + 4, true);
        if (length >= 16) {
          result.createdStamp = view.getUint32(at + 8, true);
          result.updatedStamp = view.getUint32(at + 12, true);
        }
        break;
      case IFA.ANYCAST:
        result.anycast = formatIP(bytes, at, length);
        break;
      case IFA.MULTICAST:
        result.multicast = formatIP(bytes, at, length);
        break;
      case IFA.RT_PRIORITY:
        result.metric = attrU32(view, at, length);
        break;
      case IFA.PROTO:
        result.protocol = attrU8(view, at, length);
        break;
      default: {
        const [copy, base] = held ??= stableCopy(bytes, offset, end);
        (result.unknown ??= []).push({
          type,
          data: copy.subarray(at - base, at - base + length),
        });
      }
    }
  });
  result.address = local ?? address ?? "";
  if (local !== undefined && address !== undefined && address !== local) {
    result.peer = address;
  }
  return result;
}

/** The name `ip` gives a scope. */
export function scopeName(scope: number): string {
  switch (scope) {
    case RT_SCOPE.UNIVERSE:
      return "global";
    case RT_SCOPE.SITE:
      return "site";
    case RT_SCOPE.LINK:
      return "link";
    case RT_SCOPE.HOST:
      return "host";
    case RT_SCOPE.NOWHERE:
      return "nowhere";
    default:
      return String(scope);
  }
}

/** The name `ip` gives an address family. */
export function familyName(family: number): string {
  return family === AF.INET
    ? "inet"
    : family === AF.INET6
    ? "inet6"
    : String(family);
}

const ADDRESS_FLAG_NAMES: readonly [number, string][] = [
  [IFA_F.NODAD, "nodad"],
  [IFA_F.OPTIMISTIC, "optimistic"],
  [IFA_F.DADFAILED, "dadfailed"],
  [IFA_F.HOMEADDRESS, "home"],
  [IFA_F.DEPRECATED, "deprecated"],
  [IFA_F.TENTATIVE, "tentative"],
  [IFA_F.MANAGETEMPADDR, "mngtmpaddr"],
  [IFA_F.NOPREFIXROUTE, "noprefixroute"],
  [IFA_F.MCAUTOJOIN, "autojoin"],
  [IFA_F.STABLE_PRIVACY, "stable-privacy"],
];

/**
 * The flag words `ip address` prints for an address, in its order:
 * `secondary` (IPv4) or `temporary` (IPv6), `dynamic` for an address
 * without IFA_F_PERMANENT, then nodad, optimistic, dadfailed, home,
 * deprecated, tentative, mngtmpaddr, noprefixroute, autojoin,
 * stable-privacy. Bits ip has no word for are left out.
 */
export function addressFlagNames(address: Address): string[] {
  const names: string[] = [];
  const flags = address.flags;
  if ((flags & IFA_F.SECONDARY) !== 0) {
    names.push(address.family === AF.INET6 ? "temporary" : "secondary");
  }
  for (const [bit, name] of ADDRESS_FLAG_NAMES.slice(0, 6)) {
    if ((flags & bit) !== 0) names.push(name);
  }
  if ((flags & IFA_F.PERMANENT) === 0) names.push("dynamic");
  for (const [bit, name] of ADDRESS_FLAG_NAMES.slice(6)) {
    if ((flags & bit) !== 0) names.push(name);
  }
  return names;
}

/** The bits {@linkcode addressFlagNames} has no word for (ip prints them as `ifa_flags` hex). */
export function unnamedAddressFlags(flags: number): number {
  let rest = flags & ~(IFA_F.SECONDARY | IFA_F.PERMANENT);
  for (const [bit] of ADDRESS_FLAG_NAMES) rest &= ~bit;
  return rest;
}

/** The names `ip` gives address protocols (IFA_PROTO). */
export function addressProtocolName(protocol: number): string {
  return ["unspec", "kernel_lo", "kernel_ra", "kernel_ll"][protocol] ??
    String(protocol);
}

/**
 * Encodes an {@linkcode Address} as an rtnetlink message (RTM_NEWADDR by
 * default), the same type {@linkcode decodeAddress} gives, so that
 * `decodeAddress(encodeAddress(a))` equals `a`: the local address as
 * IFA_LOCAL (IPv4, or when there is a peer) and IFA_ADDRESS, flags in the
 * 32-bit IFA_FLAGS, lifetimes and stamps in IFA_CACHEINFO, then the
 * unknown attributes as they came.
 */
export function encodeAddress(
  address: Address,
  type: number = RTM.NEWADDR,
  flags: number = NLM_F.REQUEST,
): MessageWriter {
  const w = new MessageWriter(type, flags).struct(
    SIZE.IFADDRMSG,
    (view, at) => {
      view.setUint8(at, address.family);
      view.setUint8(at + 1, address.prefixLength);
      view.setUint8(at + 2, address.flags & 0xff);
      view.setUint8(at + 3, address.scope);
      view.setUint32(at + 4, address.index, true);
    },
  );
  const ip = (text: string): Uint8Array => parseIP(text).bytes;
  if (address.address !== "") {
    if (address.family === AF.INET || address.peer !== undefined) {
      w.bytes(IFA.LOCAL, ip(address.address));
    }
    w.bytes(IFA.ADDRESS, ip(address.peer ?? address.address));
  }
  if (address.label !== undefined) w.string(IFA.LABEL, address.label);
  if (address.broadcast !== undefined) {
    w.bytes(IFA.BROADCAST, ip(address.broadcast));
  }
  if (address.anycast !== undefined) w.bytes(IFA.ANYCAST, ip(address.anycast));
  if (address.multicast !== undefined) {
    w.bytes(IFA.MULTICAST, ip(address.multicast));
  }
  if (
    address.validLifetime !== undefined ||
    address.preferredLifetime !== undefined
  ) {
    const info = new Uint8Array(
      address.createdStamp !== undefined || address.updatedStamp !== undefined
        ? 16
        : 8,
    );
    const v = new DataView(info.buffer);
    v.setUint32(0, address.preferredLifetime ?? 0, true);
    v.setUint32(4, address.validLifetime ?? 0, true);
    if (info.length === 16) {
      v.setUint32(8, address.createdStamp ?? 0, true);
      v.setUint32(12, address.updatedStamp ?? 0, true);
    }
    w.bytes(IFA.CACHEINFO, info);
  }
  w.u32(IFA.FLAGS, address.flags);
  if (address.metric !== undefined) w.u32(IFA.RT_PRIORITY, address.metric);
  if (address.protocol !== undefined) w.u8(IFA.PROTO, address.protocol);
  for (const raw of address.unknown ?? []) w.bytes(raw.type, raw.data);
  return w;
}
