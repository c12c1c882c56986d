/**
 * `nsnet rule list|add|del [NS] …`: policy routing rules, as `ip rule`
 * handles them and in its words (`from 10.0.0.0/8 table 100 priority 1000`,
 * `fwmark 0x1 lookup 200`, `iif eth0 blackhole`), over nsnet's own netlink.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { InvalidArgumentError } from "../errors.ts";
import { AF } from "../netlink/constants.ts";
import {
  parseRouteProtocol,
  routeProtocolName,
  routeTypeName,
  tableName,
} from "../netlink/names.ts";
import { parseTable } from "../netlink/names.ts";
import {
  addRule,
  deleteRule,
  listRules,
  type RuleSpec,
} from "../netlink/rule.ts";
import {
  FIB_RULE,
  FR_ACT,
  ipProtocolName,
  parseIPProtocol,
  type Rule,
  type RuleRange,
} from "../netlink/rule_message.ts";
import { familyOption } from "./addr.ts";
import {
  NAMESPACE_ARG_HELP,
  parseCount,
  withNetlink,
} from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";

/** The `rule` command and its subcommands. */
export function ruleCommand(): CommandUnknownOpts {
  return new Command("rule")
    .description("list, add and delete policy routing rules (like `ip rule`)")
    .addCommand(listCommand())
    .addCommand(changeCommand("add"))
    .addCommand(changeCommand("del"));
}

/** C's `%#x`, as iproute2 prints marks: `0x10`, but `0` for zero. */
function hex(n: number): string {
  return n === 0 ? "0" : `0x${(n >>> 0).toString(16)}`;
}

/** `rule` as `ip -j rule` prints it, field for field. */
export function ruleJson(rule: Rule): Record<string, unknown> {
  const out: Record<string, unknown> = { priority: rule.priority ?? 0 };
  const hostLength = rule.family === AF.INET6 ? 128 : 32;
  if (rule.flags & FIB_RULE.INVERT) out.not = null;
  if (rule.source !== undefined) {
    out.src = rule.source;
    if (rule.sourceLength !== hostLength) out.srclen = rule.sourceLength;
  } else if (rule.sourceLength !== 0) {
    out.src = "0";
    out.srclen = rule.sourceLength;
  } else {
    out.src = "all";
  }
  if (rule.destination !== undefined) {
    out.dst = rule.destination;
    if (rule.destinationLength !== hostLength) {
      out.dstlen = rule.destinationLength;
    }
  } else if (rule.destinationLength !== 0) {
    out.dst = "0";
    out.dstlen = rule.destinationLength;
  }
  // iproute2 prints the DS field with two digits at least (rtnl_dsfield_n2a).
  if (rule.tos !== 0) out.tos = `0x${rule.tos.toString(16).padStart(2, "0")}`;
  if (rule.fwmark !== undefined || rule.fwmask !== undefined) {
    const mark = rule.fwmark ?? 0;
    const mask = rule.fwmask ?? 0xffffffff;
    if (mark !== 0 || mask !== 0xffffffff) {
      out.fwmark = hex(mark);
      if (mask !== 0xffffffff) out.fwmask = hex(mask);
    }
  }
  if (rule.iif !== undefined) {
    out.iif = rule.iif;
    if (rule.flags & FIB_RULE.IIF_DETACHED) out.iif_detached = null;
  }
  if (rule.oif !== undefined) {
    out.oif = rule.oif;
    if (rule.flags & FIB_RULE.OIF_DETACHED) out.oif_detached = null;
  }
  if (rule.l3mdev) out.l3mdev = null;
  if (rule.uidRange !== undefined) {
    out.uid_start = rule.uidRange.start;
    out.uid_end = rule.uidRange.end;
  }
  if (rule.ipProto !== undefined) out.ipproto = ipProtocolName(rule.ipProto);
  portsJson(out, "sport", rule.sourcePorts);
  portsJson(out, "dport", rule.destinationPorts);
  if (rule.table !== 0) {
    out.table = tableName(rule.table);
    if (
      rule.suppressPrefixLength !== undefined &&
      rule.suppressPrefixLength !== 0xffffffff
    ) {
      out.suppress_prefixlen = rule.suppressPrefixLength | 0;
    }
    if (
      rule.suppressIfgroup !== undefined && rule.suppressIfgroup !== 0xffffffff
    ) {
      out.suppress_ifgroup = rule.suppressIfgroup;
    }
  }
  if (rule.flow !== undefined) out.flow = rule.flow;
  if (rule.action === FR_ACT.GOTO) {
    out.goto = rule.goto ?? "none";
    if (rule.flags & FIB_RULE.UNRESOLVED) out.unresolved = null;
  } else if (rule.action === FR_ACT.NOP) {
    out.nop = null;
  } else if (rule.action !== FR_ACT.TO_TBL) {
    out.action = routeTypeName(rule.action);
  }
  // Like `ip -j rule` without -d: a kernel-made or unspecified protocol is not shown.
  if (
    rule.protocol !== undefined && rule.protocol !== 0 && rule.protocol !== 2
  ) {
    out.protocol = routeProtocolName(rule.protocol);
  }
  return out;
}

function portsJson(
  out: Record<string, unknown>,
  name: string,
  ports: RuleRange | undefined,
): void {
  if (ports === undefined) return;
  if (ports.start === ports.end) out[name] = ports.start;
  else {
    out[`${name}_start`] = ports.start;
    out[`${name}_end`] = ports.end;
  }
}

/** One line of `ip rule`'s text form, for the table. */
function selector(rule: Rule): string {
  const j = ruleJson(rule);
  const parts: string[] = [];
  if ("not" in j) parts.push("not");
  parts.push(`from ${j.src}${j.srclen === undefined ? "" : `/${j.srclen}`}`);
  if (j.dst !== undefined) {
    parts.push(`to ${j.dst}${j.dstlen === undefined ? "" : `/${j.dstlen}`}`);
  }
  if (j.tos !== undefined) parts.push(`tos ${j.tos}`);
  if (j.fwmark !== undefined) {
    parts.push(
      `fwmark ${j.fwmark}${j.fwmask === undefined ? "" : `/${j.fwmask}`}`,
    );
  }
  if (j.iif !== undefined) parts.push(`iif ${j.iif}`);
  if (j.oif !== undefined) parts.push(`oif ${j.oif}`);
  if ("l3mdev" in j) parts.push("l3mdev");
  if (j.uid_start !== undefined) {
    parts.push(`uidrange ${j.uid_start}-${j.uid_end}`);
  }
  if (j.ipproto !== undefined) parts.push(`ipproto ${j.ipproto}`);
  for (const p of ["sport", "dport"]) {
    if (j[p] !== undefined) parts.push(`${p} ${j[p]}`);
    if (j[`${p}_start`] !== undefined) {
      parts.push(`${p} ${j[`${p}_start`]}-${j[`${p}_end`]}`);
    }
  }
  return parts.join(" ");
}

function actionText(rule: Rule): string {
  const j = ruleJson(rule);
  const parts: string[] = [];
  if (j.table !== undefined) parts.push(`lookup ${j.table}`);
  if (j.suppress_prefixlen !== undefined) {
    parts.push(`suppress_prefixlength ${j.suppress_prefixlen}`);
  }
  if (j.goto !== undefined) parts.push(`goto ${j.goto}`);
  if ("nop" in j) parts.push("nop");
  if (j.action !== undefined) parts.push(String(j.action));
  if (j.protocol !== undefined) parts.push(`proto ${j.protocol}`);
  return parts.join(" ");
}

function listCommand(): CommandUnknownOpts {
  return new Command("list")
    .alias("show")
    .description(
      "list the rules of a namespace (the current one when omitted)",
    )
    .argument("[netns]", NAMESPACE_ARG_HELP)
    .option("-4, --ipv4", "IPv4 only")
    .option("-6, --ipv6", "IPv6 only")
    .option("--json", "print JSON as `ip -j rule` does")
    .action((netns, opts) => {
      const family = familyOption(opts);
      // Both IP families, IPv4 first; the multicast routing rules (families 128, 129) are not `ip rule`'s.
      const families = family === undefined ? [AF.INET, AF.INET6] : [family];
      const rules = withNetlink(
        netns,
        (sock) => families.flatMap((f) => listRules(sock, { family: f })),
      );
      if (opts.json) {
        printJson(rules.map(ruleJson));
        return;
      }
      printTable(
        ["PRIORITY", "SELECTOR", "ACTION"],
        rules.map((r) => [String(r.priority ?? 0), selector(r), actionText(r)]),
      );
    });
}

const RULE_WORDS = new Set([
  "from",
  "to",
  "not",
  "priority",
  "pref",
  "preference",
  "order",
  "tos",
  "dsfield",
  "fwmark",
  "table",
  "lookup",
  "iif",
  "dev",
  "oif",
  "goto",
  "nop",
  "blackhole",
  "unreachable",
  "prohibit",
  "type",
  "l3mdev",
  "uidrange",
  "protocol",
  "proto",
  "ipproto",
  "sport",
  "dport",
  "suppress_prefixlength",
  "suppress_ifgroup",
  "realms",
  "all",
]);

function number(text: string, what: string): number {
  if (/^0x[0-9a-fA-F]+$/.test(text) && Number(text) <= 0xffffffff) {
    return Number(text);
  }
  return parseCount(text, what);
}

function range(text: string, what: string, max: number): RuleRange {
  const [a, b, extra] = text.split("-");
  if (extra !== undefined || a === undefined) {
    throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(text)}`);
  }
  const start = parseCount(a, what);
  const end = b === undefined ? start : parseCount(b, what);
  if (end > max || start > end) {
    throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(text)}`);
  }
  return { start, end };
}

/**
 * Parses `ip rule add|del`'s words (after an optional namespace) into a
 * spec: `[NS] [not] from P to P priority N table T fwmark M[/K] iif I oif O
 * goto N|nop|blackhole|unreachable|prohibit l3mdev uidrange A-B protocol P
 * ipproto P sport A[-B] dport A[-B] suppress_prefixlength N tos T`.
 */
export function parseRuleWords(
  words: readonly string[],
): { netns: string | undefined; spec: RuleSpec } {
  let i = 0;
  let netns: string | undefined;
  if (words.length > 0 && !RULE_WORDS.has(words[0]!)) netns = words[i++];
  const spec: RuleSpec = {};
  const next = (word: string): string => {
    const value = words[i++];
    if (value === undefined) {
      throw new InvalidArgumentError(`"${word}" needs a value`);
    }
    return value;
  };
  while (i < words.length) {
    const word = words[i++]!;
    switch (word) {
      case "from":
        spec.from = next(word);
        break;
      case "to":
        spec.to = next(word);
        break;
      case "not":
        spec.not = true;
        break;
      case "priority":
      case "pref":
      case "preference":
      case "order":
        spec.priority = parseCount(next(word), "priority");
        break;
      case "tos":
      case "dsfield":
        spec.tos = number(next(word), "tos");
        break;
      case "fwmark": {
        const [mark, mask] = next(word).split("/");
        spec.fwmark = number(mark!, "fwmark");
        if (mask !== undefined) spec.fwmask = number(mask, "fwmask");
        break;
      }
      case "table":
      case "lookup":
        spec.table = parseTable(next(word));
        break;
      case "iif":
      case "dev":
        spec.iif = next(word);
        break;
      case "oif":
        spec.oif = next(word);
        break;
      case "goto":
        spec.goto = parseCount(next(word), "goto");
        spec.action = FR_ACT.GOTO;
        break;
      case "nop":
        spec.action = FR_ACT.NOP;
        break;
      case "type":
        break;
      case "blackhole":
        spec.action = FR_ACT.BLACKHOLE;
        break;
      case "unreachable":
        spec.action = FR_ACT.UNREACHABLE;
        break;
      case "prohibit":
        spec.action = FR_ACT.PROHIBIT;
        break;
      case "l3mdev":
        spec.l3mdev = true;
        break;
      case "uidrange":
        spec.uidRange = range(next(word), "uidrange", 0xffffffff);
        break;
      case "protocol":
      case "proto":
        spec.protocol = parseRouteProtocol(next(word));
        break;
      case "ipproto": {
        const text = next(word);
        const proto = parseIPProtocol(text);
        if (proto === undefined) {
          throw new InvalidArgumentError(`invalid ipproto ${text}`);
        }
        spec.ipProto = proto;
        break;
      }
      case "sport":
        spec.sourcePorts = range(next(word), "sport", 0xffff);
        break;
      case "dport":
        spec.destinationPorts = range(next(word), "dport", 0xffff);
        break;
      case "suppress_prefixlength":
        spec.suppressPrefixLength = parseCount(next(word), "prefix length");
        break;
      case "suppress_ifgroup":
        spec.suppressIfgroup = parseCount(next(word), "group");
        break;
      case "realms":
        spec.flow = parseCount(next(word), "realms");
        break;
      default:
        throw new InvalidArgumentError(`unknown rule word "${word}"`, {
          hint:
            "use `ip rule`'s words: from, to, priority, table, fwmark, iif, oif, goto, blackhole, …",
        });
    }
  }
  return { netns, spec };
}

function changeCommand(verb: "add" | "del"): CommandUnknownOpts {
  return new Command(verb)
    .alias(verb === "del" ? "delete" : "a")
    .description(
      verb === "add"
        ? "add a rule: nsnet rule add [NS] from 10.0.0.0/8 table 100 priority 1000"
        : "delete the first rule that matches: nsnet rule del [NS] priority 1000",
    )
    .argument("<words...>", "[NS] then `ip rule`'s words")
    .option("-4, --ipv4", "IPv4 (the default when no address says)")
    .option("-6, --ipv6", "IPv6 (when no address says)")
    .option(
      "-n, --netns <netns>",
      "act in this namespace (NAME or PATH; default: the current one)",
    )
    .action((words, opts) => {
      const parsed = parseRuleWords(words);
      if (parsed.netns !== undefined && opts.netns !== undefined) {
        throw new InvalidArgumentError("the namespace is given twice");
      }
      const family = familyOption(opts);
      if (family !== undefined) parsed.spec.family = family;
      withNetlink(parsed.netns ?? opts.netns, (sock) => {
        if (verb === "add") addRule(sock, parsed.spec);
        else deleteRule(sock, parsed.spec);
      });
    });
}
