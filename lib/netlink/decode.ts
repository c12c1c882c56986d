/**
 * Decodes a whole rtnetlink buffer (one datagram or a capture) into typed
 * messages. Pure: no FFI and no Deno APIs. Malformed input raises
 * {@linkcode NetlinkDecodeError} and nothing else.
 *
 * @module
 */

import { type Address, decodeAddress } from "./address_message.ts";
import { align, type MessageHeader, readHeader, replyStatus } from "./codec.ts";
import { NLMSG, RTM, SIZE } from "./constants.ts";
import { decodeLink, type Link } from "./link_message.ts";
import { decodeRoute, type Route } from "./route_message.ts";
import { decodeRule, RTM_RULE, type Rule } from "./rule_message.ts";
import { decodeTc, RTM_TC, type TcObject } from "./tc_message.ts";
import {
  decodeNeighbour,
  type Neighbour,
  RTM_NEIGH,
} from "./neighbour_message.ts";

/** One decoded rtnetlink message. */
export type RtnetlinkMessage =
  | { header: MessageHeader; kind: "link"; link: Link }
  | { header: MessageHeader; kind: "address"; address: Address }
  | { header: MessageHeader; kind: "route"; route: Route }
  | { header: MessageHeader; kind: "rule"; rule: Rule }
  | { header: MessageHeader; kind: "neighbour"; neighbour: Neighbour }
  | { header: MessageHeader; kind: "qdisc" | "class" | "filter"; tc: TcObject }
  | {
    header: MessageHeader;
    kind: "done";
    error: number;
    message: string | undefined;
  }
  | {
    header: MessageHeader;
    kind: "error";
    error: number;
    message: string | undefined;
  }
  | { header: MessageHeader; kind: "other" };

/** Decodes every message in `bytes`. */
export function decodeMessages(bytes: Uint8Array): RtnetlinkMessage[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: RtnetlinkMessage[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const header = readHeader(view, offset, bytes.length);
    out.push(decodeOne(bytes, view, offset, header));
    offset += Math.min(align(header.length), bytes.length - offset);
  }
  return out;
}

function decodeOne(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  header: MessageHeader,
): RtnetlinkMessage {
  const body = offset + SIZE.NLMSGHDR;
  const end = offset + header.length;
  switch (header.type) {
    case RTM.NEWLINK:
    case RTM.DELLINK:
      return { header, kind: "link", link: decodeLink(bytes, view, body, end) };
    case RTM.NEWADDR:
    case RTM.DELADDR:
      return {
        header,
        kind: "address",
        address: decodeAddress(bytes, view, body, end),
      };
    case RTM.NEWROUTE:
    case RTM.DELROUTE:
      return {
        header,
        kind: "route",
        route: decodeRoute(bytes, view, body, end),
      };
    case RTM_RULE.NEWRULE:
    case RTM_RULE.DELRULE:
      return { header, kind: "rule", rule: decodeRule(bytes, view, body, end) };
    case RTM_NEIGH.NEWNEIGH:
    case RTM_NEIGH.DELNEIGH:
      return {
        header,
        kind: "neighbour",
        neighbour: decodeNeighbour(bytes, view, body, end),
      };
    case RTM_TC.NEWQDISC:
    case RTM_TC.DELQDISC:
      return { header, kind: "qdisc", tc: decodeTc(bytes, view, body, end) };
    case RTM_TC.NEWTCLASS:
    case RTM_TC.DELTCLASS:
      return { header, kind: "class", tc: decodeTc(bytes, view, body, end) };
    case RTM_TC.NEWTFILTER:
    case RTM_TC.DELTFILTER:
      return { header, kind: "filter", tc: decodeTc(bytes, view, body, end) };
    case NLMSG.DONE:
    case NLMSG.ERROR: {
      const status = replyStatus(bytes, view, offset, header);
      if (status.kind === "data") return { header, kind: "other" };
      return {
        header,
        kind: status.kind,
        error: status.error,
        message: status.message,
      };
    }
    default:
      return { header, kind: "other" };
  }
}
