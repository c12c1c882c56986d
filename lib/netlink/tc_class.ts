/**
 * Traffic classes over rtnetlink, as `tc class` handles them (htb's
 * classes): list, add, change, replace and delete. Writes need
 * CAP_NET_ADMIN in the namespace's user namespace.
 *
 * @module
 */

import { NLM_F } from "./constants.ts";
import { linkIndex, type LinkRef } from "./link.ts";
import { missingKind } from "./qdisc.ts";
import type { NetlinkSocket } from "./socket.ts";
import {
  decodeTc,
  formatClassId,
  RTM_TC,
  TC_H,
  type TcObject,
  type TcOptions,
  tcRequest,
} from "./tc_message.ts";

/** A class as the kernel reports it (`handle` is its classid). */
export type TcClass = TcObject;

/** The classes of `device` (`tc class show dev IF`). */
export function listClasses(sock: NetlinkSocket, device: LinkRef): TcClass[] {
  const writer = tcRequest(RTM_TC.GETTCLASS, NLM_F.REQUEST | NLM_F.DUMP, {
    index: linkIndex(sock, device),
  });
  return sock.dump(writer, `list classes of ${device}`, decodeTc);
}

/** What a class to add, change, replace or delete says. */
export interface ClassSpec {
  /** The device. */
  device: LinkRef;
  /** Parent: the qdisc (`1:`) or a parent class (`1:1`). */
  parent: number;
  /** The class id, e.g. `1:10`. */
  classid: number;
  /** Kind (the qdisc's, e.g. htb). */
  kind?: string;
  /** Options (see `htbClassOptions` in tc_units.ts). */
  options?: TcOptions;
}

function send(
  sock: NetlinkSocket,
  type: number,
  flags: number,
  verb: string,
  spec: ClassSpec,
): void {
  const writer = tcRequest(type, NLM_F.REQUEST | NLM_F.ACK | flags, {
    index: linkIndex(sock, spec.device),
    parent: spec.parent ?? TC_H.ROOT,
    handle: spec.classid,
    kind: spec.kind,
    options: spec.options,
  });
  try {
    sock.execute(
      writer,
      `${verb} class ${formatClassId(spec.classid)} on ${spec.device}`,
    );
  } catch (error) {
    throw type === RTM_TC.NEWTCLASS
      ? missingKind(error, "qdisc", spec.kind)
      : error;
  }
}

/** Adds a class (`tc class add`). Needs CAP_NET_ADMIN. */
export function addClass(sock: NetlinkSocket, spec: ClassSpec): void {
  send(sock, RTM_TC.NEWTCLASS, NLM_F.CREATE | NLM_F.EXCL, "add", spec);
}

/** Changes a class (`tc class change`). Needs CAP_NET_ADMIN. */
export function changeClass(sock: NetlinkSocket, spec: ClassSpec): void {
  send(sock, RTM_TC.NEWTCLASS, 0, "change", spec);
}

/** Adds or replaces a class (`tc class replace`). Needs CAP_NET_ADMIN. */
export function replaceClass(sock: NetlinkSocket, spec: ClassSpec): void {
  send(sock, RTM_TC.NEWTCLASS, NLM_F.CREATE | NLM_F.REPLACE, "replace", spec);
}

/** Deletes a class (`tc class del`). Needs CAP_NET_ADMIN. */
export function deleteClass(sock: NetlinkSocket, spec: ClassSpec): void {
  send(sock, RTM_TC.DELTCLASS, 0, "delete", { ...spec, options: undefined });
}
