/**
 * `nsnet monitor [NS] [OBJECT…] [--json]`: link, address, route, neighbour and rule
 * events as they happen, like `ip monitor`; one JSON object a line with
 * `--json`. Runs until interrupted (SIGINT or SIGTERM), then exits 0.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { InvalidArgumentError } from "../errors.ts";
import { familyName } from "../netlink/address_message.ts";
import { listLinks } from "../netlink/link.ts";
import type { Link } from "../netlink/link_message.ts";
import { addressIpJson, linkIpJson } from "../netlink/link_info_json.ts";
import {
  DEFAULT_MONITOR_GROUPS,
  type MonitorEvent,
  NetlinkMonitor,
  RTNLGRP,
} from "../netlink/monitor.ts";
import { tableName } from "../netlink/names.ts";
import { NetlinkSocket } from "../netlink/socket.ts";
import { routeToIpJson } from "./route.ts";
import { ruleJson } from "./rule.ts";
import { neighbourJson } from "./neigh.ts";
import { NAMESPACE_ARG_HELP, openNamespaceArg } from "./namespace_arg.ts";
import { jsonReplacer } from "./output.ts";

/** The `monitor` command. */
export function monitorCommand(): CommandUnknownOpts {
  return new Command("monitor")
    .description(
      "print link, address, route, neighbour and rule events as they happen (like `ip monitor`)",
    )
    .argument(
      "[words...]",
      `[NS] [all|link|address|route|neigh|rule ...] (ip monitor's objects; all when none); NS is a ${NAMESPACE_ARG_HELP}`,
    )
    .option("--json", "one JSON object a line")
    .action(async (words, opts) => {
      const { netns, groups } = parseMonitorWords(words ?? []);
      using ns = openNamespaceArg(netns);
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      const monitor = NetlinkMonitor.open(ns, {
        signal: controller.signal,
        groups,
      });
      const links = new Map<number, Link>();
      {
        // Opened after the monitor, so no link can be missed in between.
        using sock = NetlinkSocket.open(ns);
        for (const l of listLinks(sock, { stats: false })) {
          links.set(l.index, l);
        }
      }
      Deno.addSignalListener("SIGINT", stop);
      Deno.addSignalListener("SIGTERM", stop);
      try {
        for await (const event of monitor) {
          if (event.kind === "link") {
            if (event.action === "del") links.delete(event.link.index);
            else links.set(event.link.index, event.link);
          }
          console.log(
            opts.json
              ? JSON.stringify(eventJson(event, links), jsonReplacer)
              : eventLine(event, links),
          );
        }
      } finally {
        Deno.removeSignalListener("SIGINT", stop);
        Deno.removeSignalListener("SIGTERM", stop);
        monitor.close();
      }
    });
}

const OBJECT_GROUPS: Readonly<Record<string, readonly number[]>> = {
  all: DEFAULT_MONITOR_GROUPS,
  link: [RTNLGRP.LINK],
  address: [RTNLGRP.IPV4_IFADDR, RTNLGRP.IPV6_IFADDR],
  addr: [RTNLGRP.IPV4_IFADDR, RTNLGRP.IPV6_IFADDR],
  route: [RTNLGRP.IPV4_ROUTE, RTNLGRP.IPV6_ROUTE],
  neigh: [RTNLGRP.NEIGH],
  rule: [RTNLGRP.IPV4_RULE, RTNLGRP.IPV6_RULE],
};

/**
 * Parses `nsnet monitor`'s words: an optional namespace, then `ip
 * monitor`'s object names (`link`, `address`, `route`, `neigh`, `rule`,
 * `all`); the groups to join (all of them when no object is named).
 */
export function parseMonitorWords(
  words: readonly string[],
): { netns: string | undefined; groups: readonly number[] } {
  let netns: string | undefined;
  let rest = words;
  if (words.length > 0 && OBJECT_GROUPS[words[0]!] === undefined) {
    netns = words[0];
    rest = words.slice(1);
  }
  const groups = new Set<number>();
  for (const word of rest) {
    const named = OBJECT_GROUPS[word];
    if (named === undefined) {
      throw new InvalidArgumentError(`unknown monitor object "${word}"`, {
        hint: "name one of: all, link, address, route, neigh, rule",
      });
    }
    for (const group of named) groups.add(group);
  }
  return {
    netns,
    groups: groups.size === 0 ? DEFAULT_MONITOR_GROUPS : [...groups],
  };
}

/**
 * One event as a JSON object: `kind`, `action`, and the object under its
 * kind's name as `ip -j` prints it (`ip -j link`, `ip -j route`, `ip -j
 * rule`, `ip -j neigh`; an address as one `addr_info` element with its
 * link's `ifindex` and `ifname`). `links` are the namespace's links by index.
 */
export function eventJson(
  event: MonitorEvent,
  links: ReadonlyMap<number, Link>,
): Record<string, unknown> {
  const names = namesOf(links);
  switch (event.kind) {
    case "overrun":
      return { kind: "overrun" };
    case "link":
      return {
        kind: "link",
        action: event.action,
        link: linkIpJson(event.link, [...links.values()]),
      };
    case "address":
      return {
        kind: "address",
        action: event.action,
        address: {
          ifindex: event.address.index,
          ifname: names.get(event.address.index) ??
            `if${event.address.index}`,
          ...addressIpJson(event.address),
        },
      };
    case "route":
      return {
        kind: "route",
        action: event.action,
        route: routeToIpJson(event.route, { names }),
      };
    case "neighbour":
      return {
        kind: "neighbour",
        action: event.action,
        neighbour: neighbourJson(event.neighbour, { names }),
      };
    case "rule":
      return { kind: "rule", action: event.action, rule: ruleJson(event.rule) };
  }
}

function namesOf(links: ReadonlyMap<number, Link>): Map<number, string> {
  return new Map([...links].map(([index, link]) => [index, link.name]));
}

/** One event as a line for people, in `ip monitor`'s manner. */
export function eventLine(
  event: MonitorEvent,
  links: ReadonlyMap<number, Link>,
): string {
  const names = namesOf(links);
  const verb = "action" in event && event.action === "del" ? "Deleted " : "";
  switch (event.kind) {
    case "overrun":
      return "overrun: the kernel dropped events (receive buffer full)";
    case "link":
      return `[LINK] ${verb}${event.link.index}: ${event.link.name}${
        event.link.kind === undefined ? "" : ` (${event.link.kind})`
      }`;
    case "address": {
      const a = event.address;
      return `[ADDR] ${verb}${names.get(a.index) ?? a.index} ${
        familyName(a.family)
      } ${a.address}/${a.prefixLength}`;
    }
    case "route": {
      const r = event.route;
      const dst = r.destination === undefined
        ? "default"
        : `${r.destination}/${r.destinationLength}`;
      const via = r.gateway === undefined ? "" : ` via ${r.gateway}`;
      const dev = r.outputIndex === undefined
        ? ""
        : ` dev ${names.get(r.outputIndex) ?? r.outputIndex}`;
      return `[ROUTE] ${verb}${dst}${via}${dev} table ${tableName(r.table)}`;
    }
    case "neighbour": {
      const j = neighbourJson(event.neighbour, { names });
      const ll = j.lladdr === undefined ? "" : ` lladdr ${j.lladdr}`;
      const state = Array.isArray(j.state) ? ` ${j.state.join(",")}` : "";
      return `[NEIGH] ${verb}${j.dst ?? ""} dev ${j.dev ?? ""}${ll}${state}`;
    }
    case "rule": {
      const j = ruleJson(event.rule);
      const what = j.table !== undefined
        ? `lookup ${j.table}`
        : j.goto !== undefined
        ? `goto ${j.goto}`
        : "nop" in j
        ? "nop"
        : String(j.action ?? "");
      return `[RULE] ${verb}${j.priority}: from ${j.src}${
        j.srclen === undefined ? "" : `/${j.srclen}`
      } ${what}`;
    }
  }
}
