/**
 * Queueing disciplines over rtnetlink, as `tc qdisc` handles them: list,
 * add, change, replace and delete. Every call needs CAP_NET_ADMIN in the
 * namespace's user namespace except listing. A kind the kernel was built
 * without raises {@linkcode TcKindMissingError}, which names its config
 * option.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import type { MessageWriter } from "./codec.ts";
import { NLM_F } from "./constants.ts";
import { NetlinkError } from "./errors.ts";
import { linkIndex, type LinkRef } from "./link.ts";
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
import {
  DEFAULT_SCHED_CLOCK,
  parseSchedClock,
  type SchedClock,
} from "./tc_units.ts";

/** A qdisc as the kernel reports it (`info` is its refcnt). */
export type Qdisc = TcObject;

const ENOENT = 2;
const EOPNOTSUPP = 95;

/** The kernel config option that builds a tc kind (qdisc, classifier or action). */
export function tcKindConfig(
  what: "qdisc" | "filter" | "action",
  kind: string,
): string {
  const special: Record<string, string> = {
    "qdisc:fq_codel": "CONFIG_NET_SCH_FQ_CODEL",
    "qdisc:pfifo": "CONFIG_NET_SCHED",
    "qdisc:bfifo": "CONFIG_NET_SCHED",
    "qdisc:clsact": "CONFIG_NET_SCH_INGRESS",
    "filter:bpf": "CONFIG_NET_CLS_BPF",
  };
  const prefix = what === "qdisc"
    ? "CONFIG_NET_SCH_"
    : what === "filter"
    ? "CONFIG_NET_CLS_"
    : "CONFIG_NET_ACT_";
  return special[`${what}:${kind}`] ?? prefix + kind.toUpperCase();
}

/** The kernel has no such qdisc, classifier or action (not built, or the module is missing). */
export class TcKindMissingError extends NsnetError {
  /** `qdisc`, `filter` or `action`. */
  readonly what: string;
  /** The kind, e.g. `netem`. */
  readonly kind: string;
  /** The config option that builds it, e.g. `CONFIG_NET_SCH_NETEM`. */
  readonly config: string;

  /** Makes the error for `kind`; `cause` is the kernel's refusal. */
  constructor(
    what: "qdisc" | "filter" | "action",
    kind: string,
    cause?: unknown,
  ) {
    const config = tcKindConfig(what, kind);
    super(
      `this kernel has no ${kind} ${what}: it was built without ${config}`,
      {
        hint: `load its module (modprobe) or use a kernel built with ${config}`,
        cause,
      },
    );
    this.name = "TcKindMissingError";
    this.what = what;
    this.kind = kind;
    this.config = config;
  }
}

/**
 * Turns the kernel's "unknown kind" answer (ENOENT or EOPNOTSUPP, extack
 * "Specified qdisc kind is unknown" and the like) into
 * {@linkcode TcKindMissingError}; other errors pass unchanged.
 */
export function missingKind(
  error: unknown,
  what: "qdisc" | "filter" | "action",
  kind: string | undefined,
): unknown {
  if (
    kind !== undefined && error instanceof NetlinkError &&
    (error.errno === ENOENT || error.errno === EOPNOTSUPP)
  ) {
    const text = error.kernelMessage ?? "";
    if (/unknown|not found|load|module/i.test(text)) {
      return new TcKindMissingError(what, kind, error);
    }
  }
  return error;
}

/** The scheduler clock of this kernel (`/proc/net/psched`), for rate tables. Needs read access to /proc. */
export function readSchedClock(): SchedClock {
  try {
    return parseSchedClock(Deno.readTextFileSync("/proc/net/psched"));
  } catch {
    return DEFAULT_SCHED_CLOCK;
  }
}

/** Options for {@linkcode listQdiscs}. */
export interface ListQdiscsOptions {
  /** Only this device's qdiscs. */
  device?: LinkRef;
}

/** The qdiscs in the socket's namespace (`tc qdisc show`). */
export function listQdiscs(
  sock: NetlinkSocket,
  options: ListQdiscsOptions = {},
): Qdisc[] {
  const index = options.device === undefined
    ? 0
    : linkIndex(sock, options.device);
  const writer = tcRequest(RTM_TC.GETQDISC, NLM_F.REQUEST | NLM_F.DUMP, {
    index,
  });
  const all = sock.dump(writer, "list qdiscs", decodeTc);
  return index === 0 ? all : all.filter((q) => q.index === index);
}

/** What a qdisc to add, change, replace or delete says. */
export interface QdiscSpec {
  /** The device. */
  device: LinkRef;
  /** Parent: `TC_H.ROOT` (default), `TC_H.INGRESS` for ingress/clsact, or a class. */
  parent?: number;
  /** Handle (`maj:0`); the kernel picks one when omitted (ffff: for ingress/clsact). */
  handle?: number;
  /** Kind: tbf, htb, pfifo, bfifo, ingress, clsact, netem… */
  kind?: string;
  /** Options of the kind (see tc_units.ts for tbf and htb computed as tc does). */
  options?: TcOptions;
}

function qdiscRequest(
  sock: NetlinkSocket,
  type: number,
  flags: number,
  spec: QdiscSpec,
): MessageWriter {
  const ingress = spec.kind === "ingress" || spec.kind === "clsact";
  return tcRequest(type, flags, {
    index: linkIndex(sock, spec.device),
    parent: spec.parent ?? (ingress ? TC_H.INGRESS : TC_H.ROOT),
    handle: spec.handle ?? (ingress ? 0xffff0000 : 0),
    kind: spec.kind,
    options: spec.options,
  });
}

function describe(verb: string, spec: QdiscSpec): string {
  const where = spec.parent === undefined || spec.parent === TC_H.ROOT
    ? "root"
    : `parent ${formatClassId(spec.parent)}`;
  return `${verb} qdisc ${spec.kind ?? ""} on ${spec.device} ${where}`
    .replace(/ +/g, " ");
}

function send(
  sock: NetlinkSocket,
  type: number,
  flags: number,
  verb: string,
  spec: QdiscSpec,
): void {
  try {
    sock.execute(
      qdiscRequest(sock, type, NLM_F.REQUEST | NLM_F.ACK | flags, spec),
      describe(verb, spec),
    );
  } catch (error) {
    throw type === RTM_TC.NEWQDISC
      ? missingKind(error, "qdisc", spec.kind)
      : error;
  }
}

/** Adds a qdisc (`tc qdisc add`); EEXIST if one is there. Needs CAP_NET_ADMIN. */
export function addQdisc(sock: NetlinkSocket, spec: QdiscSpec): void {
  send(sock, RTM_TC.NEWQDISC, NLM_F.CREATE | NLM_F.EXCL, "add", spec);
}

/** Changes an existing qdisc's options (`tc qdisc change`). Needs CAP_NET_ADMIN. */
export function changeQdisc(sock: NetlinkSocket, spec: QdiscSpec): void {
  send(sock, RTM_TC.NEWQDISC, 0, "change", spec);
}

/** Adds a qdisc or replaces the one there (`tc qdisc replace`). Needs CAP_NET_ADMIN. */
export function replaceQdisc(sock: NetlinkSocket, spec: QdiscSpec): void {
  send(sock, RTM_TC.NEWQDISC, NLM_F.CREATE | NLM_F.REPLACE, "replace", spec);
}

/** Deletes a qdisc (`tc qdisc del`); its classes and filters go with it. Needs CAP_NET_ADMIN. */
export function deleteQdisc(sock: NetlinkSocket, spec: QdiscSpec): void {
  send(sock, RTM_TC.DELQDISC, 0, "delete", { ...spec, options: undefined });
}
