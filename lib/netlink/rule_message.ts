/**
 * Policy routing rule messages (`struct fib_rule_hdr` + FRA attributes) and
 * the decoded {@linkcode Rule}: what `ip rule` reads and writes. Pure: no FFI
 * and no Deno APIs.
 *
 * @module
 */

import {
  attrString,
  attrU32,
  attrU8,
  forEachAttribute,
  type MessageWriter,
  type RawAttribute,
  rawAttribute,
} from "./codec.ts";
import { NetlinkDecodeError } from "./errors.ts";
import { formatIP, parseIP } from "./ip_address.ts";

/** rtnetlink message types of rules. */
export const RTM_RULE = { NEWRULE: 32, DELRULE: 33, GETRULE: 34 } as const;

/** The size of `struct fib_rule_hdr`. */
export const FIB_RULE_HDR_SIZE = 12;

/** `FRA_*`: rule attribute types (linux/fib_rules.h). */
export const FRA = {
  DST: 1,
  SRC: 2,
  IIFNAME: 3,
  GOTO: 4,
  PRIORITY: 6,
  FWMARK: 10,
  FLOW: 11,
  TUN_ID: 12,
  SUPPRESS_IFGROUP: 13,
  SUPPRESS_PREFIXLEN: 14,
  TABLE: 15,
  FWMASK: 16,
  OIFNAME: 17,
  PAD: 18,
  L3MDEV: 19,
  UID_RANGE: 20,
  PROTOCOL: 21,
  IP_PROTO: 22,
  SPORT_RANGE: 23,
  DPORT_RANGE: 24,
} as const;

/** `FR_ACT_*`: what a matching rule does. */
export const FR_ACT = {
  UNSPEC: 0,
  TO_TBL: 1,
  GOTO: 2,
  NOP: 3,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
} as const;

/** `FIB_RULE_*` flags of `fib_rule_hdr.flags`. */
export const FIB_RULE = {
  PERMANENT: 0x1,
  INVERT: 0x2,
  UNRESOLVED: 0x4,
  IIF_DETACHED: 0x8,
  OIF_DETACHED: 0x10,
} as const;

/** An inclusive range of ports or uids, as FRA_*_RANGE carries it. */
export interface RuleRange {
  /** First value. */
  start: number;
  /** Last value (equal to `start` for a single one). */
  end: number;
}

/**
 * A policy routing rule as the kernel reports it. Optional fields are present
 * only when the kernel sent their attribute.
 */
export interface Rule {
  /** `AF.INET` (2) or `AF.INET6` (10). */
  family: number;
  /** Destination prefix length (0: any). */
  destinationLength: number;
  /** Source prefix length (0: any). */
  sourceLength: number;
  /** IPv4 TOS / DS field to match (0: any). */
  tos: number;
  /** Table looked up (FRA_TABLE when present, else the header's byte). */
  table: number;
  /** `FR_ACT_*`: lookup a table, goto, nop, blackhole, unreachable, prohibit. */
  action: number;
  /** `FIB_RULE_*` flags (INVERT is `ip rule`'s `not`). */
  flags: number;
  /** Priority (preference); lower matches first. */
  priority?: number;
  /** Source prefix address (FRA_SRC). */
  source?: string;
  /** Destination prefix address (FRA_DST). */
  destination?: string;
  /** Input interface name (FRA_IIFNAME). */
  iif?: string;
  /** Output interface name (FRA_OIFNAME). */
  oif?: string;
  /** Target priority of a goto rule. */
  goto?: number;
  /** Firewall mark to match. */
  fwmark?: number;
  /** Mask applied to the mark before matching. */
  fwmask?: number;
  /** Realms (FRA_FLOW). */
  flow?: number;
  /** `suppress_ifgroup`. */
  suppressIfgroup?: number;
  /** `suppress_prefixlength` (0xffffffff: unset). */
  suppressPrefixLength?: number;
  /** Nonzero: look up the l3mdev (VRF) table of the interface. */
  l3mdev?: number;
  /** Uid range to match. */
  uidRange?: RuleRange;
  /** Who installed the rule (RTPROT_*). */
  protocol?: number;
  /** IP protocol to match (6 tcp, 17 udp...). */
  ipProto?: number;
  /** Source port range. */
  sourcePorts?: RuleRange;
  /** Destination port range. */
  destinationPorts?: RuleRange;
  /** Attributes nsnet does not decode, as they came. */
  unknown?: RawAttribute[];
}

function range(
  view: DataView,
  at: number,
  length: number,
  wide: boolean,
): RuleRange {
  const size = wide ? 8 : 4;
  if (length < size) {
    throw new NetlinkDecodeError(`range attribute has ${length} bytes`, at);
  }
  return wide
    ? { start: view.getUint32(at, true), end: view.getUint32(at + 4, true) }
    : { start: view.getUint16(at, true), end: view.getUint16(at + 2, true) };
}

/** Decodes the body of an RTM_NEWRULE message spanning `[offset, end)`. */
export function decodeRule(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  end: number,
): Rule {
  if (offset + FIB_RULE_HDR_SIZE > end) {
    throw new NetlinkDecodeError(
      "rule message shorter than fib_rule_hdr",
      offset,
    );
  }
  const rule: Rule = {
    family: view.getUint8(offset),
    destinationLength: view.getUint8(offset + 1),
    sourceLength: view.getUint8(offset + 2),
    tos: view.getUint8(offset + 3),
    table: view.getUint8(offset + 4),
    action: view.getUint8(offset + 7),
    flags: view.getUint32(offset + 8, true),
  };
  forEachAttribute(
    view,
    offset + FIB_RULE_HDR_SIZE,
    end,
    (type, at, length) => {
      switch (type) {
        case FRA.DST:
          rule.destination = formatIP(bytes, at, length);
          break;
        case FRA.SRC:
          rule.source = formatIP(bytes, at, length);
          break;
        case FRA.IIFNAME:
          rule.iif = attrString(bytes, at, length);
          break;
        case FRA.OIFNAME:
          rule.oif = attrString(bytes, at, length);
          break;
        case FRA.GOTO:
          rule.goto = attrU32(view, at, length);
          break;
        case FRA.PRIORITY:
          rule.priority = attrU32(view, at, length);
          break;
        case FRA.FWMARK:
          rule.fwmark = attrU32(view, at, length);
          break;
        case FRA.FWMASK:
          rule.fwmask = attrU32(view, at, length);
          break;
        case FRA.FLOW:
          rule.flow = attrU32(view, at, length);
          break;
        case FRA.SUPPRESS_IFGROUP:
          rule.suppressIfgroup = attrU32(view, at, length);
          break;
        case FRA.SUPPRESS_PREFIXLEN:
          rule.suppressPrefixLength = attrU32(view, at, length);
          break;
        case FRA.TABLE:
          rule.table = attrU32(view, at, length);
          break;
        case FRA.L3MDEV:
          rule.l3mdev = attrU8(view, at, length);
          break;
        case FRA.UID_RANGE:
          rule.uidRange = range(view, at, length, true);
          break;
        case FRA.PROTOCOL:
          rule.protocol = attrU8(view, at, length);
          break;
        case FRA.IP_PROTO:
          rule.ipProto = attrU8(view, at, length);
          break;
        case FRA.SPORT_RANGE:
          rule.sourcePorts = range(view, at, length, false);
          break;
        case FRA.DPORT_RANGE:
          rule.destinationPorts = range(view, at, length, false);
          break;
        case FRA.PAD:
          break;
        default:
          (rule.unknown ??= []).push(rawAttribute(bytes, type, at, length));
      }
    },
  );
  return rule;
}

function writeRange(
  writer: MessageWriter,
  type: number,
  r: RuleRange,
  wide: boolean,
): void {
  const data = new Uint8Array(wide ? 8 : 4);
  const view = new DataView(data.buffer);
  if (wide) {
    view.setUint32(0, r.start >>> 0, true);
    view.setUint32(4, r.end >>> 0, true);
  } else {
    view.setUint16(0, r.start, true);
    view.setUint16(2, r.end, true);
  }
  writer.bytes(type, data);
}

/**
 * Writes `rule` as a `fib_rule_hdr` and its attributes into `writer` (an
 * RTM_NEWRULE or RTM_DELRULE request). A table above 255 goes in FRA_TABLE
 * with 0 in the header, as iproute2 sends it; raw `unknown` attributes are
 * written back unchanged.
 */
export function encodeRule(writer: MessageWriter, rule: Rule): MessageWriter {
  writer.struct(FIB_RULE_HDR_SIZE, (view, at) => {
    view.setUint8(at, rule.family);
    view.setUint8(at + 1, rule.destinationLength);
    view.setUint8(at + 2, rule.sourceLength);
    view.setUint8(at + 3, rule.tos);
    view.setUint8(at + 4, rule.table > 255 ? 0 : rule.table);
    view.setUint8(at + 7, rule.action);
    view.setUint32(at + 8, rule.flags >>> 0, true);
  });
  if (rule.table > 255) writer.u32(FRA.TABLE, rule.table);
  if (rule.priority !== undefined) writer.u32(FRA.PRIORITY, rule.priority);
  if (rule.source !== undefined) {
    writer.bytes(FRA.SRC, parseIP(rule.source).bytes);
  }
  if (rule.destination !== undefined) {
    writer.bytes(FRA.DST, parseIP(rule.destination).bytes);
  }
  if (rule.iif !== undefined) writer.string(FRA.IIFNAME, rule.iif);
  if (rule.oif !== undefined) writer.string(FRA.OIFNAME, rule.oif);
  if (rule.goto !== undefined) writer.u32(FRA.GOTO, rule.goto);
  if (rule.fwmark !== undefined) writer.u32(FRA.FWMARK, rule.fwmark);
  if (rule.fwmask !== undefined) writer.u32(FRA.FWMASK, rule.fwmask);
  if (rule.flow !== undefined) writer.u32(FRA.FLOW, rule.flow);
  if (rule.suppressIfgroup !== undefined) {
    writer.u32(FRA.SUPPRESS_IFGROUP, rule.suppressIfgroup);
  }
  if (rule.suppressPrefixLength !== undefined) {
    writer.u32(FRA.SUPPRESS_PREFIXLEN, rule.suppressPrefixLength);
  }
  if (rule.l3mdev !== undefined) writer.u8(FRA.L3MDEV, rule.l3mdev);
  if (rule.uidRange !== undefined) {
    writeRange(writer, FRA.UID_RANGE, rule.uidRange, true);
  }
  if (rule.protocol !== undefined) writer.u8(FRA.PROTOCOL, rule.protocol);
  if (rule.ipProto !== undefined) writer.u8(FRA.IP_PROTO, rule.ipProto);
  if (rule.sourcePorts !== undefined) {
    writeRange(writer, FRA.SPORT_RANGE, rule.sourcePorts, false);
  }
  if (rule.destinationPorts !== undefined) {
    writeRange(writer, FRA.DPORT_RANGE, rule.destinationPorts, false);
  }
  for (const raw of rule.unknown ?? []) writer.bytes(raw.type, raw.data);
  return writer;
}

const ACTION_NAMES: ReadonlyMap<number, string> = new Map([
  [FR_ACT.UNSPEC, "unspec"],
  [FR_ACT.TO_TBL, "lookup"],
  [FR_ACT.GOTO, "goto"],
  [FR_ACT.NOP, "nop"],
  [FR_ACT.BLACKHOLE, "blackhole"],
  [FR_ACT.UNREACHABLE, "unreachable"],
  [FR_ACT.PROHIBIT, "prohibit"],
]);

/** The word `ip rule` uses for an action (`lookup`, `goto`, `nop`, `blackhole`...). */
export function ruleActionName(action: number): string {
  return ACTION_NAMES.get(action) ?? String(action);
}

const IP_PROTOCOLS: ReadonlyMap<number, string> = new Map([
  [0, "ip"],
  [1, "icmp"],
  [2, "igmp"],
  [4, "ipencap"],
  [6, "tcp"],
  [17, "udp"],
  [41, "ipv6"],
  [47, "gre"],
  [50, "esp"],
  [51, "ah"],
  [58, "ipv6-icmp"],
  [103, "pim"],
  [132, "sctp"],
  [136, "udplite"],
]);

/** The name `ip rule` prints for an IP protocol (`tcp`, `udp`...; else the number). */
export function ipProtocolName(protocol: number): string {
  return IP_PROTOCOLS.get(protocol) ?? String(protocol);
}

/** Parses `ip rule`'s `ipproto` word: a protocol name or a number up to 255. */
export function parseIPProtocol(text: string): number | undefined {
  for (const [value, name] of IP_PROTOCOLS) if (name === text) return value;
  if (/^\d+$/.test(text) && Number(text) <= 255) return Number(text);
  return undefined;
}
