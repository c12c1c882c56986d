/**
 * IP addresses over rtnetlink, as `ip address` does them: list (optionally
 * one family or one link), add and delete.
 *
 * @module
 */

import { type Address, decodeAddress } from "./address_message.ts";
import { MessageWriter } from "./codec.ts";
import { AF, IFA, IFA_F, NLM_F, RT_SCOPE, RTM, SIZE } from "./constants.ts";
import { parseIP, parsePrefix } from "./ip_address.ts";
import { linkIndex, type LinkRef } from "./link.ts";
import type { NetlinkSocket } from "./socket.ts";

/** Filters for {@linkcode listAddresses} (applied by the kernel). */
export interface ListAddressesOptions {
  /** Only this family (`AF.INET` or `AF.INET6`). */
  family?: number;
  /** Only addresses on this link. */
  link?: LinkRef;
}

function writeIfaddr(
  writer: MessageWriter,
  family: number,
  prefixLength: number,
  flags: number,
  scope: number,
  index: number,
): MessageWriter {
  return writer.struct(SIZE.IFADDRMSG, (view, at) => {
    view.setUint8(at, family);
    view.setUint8(at + 1, prefixLength);
    view.setUint8(at + 2, flags & 0xff);
    view.setUint8(at + 3, scope);
    view.setUint32(at + 4, index, true);
  });
}

/** The addresses in the socket's namespace, in the kernel's order (IPv4 first). */
export function listAddresses(
  sock: NetlinkSocket,
  options: ListAddressesOptions = {},
): Address[] {
  const index = options.link === undefined ? 0 : linkIndex(sock, options.link);
  const writer = writeIfaddr(
    new MessageWriter(RTM.GETADDR, NLM_F.REQUEST | NLM_F.DUMP),
    options.family ?? AF.UNSPEC,
    0,
    0,
    0,
    index,
  );
  return sock.dump(writer, "list addresses", decodeAddress);
}

/** Options for {@linkcode addAddress}. */
export interface AddAddressOptions {
  /** Replace an existing equal address instead of failing with EEXIST. */
  replace?: boolean;
  /** IPv6: skip duplicate address detection, so the address is usable at once. */
  noDad?: boolean;
  /** Scope (default global). */
  scope?: number;
  /** Valid lifetime in seconds (`ip addr add … valid_lft`; default forever). */
  validLifetime?: number;
  /** Preferred lifetime in seconds (`preferred_lft`; default: the valid lifetime). */
  preferredLifetime?: number;
  /** IPv4 broadcast address (`brd`). */
  broadcast?: string;
  /** Don't add the prefix route (IFA_F_NOPREFIXROUTE). */
  noPrefixRoute?: boolean;
  /** IPv4 label (`label eth0:1`). */
  label?: string;
}

/** The RTM_NEWADDR or RTM_DELADDR request for `cidr` on link `index`. */
export function addressRequest(
  type: number,
  flags: number,
  index: number,
  cidr: string,
  options: AddAddressOptions,
): MessageWriter {
  const prefix = parsePrefix(cidr);
  const addressFlags = (options.noDad ? IFA_F.NODAD : 0) |
    (options.noPrefixRoute ? IFA_F.NOPREFIXROUTE : 0);
  const writer = writeIfaddr(
    new MessageWriter(type, flags),
    prefix.family,
    prefix.prefixLength,
    addressFlags,
    options.scope ?? RT_SCOPE.UNIVERSE,
    index,
  );
  // IPv4 carries the address twice (local and, on non-p2p links, the same as "address").
  if (prefix.family === AF.INET) writer.bytes(IFA.LOCAL, prefix.bytes);
  writer.bytes(IFA.ADDRESS, prefix.bytes);
  if (options.broadcast !== undefined) {
    writer.bytes(IFA.BROADCAST, parseIP(options.broadcast).bytes);
  }
  if (options.label !== undefined) writer.string(IFA.LABEL, options.label);
  if (addressFlags !== 0) writer.u32(IFA.FLAGS, addressFlags);
  if (
    options.validLifetime !== undefined ||
    options.preferredLifetime !== undefined
  ) {
    // struct ifa_cacheinfo: preferred, valid, then two stamps the kernel ignores here.
    const valid = options.validLifetime ?? 0xffffffff;
    const preferred = options.preferredLifetime ?? valid;
    const info = new Uint8Array(16);
    const view = new DataView(info.buffer);
    view.setUint32(0, preferred >>> 0, true);
    view.setUint32(4, valid >>> 0, true);
    writer.bytes(IFA.CACHEINFO, info);
  }
  return writer;
}

/** Adds `cidr` (e.g. `10.0.0.1/24`, `fd00::1/64`) to a link. */
export function addAddress(
  sock: NetlinkSocket,
  link: LinkRef,
  cidr: string,
  options: AddAddressOptions = {},
): void {
  const flags = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE |
    (options.replace ? NLM_F.REPLACE : NLM_F.EXCL);
  const writer = addressRequest(
    RTM.NEWADDR,
    flags,
    linkIndex(sock, link),
    cidr,
    options,
  );
  sock.execute(writer, `add address ${cidr} to ${link}`);
}

/** Deletes `cidr` from a link. */
export function deleteAddress(
  sock: NetlinkSocket,
  link: LinkRef,
  cidr: string,
): void {
  const writer = addressRequest(
    RTM.DELADDR,
    NLM_F.REQUEST | NLM_F.ACK,
    linkIndex(sock, link),
    cidr,
    {},
  );
  sock.execute(writer, `delete address ${cidr} from ${link}`);
}
