/**
 * Neighbours (the ARP and NDP cache) over rtnetlink, as `ip neigh` does
 * them: list (one family, one link, or proxy entries), add, replace and
 * delete. Writes need CAP_NET_ADMIN in the namespace's user namespace.
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import { MessageWriter } from "./codec.ts";
import { AF, NLM_F, RTN } from "./constants.ts";
import { formatMac, parseIP, parseMac } from "./ip_address.ts";
import { linkIndex, type LinkRef } from "./link.ts";
import {
  decodeNeighbour,
  encodeNeighbour,
  NDA,
  NDMSG_SIZE,
  type Neighbour,
  NTF,
  NUD,
  RTM_NEIGH,
} from "./neighbour_message.ts";
import type { NetlinkSocket } from "./socket.ts";

/** Filters for {@linkcode listNeighbours} (applied by the kernel). */
export interface ListNeighboursOptions {
  /** Only this family (`AF.INET` or `AF.INET6`). */
  family?: number;
  /** Only entries on this link. */
  link?: LinkRef;
  /** Proxy entries (`ip neigh show proxy`) instead of the cache. */
  proxy?: boolean;
}

/** The neighbour entries of the socket's namespace (every state; `ip neigh` hides NOARP and NONE). */
export function listNeighbours(
  sock: NetlinkSocket,
  options: ListNeighboursOptions = {},
): Neighbour[] {
  const writer = new MessageWriter(
    RTM_NEIGH.GETNEIGH,
    NLM_F.REQUEST | NLM_F.DUMP,
  ).struct(NDMSG_SIZE, (view, at) => {
    view.setUint8(at, options.family ?? AF.UNSPEC);
    view.setUint8(at + 10, options.proxy ? NTF.PROXY : 0);
  });
  if (options.link !== undefined) {
    writer.u32(NDA.IFINDEX, linkIndex(sock, options.link));
  }
  return sock.dump(writer, "list neighbours", decodeNeighbour);
}

/** A neighbour entry to add, replace or delete (`ip neigh add 10.0.0.5 lladdr … dev eth0 nud permanent`). */
export interface NeighbourSpec {
  /** The neighbour's IP address. */
  address: string;
  /** The link it is on. */
  device: LinkRef;
  /** Its link-layer address (required for permanent and reachable entries). */
  lladdr?: string;
  /** `NUD_*` state (default permanent). */
  state?: number;
  /** `router`. */
  router?: boolean;
  /** `proxy`: a proxy entry rather than a cache entry. */
  proxy?: boolean;
  /** `extern_learn`. */
  externLearn?: boolean;
  /** `protocol` (RTPROT_*). */
  protocol?: number;
}

/** The RTM_NEWNEIGH or RTM_DELNEIGH request for `spec` on link `index`. */
export function neighbourRequest(
  type: number,
  flags: number,
  spec: NeighbourSpec,
  index: number,
): MessageWriter {
  const ip = parseIP(spec.address);
  if (spec.proxy && spec.lladdr !== undefined) {
    throw new InvalidArgumentError("a proxy entry has no lladdr");
  }
  const n: Neighbour = {
    family: ip.family,
    index,
    state: type === RTM_NEIGH.DELNEIGH || spec.proxy
      ? NUD.NONE
      : spec.state ?? NUD.PERMANENT,
    flags: (spec.router ? NTF.ROUTER : 0) | (spec.proxy ? NTF.PROXY : 0) |
      (spec.externLearn ? NTF.EXT_LEARNED : 0),
    type: RTN.UNICAST,
    destination: spec.address,
  };
  if (spec.lladdr !== undefined && type !== RTM_NEIGH.DELNEIGH) {
    const mac = parseMac(spec.lladdr);
    n.lladdr = formatMac(mac, 0, mac.length);
  }
  if (spec.protocol !== undefined) n.protocol = spec.protocol;
  return encodeNeighbour(new MessageWriter(type, flags), n);
}

function describe(verb: string, spec: NeighbourSpec): string {
  const ll = spec.lladdr === undefined ? "" : ` lladdr ${spec.lladdr}`;
  return `${verb} neighbour ${spec.address}${ll} dev ${spec.device}`;
}

/** Adds an entry (`ip neigh add`); EEXIST if one exists. Needs CAP_NET_ADMIN. */
export function addNeighbour(sock: NetlinkSocket, spec: NeighbourSpec): void {
  sock.execute(
    neighbourRequest(
      RTM_NEIGH.NEWNEIGH,
      NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL,
      spec,
      linkIndex(sock, spec.device),
    ),
    describe("add", spec),
  );
}

/** Adds an entry or replaces the existing one (`ip neigh replace`). Needs CAP_NET_ADMIN. */
export function replaceNeighbour(
  sock: NetlinkSocket,
  spec: NeighbourSpec,
): void {
  sock.execute(
    neighbourRequest(
      RTM_NEIGH.NEWNEIGH,
      NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.REPLACE,
      spec,
      linkIndex(sock, spec.device),
    ),
    describe("replace", spec),
  );
}

/** Deletes an entry (`ip neigh del ADDRESS dev LINK`). Needs CAP_NET_ADMIN. */
export function deleteNeighbour(
  sock: NetlinkSocket,
  spec: NeighbourSpec,
): void {
  sock.execute(
    neighbourRequest(
      RTM_NEIGH.DELNEIGH,
      NLM_F.REQUEST | NLM_F.ACK,
      spec,
      linkIndex(sock, spec.device),
    ),
    describe("delete", spec),
  );
}
