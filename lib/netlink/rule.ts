/**
 * Policy routing rules over rtnetlink, as `ip rule` does them: list (one
 * family or both), add and delete. Every call needs CAP_NET_ADMIN in the
 * namespace's user namespace except {@linkcode listRules}.
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import { MessageWriter } from "./codec.ts";
import { AF, NLM_F, RT_TABLE } from "./constants.ts";
import { formatIP, parsePrefix } from "./ip_address.ts";
import {
  decodeRule,
  encodeRule,
  FIB_RULE,
  FIB_RULE_HDR_SIZE,
  FR_ACT,
  RTM_RULE,
  type Rule,
  type RuleRange,
} from "./rule_message.ts";
import type { NetlinkSocket } from "./socket.ts";

/** Filters for {@linkcode listRules}. */
export interface ListRulesOptions {
  /**
   * Only this family (`AF.INET` or `AF.INET6`); when omitted, every family
   * the kernel keeps rules for (IPv4, IPv6, and the multicast routing
   * families 128 and 129).
   */
  family?: number;
}

/** The rules of the socket's namespace, each family in priority order. */
export function listRules(
  sock: NetlinkSocket,
  options: ListRulesOptions = {},
): Rule[] {
  const writer = new MessageWriter(
    RTM_RULE.GETRULE,
    NLM_F.REQUEST | NLM_F.DUMP,
  ).struct(FIB_RULE_HDR_SIZE, (view, at) => {
    view.setUint8(at, options.family ?? AF.UNSPEC);
  });
  return sock.dump(writer, "list rules", decodeRule);
}

/** What a rule to add or delete says, in `ip rule`'s terms. Fields left out match anything on delete. */
export interface RuleSpec {
  /** Family when neither `from` nor `to` says it (default IPv4). */
  family?: number;
  /** `priority` (`pref`, `order`). */
  priority?: number;
  /** `from PREFIX` (`all` or omitted: any source). */
  from?: string;
  /** `to PREFIX`. */
  to?: string;
  /** `not`: the selector is inverted. */
  not?: boolean;
  /** `tos`. */
  tos?: number;
  /** `fwmark MARK[/MASK]`. */
  fwmark?: number;
  /** The mask of `fwmark`. */
  fwmask?: number;
  /** `iif NAME`. */
  iif?: string;
  /** `oif NAME`. */
  oif?: string;
  /** `table`/`lookup` (default main on add, for a lookup rule). */
  table?: number;
  /** `FR_ACT_*` (default: lookup; goto when `goto` is set). */
  action?: number;
  /** `goto PRIORITY`. */
  goto?: number;
  /** `l3mdev`. */
  l3mdev?: boolean;
  /** `uidrange START-END`. */
  uidRange?: RuleRange;
  /** `protocol` (RTPROT_*). */
  protocol?: number;
  /** `ipproto`. */
  ipProto?: number;
  /** `sport START[-END]`. */
  sourcePorts?: RuleRange;
  /** `dport START[-END]`. */
  destinationPorts?: RuleRange;
  /** `suppress_prefixlength`. */
  suppressPrefixLength?: number;
  /** `suppress_ifgroup`. */
  suppressIfgroup?: number;
  /** `realms` (FRA_FLOW). */
  flow?: number;
}

/** The {@linkcode Rule} a spec asks for; `adding` fills in what `ip rule add` defaults. */
export function ruleFromSpec(spec: RuleSpec, adding: boolean): Rule {
  const from = spec.from === undefined || spec.from === "all"
    ? undefined
    : parsePrefix(spec.from);
  const to = spec.to === undefined || spec.to === "all"
    ? undefined
    : parsePrefix(spec.to);
  const family = from?.family ?? to?.family ?? spec.family ?? AF.INET;
  if (
    (from !== undefined && from.family !== family) ||
    (to !== undefined && to.family !== family)
  ) {
    throw new InvalidArgumentError(
      `rule mixes address families (from ${spec.from}, to ${spec.to})`,
    );
  }
  const action = spec.action ??
    (spec.goto !== undefined
      ? FR_ACT.GOTO
      : adding
      ? FR_ACT.TO_TBL
      : FR_ACT.UNSPEC);
  const table = spec.table ??
    (adding && action === FR_ACT.TO_TBL && !spec.l3mdev ? RT_TABLE.MAIN : 0);
  const rule: Rule = {
    family,
    destinationLength: to?.prefixLength ?? 0,
    sourceLength: from?.prefixLength ?? 0,
    tos: spec.tos ?? 0,
    table,
    action,
    flags: spec.not ? FIB_RULE.INVERT : 0,
  };
  if (from !== undefined) {
    rule.source = formatIP(from.bytes, 0, from.bytes.length);
  }
  if (to !== undefined) {
    rule.destination = formatIP(to.bytes, 0, to.bytes.length);
  }
  if (spec.priority !== undefined) rule.priority = spec.priority;
  if (spec.iif !== undefined) rule.iif = spec.iif;
  if (spec.oif !== undefined) rule.oif = spec.oif;
  if (spec.goto !== undefined) rule.goto = spec.goto;
  if (spec.fwmark !== undefined) rule.fwmark = spec.fwmark;
  if (spec.fwmask !== undefined) rule.fwmask = spec.fwmask;
  if (spec.flow !== undefined) rule.flow = spec.flow;
  if (spec.suppressIfgroup !== undefined) {
    rule.suppressIfgroup = spec.suppressIfgroup;
  }
  if (spec.suppressPrefixLength !== undefined) {
    rule.suppressPrefixLength = spec.suppressPrefixLength;
  }
  if (spec.l3mdev) rule.l3mdev = 1;
  if (spec.uidRange !== undefined) rule.uidRange = spec.uidRange;
  if (spec.protocol !== undefined) rule.protocol = spec.protocol;
  if (spec.ipProto !== undefined) rule.ipProto = spec.ipProto;
  if (spec.sourcePorts !== undefined) rule.sourcePorts = spec.sourcePorts;
  if (spec.destinationPorts !== undefined) {
    rule.destinationPorts = spec.destinationPorts;
  }
  return rule;
}

/** The RTM_NEWRULE or RTM_DELRULE request for `spec`. */
export function ruleRequest(
  type: number,
  flags: number,
  spec: RuleSpec,
): MessageWriter {
  return encodeRule(
    new MessageWriter(type, flags),
    ruleFromSpec(spec, type === RTM_RULE.NEWRULE),
  );
}

function describe(verb: string, spec: RuleSpec): string {
  const parts = [`${verb} rule`];
  if (spec.priority !== undefined) parts.push(`priority ${spec.priority}`);
  if (spec.from !== undefined) parts.push(`from ${spec.from}`);
  if (spec.to !== undefined) parts.push(`to ${spec.to}`);
  if (spec.table !== undefined) parts.push(`table ${spec.table}`);
  return parts.join(" ");
}

/** Adds a rule (`ip rule add`); EEXIST if an identical one exists. Needs CAP_NET_ADMIN. */
export function addRule(sock: NetlinkSocket, spec: RuleSpec): void {
  sock.execute(
    ruleRequest(
      RTM_RULE.NEWRULE,
      NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL,
      spec,
    ),
    describe("add", spec),
  );
}

/** Deletes the first rule matching `spec` (`ip rule del`). Needs CAP_NET_ADMIN. */
export function deleteRule(sock: NetlinkSocket, spec: RuleSpec): void {
  sock.execute(
    ruleRequest(RTM_RULE.DELRULE, NLM_F.REQUEST | NLM_F.ACK, spec),
    describe("delete", spec),
  );
}
