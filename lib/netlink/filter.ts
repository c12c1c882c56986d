/**
 * Traffic-control filters over rtnetlink, as `tc filter` handles them: list,
 * add, change, replace and delete; u32 matches and classic-BPF programs, and
 * the mirred action that redirects or mirrors to another device (how an
 * ingress is shaped through an ifb, as CNI's bandwidth plugin does). Writes
 * need CAP_NET_ADMIN in the namespace's user namespace.
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import { NLM_F } from "./constants.ts";
import { parsePrefix } from "./ip_address.ts";
import { linkIndex, type LinkRef } from "./link.ts";
import { missingKind, TcKindMissingError } from "./qdisc.ts";
import { NetlinkError } from "./errors.ts";
import type { NetlinkSocket } from "./socket.ts";
import {
  type BpfInstruction,
  type BpfOptions,
  decodeTc,
  ETH_P,
  formatClassId,
  MIRRED_EACTION,
  RTM_TC,
  TC_ACT,
  type TcAction,
  type TcObject,
  type TcOptions,
  tcRequest,
  type U32Key,
  type U32Options,
} from "./tc_message.ts";

/** A filter as the kernel reports it (priority and protocol in `info`). */
export type Filter = TcObject;

/** `tcm_info` of a filter: `prio << 16 | htons(protocol)`. */
export function filterInfo(priority: number, protocol: number): number {
  const be = ((protocol & 0xff) << 8) | ((protocol >>> 8) & 0xff);
  return (((priority & 0xffff) << 16) | be) >>> 0;
}

/** The filters of `device` under `parent` (`tc filter show dev IF parent P`). */
export function listFilters(
  sock: NetlinkSocket,
  device: LinkRef,
  parent = 0,
): Filter[] {
  const writer = tcRequest(RTM_TC.GETTFILTER, NLM_F.REQUEST | NLM_F.DUMP, {
    index: linkIndex(sock, device),
    parent,
  });
  return sock.dump(writer, `list filters of ${device}`, decodeTc);
}

/** What a filter to add, change, replace or delete says. */
export interface FilterSpec {
  /** The device. */
  device: LinkRef;
  /** Parent: a qdisc (`ffff:` for ingress, `1:`), or clsact's `ffff:fff2`/`ffff:fff3`. */
  parent: number;
  /** Protocol, host order (default `ETH_P.ALL`). */
  protocol?: number;
  /** Priority (`pref`); the kernel picks one when 0 or omitted. */
  priority?: number;
  /** Handle (kind-specific; u32's `800::800`). */
  handle?: number;
  /** Classifier kind: u32, bpf… */
  kind?: string;
  /** Its options. */
  options?: TcOptions;
  /** Chain index. */
  chain?: number;
}

function actionKinds(options: TcOptions | undefined): string[] {
  if (options === undefined) return [];
  if (options.kind !== "u32" && options.kind !== "bpf") return [];
  return (options.actions ?? []).map((a) => a.kind);
}

function send(
  sock: NetlinkSocket,
  type: number,
  flags: number,
  verb: string,
  spec: FilterSpec,
): void {
  const writer = tcRequest(type, NLM_F.REQUEST | NLM_F.ACK | flags, {
    index: linkIndex(sock, spec.device),
    parent: spec.parent,
    handle: spec.handle,
    info: filterInfo(spec.priority ?? 0, spec.protocol ?? ETH_P.ALL),
    kind: spec.kind,
    options: spec.options,
    chain: spec.chain,
  });
  const operation = `${verb} ${spec.kind ?? ""} filter on ${spec.device} ` +
    `parent ${formatClassId(spec.parent)}`;
  try {
    sock.execute(writer, operation);
  } catch (error) {
    if (type !== RTM_TC.NEWTFILTER) throw error;
    // Which part is missing: the kernel's text says "action" for an action module.
    if (
      error instanceof NetlinkError &&
      /action/i.test(error.kernelMessage ?? "")
    ) {
      const kinds = actionKinds(spec.options);
      const kind = kinds.find((k) => k !== "mirred") ?? kinds[0];
      if (kind !== undefined) {
        throw new TcKindMissingError("action", kind, error);
      }
    }
    throw missingKind(error, "filter", spec.kind);
  }
}

/** Adds a filter (`tc filter add`). Needs CAP_NET_ADMIN. */
export function addFilter(sock: NetlinkSocket, spec: FilterSpec): void {
  send(sock, RTM_TC.NEWTFILTER, NLM_F.CREATE | NLM_F.EXCL, "add", spec);
}

/** Changes a filter (`tc filter change`; needs its priority and handle). Needs CAP_NET_ADMIN. */
export function changeFilter(sock: NetlinkSocket, spec: FilterSpec): void {
  send(sock, RTM_TC.NEWTFILTER, 0, "change", spec);
}

/** Adds or replaces a filter (`tc filter replace`). Needs CAP_NET_ADMIN. */
export function replaceFilter(sock: NetlinkSocket, spec: FilterSpec): void {
  send(sock, RTM_TC.NEWTFILTER, NLM_F.CREATE | NLM_F.REPLACE, "replace", spec);
}

/**
 * Deletes filters (`tc filter del`): with a priority, that one; without,
 * every filter under the parent. Needs CAP_NET_ADMIN.
 */
export function deleteFilter(sock: NetlinkSocket, spec: FilterSpec): void {
  send(sock, RTM_TC.DELTFILTER, 0, "delete", { ...spec, options: undefined });
}

// ---------------------------------------------------------------- builders

/** How mirred sends the packet on. */
export interface MirredSpec {
  /** The target device's index. */
  ifindex: number;
  /** `redirect` (the packet goes, default) or `mirror` (a copy goes). */
  mode?: "redirect" | "mirror";
  /** Out of (`egress`, default) or into (`ingress`) the target. */
  direction?: "egress" | "ingress";
}

/** A mirred action (`action mirred egress redirect dev IF`). */
export function mirredAction(spec: MirredSpec, order = 1): TcAction {
  const mirror = spec.mode === "mirror";
  const ingress = spec.direction === "ingress";
  return {
    order,
    kind: "mirred",
    mirred: {
      index: 0,
      capab: 0,
      action: mirror ? TC_ACT.PIPE : TC_ACT.STOLEN,
      refcnt: 0,
      bindcnt: 0,
      eaction: ingress
        ? (mirror
          ? MIRRED_EACTION.INGRESS_MIRROR
          : MIRRED_EACTION.INGRESS_REDIR)
        : (mirror ? MIRRED_EACTION.EGRESS_MIRROR : MIRRED_EACTION.EGRESS_REDIR),
      ifindex: spec.ifindex,
    },
  };
}

/** A gact action (`action drop`, `action pass`); needs CONFIG_NET_ACT_GACT. */
export function gactAction(
  verdict: "drop" | "pass" | "ok",
  order = 1,
): TcAction {
  return {
    order,
    kind: "gact",
    gact: {
      index: 0,
      capab: 0,
      action: verdict === "drop" ? TC_ACT.SHOT : TC_ACT.OK,
      refcnt: 0,
      bindcnt: 0,
    },
  };
}

/** `TC_U32_TERMINAL`: a match ends the search (tc sets it with a flowid or an action). */
export const TC_U32_TERMINAL = 1;

/** A u32 match as tc words it. */
export type U32Match =
  | { type: "u32"; value: number; mask: number; at?: number }
  | { type: "ip"; field: "src" | "dst"; prefix: string };

/** The key of one u32 match (`match u32 V M at O`, `match ip dst P`). */
export function u32Key(match: U32Match): U32Key {
  if (match.type === "u32") {
    return {
      mask: match.mask >>> 0,
      value: (match.value & match.mask) >>> 0,
      offset: match.at ?? 0,
      offmask: 0,
    };
  }
  const prefix = parsePrefix(
    match.prefix.includes("/") ? match.prefix : `${match.prefix}/32`,
  );
  if (prefix.bytes.length !== 4) {
    throw new InvalidArgumentError(
      `match ip ${match.field} needs an IPv4 prefix, not ${match.prefix}`,
    );
  }
  const b = prefix.bytes;
  const value = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  const mask = prefix.prefixLength === 0
    ? 0
    : (0xffffffff << (32 - prefix.prefixLength)) >>> 0;
  return {
    mask,
    value: (value & mask) >>> 0,
    offset: match.field === "src" ? 12 : 16,
    offmask: 0,
  };
}

/** A u32 filter's options: the matches (none = match all), a flowid, actions. */
export function u32Options(
  matches: readonly U32Match[],
  extra: { classid?: number; actions?: TcAction[] } = {},
): U32Options {
  const keys = matches.length === 0
    ? [u32Key({ type: "u32", value: 0, mask: 0 })]
    : matches.map(u32Key);
  const terminal = extra.classid !== undefined ||
    (extra.actions?.length ?? 0) > 0;
  const out: U32Options = {
    kind: "u32",
    selector: {
      flags: terminal ? TC_U32_TERMINAL : 0,
      offshift: 0,
      offmask: 0,
      off: 0,
      offoff: 0,
      hoff: 0,
      hmask: 0,
      keys,
    },
  };
  if (extra.classid !== undefined) out.classid = extra.classid;
  if (extra.actions !== undefined) out.actions = extra.actions;
  return out;
}

/**
 * Parses tc's `bytecode` text: `N,code jt jf k,code jt jf k,…` (what
 * `bpf_asm -c`/`tcpdump -ddd` print), into classic-BPF instructions.
 */
export function parseBpfBytecode(text: string): BpfInstruction[] {
  const parts = text.trim().split(",").map((p) => p.trim()).filter((p) =>
    p !== ""
  );
  const count = Number(parts[0]);
  if (!Number.isInteger(count) || count !== parts.length - 1 || count === 0) {
    throw new InvalidArgumentError(
      `invalid bpf bytecode ${JSON.stringify(text)}`,
      {
        hint: "bytecode is `N,code jt jf k,…` with N instructions",
      },
    );
  }
  return parts.slice(1).map((p) => {
    const f = p.split(/\s+/).map(Number);
    if (f.length !== 4 || f.some((x) => !Number.isInteger(x) || x < 0)) {
      throw new InvalidArgumentError(
        `invalid bpf instruction ${JSON.stringify(p)}`,
      );
    }
    return { code: f[0]!, jt: f[1]!, jf: f[2]!, k: f[3]! >>> 0 };
  });
}

/** A classic-BPF filter's options (`bpf bytecode … [da]`). */
export function bpfOptions(
  ops: BpfInstruction[],
  extra: { classid?: number; actions?: TcAction[]; directAction?: boolean } =
    {},
): BpfOptions {
  const out: BpfOptions = { kind: "bpf", ops };
  if (extra.classid !== undefined) out.classid = extra.classid;
  if (extra.directAction) out.flags = 1;
  if (extra.actions !== undefined) out.actions = extra.actions;
  return out;
}

/** A mirred action to `device`, resolved in the socket's namespace. */
export function mirredTo(
  sock: NetlinkSocket,
  device: LinkRef,
  mode: "redirect" | "mirror" = "redirect",
  direction: "egress" | "ingress" = "egress",
  order = 1,
): TcAction {
  return mirredAction(
    { ifindex: linkIndex(sock, device), mode, direction },
    order,
  );
}
