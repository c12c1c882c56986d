/**
 * Address messages (`ifaddrmsg` + IFA attributes) and the decoded
 * {@linkcode Address}. Pure: no FFI and no Deno APIs.
 *
 * @module
 */

import { attrString, attrU32, forEachAttribute } from "./codec.ts";
import { AF, IFA, RT_SCOPE, SIZE } from "./constants.ts";
import { NetlinkDecodeError } from "./errors.ts";
import { formatIP } from "./ip_address.ts";

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
        break;
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
