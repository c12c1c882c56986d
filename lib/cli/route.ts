/**
 * `nsnet route list|add|replace|del`: routes, as `ip route` handles them,
 * over nsnet's own netlink. `list --json` prints what `ip -j route` prints,
 * field for field; `add` and friends take `ip route`'s own words.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { InvalidArgumentError } from "../errors.ts";
import { familyName } from "../netlink/address_message.ts";
import { AF, RT_SCOPE, RTM_F, RTN, RTPROT } from "../netlink/constants.ts";
import { tryParseIP } from "../netlink/ip_address.ts";
import { listLinks } from "../netlink/link.ts";
import {
  isRouteTypeName,
  nexthopFlagNames,
  parseNexthopFlag,
  parseRoutePreference,
  parseRouteProtocol,
  parseRouteType,
  parseScope,
  parseTable,
  routeFlagNames,
  routePreferenceName,
  routeProtocolName,
  routeTypeName,
  scopeName,
  tableName,
} from "../netlink/names.ts";
import {
  addRoute,
  deleteRoute,
  listRoutes,
  type NexthopSpec,
  replaceRoute,
  type RouteSpec,
} from "../netlink/route.ts";
import {
  type Nexthop,
  type Route,
  type RouteMetrics,
  RTAX,
  RTNH_F,
} from "../netlink/route_message.ts";
import { familyOption } from "./addr.ts";
import { linkRef } from "./link.ts";
import {
  NAMESPACE_ARG_HELP,
  parseCount,
  withNetlink,
} from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";

/** The `route` command and its subcommands. */
export function routeCommand(): CommandUnknownOpts {
  return new Command("route")
    .description("list, add, replace and delete routes (like `ip route`)")
    .addCommand(listCommand())
    .addCommand(changeCommand("add"))
    .addCommand(changeCommand("replace"))
    .addCommand(changeCommand("del"));
}

/** A JSON value as `ip -j` prints it. */
export type IpJson = Record<string, unknown>;

/** How {@linkcode routeToIpJson} names interfaces and which fields a filter hides. */
export interface IpJsonContext {
  /** Interface names by index (ip prints `if<N>` for one it does not know). */
  names: ReadonlyMap<number, string>;
  /** The listing asked for one table: ip then leaves `table` out. */
  tableFiltered?: boolean;
}

function deviceName(names: ReadonlyMap<number, string>, index: number): string {
  if (index === 0) return "*";
  return names.get(index) ?? `if${index}`;
}

function hostLength(family: number): number {
  return family === AF.INET6 ? 128 : family === AF.INET ? 32 : 0;
}

function prefixText(
  address: string | undefined,
  length: number,
  family: number,
): string | undefined {
  if (address === undefined) return length === 0 ? undefined : `0/${length}`;
  return length === hostLength(family) ? address : `${address}/${length}`;
}

function realmName(realm: number): string {
  return realm === 0 ? "cosmos" : String(realm);
}

function flowJson(flow: number): IpJson {
  const from = flow >>> 16;
  const out: IpJson = {};
  if (from !== 0) out.from = realmName(from);
  out.to = realmName(flow & 0xffff);
  return out;
}

// mx_names in ip/iproute.c: the JSON key of each RTAX_* metric.
const METRIC_JSON: readonly [number, keyof RouteMetrics, string][] = [
  [RTAX.MTU, "mtu", "mtu"],
  [RTAX.WINDOW, "window", "window"],
  [RTAX.RTT, "rtt", "rtt"],
  [RTAX.RTTVAR, "rttvar", "rttvar"],
  [RTAX.SSTHRESH, "ssthresh", "ssthresh"],
  [RTAX.CWND, "cwnd", "cwnd"],
  [RTAX.ADVMSS, "advmss", "advmss"],
  [RTAX.REORDERING, "reordering", "reordering"],
  [RTAX.HOPLIMIT, "hoplimit", "hoplimit"],
  [RTAX.INITCWND, "initcwnd", "initcwnd"],
  [RTAX.FEATURES, "features", "features"],
  [RTAX.RTO_MIN, "rtoMin", "rto_min"],
  [RTAX.INITRWND, "initrwnd", "initrwnd"],
  [RTAX.QUICKACK, "quickack", "quickack"],
  [RTAX.CC_ALGO, "congctl", "congestion"],
  [RTAX.FASTOPEN_NO_COOKIE, "fastopenNoCookie", "fastopen_no_cookie"],
];

function metricsJson(metrics: RouteMetrics): IpJson {
  const out: IpJson = {};
  const lock = metrics.lock ?? 0;
  for (const [number, key, name] of METRIC_JSON) {
    const raw = metrics[key];
    if (raw === undefined && (lock & (1 << number)) === 0) continue;
    if (key === "congctl") {
      out[name] = raw ?? "";
      continue;
    }
    const value = typeof raw === "number" ? raw >>> 0 : 0;
    if (key === "hoplimit" && value === 0xffffffff) continue;
    if (key === "features") {
      // ip names the ECN bit and prints the whole word in hex when others are set.
      if ((value & 1) !== 0) out.ecn = null;
      if ((value & ~1) !== 0) out.features = `0x${value.toString(16)}`;
    } else if (key === "rtt") out[name] = Math.trunc(value / 8);
    else if (key === "rttvar") out[name] = Math.trunc(value / 4);
    else out[name] = value;
  }
  return out;
}

function viaJson(via: { family: number; address: string }): IpJson {
  return { family: familyName(via.family), host: via.address };
}

function nexthopJson(hop: Nexthop, names: ReadonlyMap<number, string>): IpJson {
  const out: IpJson = {};
  if (hop.gateway !== undefined) out.gateway = hop.gateway;
  if (hop.via !== undefined) out.via = viaJson(hop.via);
  if (hop.flow !== undefined) out.flow = flowJson(hop.flow);
  out.dev = deviceName(names, hop.outputIndex);
  out.weight = hop.weight;
  out.flags = nexthopFlagNames(hop.flags);
  return out;
}

/**
 * `route` as `ip -j route` prints it: the same fields, in the same order,
 * with the same names and the same omissions (no `type` for unicast, no
 * `table` for main, no `protocol` for boot, no `scope` for global).
 */
export function routeToIpJson(route: Route, context: IpJsonContext): IpJson {
  const out: IpJson = {};
  const { names } = context;
  if (route.type !== RTN.UNICAST) out.type = routeTypeName(route.type);
  out.dst = prefixText(
    route.destination,
    route.destinationLength,
    route.family,
  ) ?? "default";
  if (route.destination === undefined && route.destinationLength !== 0) {
    out.dst = `0/${route.destinationLength} `; // ip's own spelling, space included
  }
  if (route.source !== undefined) {
    out.from = prefixText(route.source, route.sourceLength, route.family);
  } else if (route.sourceLength !== 0) out.src = `0/${route.sourceLength}`;
  if (route.nexthopId !== undefined) out.nhid = route.nexthopId;
  if (route.tos !== 0) out.tos = `0x${route.tos.toString(16).padStart(2, "0")}`;
  if (route.gateway !== undefined) out.gateway = route.gateway;
  if (route.via !== undefined) out.via = viaJson(route.via);
  if (route.outputIndex !== undefined) {
    out.dev = deviceName(names, route.outputIndex);
  }
  if (route.table !== 0 && route.table !== 254 && !context.tableFiltered) {
    out.table = tableName(route.table);
  }
  if ((route.flags & RTM_F.CLONED) === 0) {
    if (route.protocol !== RTPROT.BOOT) {
      out.protocol = routeProtocolName(route.protocol);
    }
    if (route.scope !== RT_SCOPE.UNIVERSE) out.scope = scopeName(route.scope);
  }
  if (route.preferredSource !== undefined) {
    out.prefsrc = route.preferredSource;
  }
  if (route.priority !== undefined) out.metric = route.priority;
  out.flags = routeFlagNames(route.flags);
  if (route.mark !== undefined && route.mark !== 0) out.mark = route.mark;
  if (route.flow !== undefined) out.flow = flowJson(route.flow);
  const cache = route.cacheInfo;
  if (cache !== undefined) {
    // USER_HZ is 100 on every architecture nsnet runs on; ip divides by it, truncating.
    if (cache.expires !== 0) out.expires = Math.trunc(cache.expires / 100);
    if (cache.error !== 0) out.error = cache.error;
  }
  if (route.metrics !== undefined) out.metrics = [metricsJson(route.metrics)];
  if (route.inputIndex !== undefined) {
    out.iif = deviceName(names, route.inputIndex);
  }
  if (route.preference !== undefined) {
    out.pref = routePreferenceName(route.preference);
  }
  if (route.nexthops !== undefined) {
    out.nexthops = route.nexthops.map((hop) => nexthopJson(hop, names));
  }
  return out;
}

function listCommand(): CommandUnknownOpts {
  return new Command("list")
    .alias("show")
    .description(
      "list the routes of a namespace (the current one when omitted)",
    )
    .argument("[netns]", NAMESPACE_ARG_HELP)
    .option("-t, --table <table>", "main (default), local, a number, or all")
    .option("-4, --ipv4", "IPv4 only")
    .option("-6, --ipv6", "IPv6 only")
    .option("--json", "print JSON as `ip -j route` does")
    .action((netns, opts) => {
      const family = familyOption(opts);
      const table = opts.table === "all"
        ? undefined
        : parseTable(opts.table ?? "main");
      const [routes, names] = withNetlink(netns, (sock) =>
        [
          listRoutes(sock, { family, table }),
          new Map(
            listLinks(sock, { stats: false }).map((l) => [l.index, l.name]),
          ),
        ] as const);
      if (opts.json) {
        const context = { names, tableFiltered: table !== undefined };
        printJson(routes.map((r) => routeToIpJson(r, context)));
        return;
      }
      printTable(
        [
          "DESTINATION",
          "GATEWAY",
          "DEVICE",
          "TABLE",
          "PROTOCOL",
          "SCOPE",
          "METRIC",
          "TYPE",
        ],
        routes.map((r) => [
          r.destination === undefined
            ? "default"
            : `${r.destination}/${r.destinationLength}`,
          r.gateway ?? r.via?.address ??
            (r.nexthops ?? []).map((h) => h.gateway ?? h.via?.address ?? "")
              .join(","),
          r.outputIndex === undefined
            ? (r.nexthops ?? []).map((h) => deviceName(names, h.outputIndex))
              .join(",")
            : names.get(r.outputIndex) ?? String(r.outputIndex),
          tableName(r.table),
          routeProtocolName(r.protocol),
          scopeName(r.scope),
          r.priority === undefined ? "" : String(r.priority),
          r.family === AF.INET
            ? routeTypeName(r.type)
            : `${routeTypeName(r.type)} ${familyName(r.family)}`,
        ]),
      );
    });
}

/** What `ip route add|replace|del`'s words say: the namespace (when given first) and the route. */
export interface ParsedRouteWords {
  /** The namespace named before the route, if any. */
  netns: string | undefined;
  /** The route. */
  spec: RouteSpec;
}

function isAddressOrPrefix(word: string): boolean {
  const slash = word.indexOf("/");
  return tryParseIP(slash < 0 ? word : word.slice(0, slash)) !== undefined;
}

const TIME_UNITS: Readonly<Record<string, number>> = {
  s: 1000,
  sec: 1000,
  secs: 1000,
  ms: 1,
  msec: 1,
  msecs: 1,
  us: 0.001,
  usec: 0.001,
  usecs: 0.001,
};

// ip's get_time_rtt: a bare number is in the kernel's own units, a suffixed one in ms.
function parseRtt(text: string, what: string): { value: number; raw: boolean } {
  const match = /^(\d+(?:\.\d+)?)([a-zA-Z]*)$/.exec(text);
  const unit = match?.[2]?.toLowerCase() ?? "";
  if (match === null || (unit !== "" && TIME_UNITS[unit] === undefined)) {
    throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(text)}`, {
      hint: `${what} is a time such as 100ms or 1s`,
    });
  }
  const number = Number(match[1]);
  return unit === ""
    ? { value: Math.trunc(number), raw: true }
    : { value: Math.trunc(number * TIME_UNITS[unit]!), raw: false };
}

const PLAIN_METRICS: Readonly<Record<string, [keyof RouteMetrics, number]>> = {
  mtu: ["mtu", RTAX.MTU],
  advmss: ["advmss", RTAX.ADVMSS],
  window: ["window", RTAX.WINDOW],
  cwnd: ["cwnd", RTAX.CWND],
  ssthresh: ["ssthresh", RTAX.SSTHRESH],
  reordering: ["reordering", RTAX.REORDERING],
  hoplimit: ["hoplimit", RTAX.HOPLIMIT],
  initcwnd: ["initcwnd", RTAX.INITCWND],
  initrwnd: ["initrwnd", RTAX.INITRWND],
  quickack: ["quickack", RTAX.QUICKACK],
  "fastopen_no_cookie": ["fastopenNoCookie", RTAX.FASTOPEN_NO_COOKIE],
};

// The keywords parseRouteWords takes besides the metrics: none of them can be a namespace.
const ROUTE_WORDS: ReadonlySet<string> = new Set([
  "to",
  "nexthop",
  "via",
  "dev",
  "oif",
  "metric",
  "priority",
  "preference",
  "table",
  "proto",
  "protocol",
  "scope",
  "src",
  "from",
  "onlink",
  "pref",
  "expires",
  "rtt",
  "rttvar",
  "rto_min",
  "features",
  "congctl",
]);

/**
 * Parses `ip route add|replace|del`'s words: `[NS] [TYPE] PREFIX|default
 * [via [inet|inet6] ADDR] [dev IF] [metric N] [table T] [proto P] [scope S]
 * [src ADDR] [from PREFIX] [mtu [lock] N] [advmss N] ... [onlink] [pref P] [expires N]
 * [nexthop via ADDR [dev IF] [weight N] [onlink]]...`. A first word that is
 * none of a route type, `default`, an address or one of these words
 * is the namespace.
 */
export function parseRouteWords(words: readonly string[]): ParsedRouteWords {
  let i = 0;
  let netns: string | undefined;
  const first = words[0];
  if (
    first !== undefined && first !== "default" && !ROUTE_WORDS.has(first) &&
    PLAIN_METRICS[first] === undefined && !isRouteTypeName(first) &&
    !isAddressOrPrefix(first)
  ) {
    netns = first;
    i = 1;
  }
  const spec: RouteSpec = { destination: "" };
  let destination: string | undefined;
  const metrics: RouteMetrics = {};
  let lock = 0;
  let hasMetrics = false;
  const next = (what: string): string => {
    const word = words[++i];
    if (word === undefined) {
      throw new InvalidArgumentError(`"${what}" needs a value`);
    }
    return word;
  };
  const setGateway = (
    target: { gateway?: string },
    family: number | undefined,
    word: string,
  ): string => {
    const text = word === "inet" || word === "inet6" ? next("via") : word;
    const ip = tryParseIP(text);
    if (ip === undefined) {
      throw new InvalidArgumentError(`invalid gateway ${JSON.stringify(text)}`);
    }
    if (family !== undefined && ip.family !== family && target === spec) {
      spec.via = text;
    } else target.gateway = text;
    return text;
  };
  const familyOf = (): number | undefined =>
    destination === undefined || destination === "default"
      ? undefined
      : tryParseIP(destination.split("/")[0]!)?.family;
  for (; i < words.length; i++) {
    const word = words[i]!;
    if (word === "nexthop") {
      const hop: NexthopSpec = {};
      for (i++; i < words.length && words[i] !== "nexthop"; i++) {
        const w = words[i]!;
        if (w === "via") setGateway(hop, undefined, next("via"));
        else if (w === "dev") hop.device = linkRef(next("dev"));
        else if (w === "weight") {
          hop.weight = parseCount(next("weight"), "weight");
          if (hop.weight < 1 || hop.weight > 256) {
            throw new InvalidArgumentError(`weight ${hop.weight} is not 1-256`);
          }
        } else if (w === "onlink" || w === "pervasive") {
          hop.flags = (hop.flags ?? 0) | parseNexthopFlag(w);
        } else {
          throw new InvalidArgumentError(
            `"${w}" is not a nexthop word (via, dev, weight, onlink)`,
          );
        }
      }
      i--;
      (spec.nexthops ??= []).push(hop);
      continue;
    }
    switch (word) {
      case "to":
        destination = next("to");
        break;
      case "via":
        setGateway(spec, familyOf(), next("via"));
        break;
      case "dev":
      case "oif":
        spec.device = linkRef(next(word));
        break;
      case "metric":
      case "priority":
      case "preference":
        spec.priority = parseCount(next(word), "metric");
        break;
      case "table":
        spec.table = parseTable(next(word));
        break;
      case "proto":
      case "protocol":
        spec.protocol = parseRouteProtocol(next(word));
        break;
      case "scope":
        spec.scope = parseScope(next(word));
        break;
      case "src":
        spec.source = next(word);
        break;
      case "from":
        spec.sourcePrefix = next(word);
        break;
      case "onlink":
        spec.flags = (spec.flags ?? 0) | RTNH_F.ONLINK;
        break;
      case "pref":
        spec.preference = parseRoutePreference(next(word));
        break;
      case "expires":
        spec.expires = parseCount(next(word), "expires");
        break;
      case "rtt":
      case "rttvar":
      case "rto_min": {
        let value = next(word);
        const bit = word === "rtt"
          ? RTAX.RTT
          : word === "rttvar"
          ? RTAX.RTTVAR
          : RTAX.RTO_MIN;
        // ip always locks rto_min.
        if (word === "rto_min") lock |= 1 << bit;
        else if (value === "lock") {
          lock |= 1 << bit;
          value = next(word);
        }
        const time = parseRtt(value, word);
        const scale = word === "rtt" ? 8 : word === "rttvar" ? 4 : 1;
        metrics[word === "rto_min" ? "rtoMin" : word] = time.raw
          ? time.value
          : time.value * scale;
        hasMetrics = true;
        break;
      }
      case "features": {
        const value = next(word);
        if (value !== "ecn") {
          throw new InvalidArgumentError(`"features ${value}": only ecn`);
        }
        metrics.features = 1;
        hasMetrics = true;
        break;
      }
      case "congctl": {
        let value = next(word);
        if (value === "lock") {
          lock |= 1 << RTAX.CC_ALGO;
          value = next(word);
        }
        metrics.congctl = value;
        hasMetrics = true;
        break;
      }
      default: {
        const plain = PLAIN_METRICS[word];
        if (plain !== undefined) {
          let value = next(word);
          if (value === "lock" && word !== "quickack") {
            lock |= 1 << plain[1];
            value = next(word);
          }
          metrics[plain[0] as "mtu"] = parseCount(value, word);
          hasMetrics = true;
        } else if (destination === undefined && isRouteTypeName(word)) {
          spec.type = parseRouteType(word);
        } else if (
          destination === undefined &&
          (word === "default" || isAddressOrPrefix(word))
        ) {
          destination = word;
        } else {
          throw new InvalidArgumentError(
            `"${word}" is not a word nsnet route understands`,
            { hint: "see `nsnet route add --help`" },
          );
        }
      }
    }
  }
  if (destination === undefined) {
    throw new InvalidArgumentError("the route needs a destination", {
      hint: "`default` or a prefix such as 10.1.0.0/16",
    });
  }
  spec.destination = destination;
  if (lock !== 0) metrics.lock = lock;
  if (hasMetrics) spec.metrics = metrics;
  return { netns, spec };
}

function changeCommand(verb: "add" | "replace" | "del"): CommandUnknownOpts {
  const command = new Command(verb)
    .description(
      verb === "add"
        ? "add (or --replace) a route"
        : verb === "replace"
        ? "add a route or replace the equal one"
        : "delete a route",
    )
    .argument(
      "<words...>",
      "[NS] [TYPE] default|PREFIX [via ADDR] [dev IF] [metric N] [table T] " +
        "[proto P] [scope S] [src ADDR] [mtu [lock] N] [advmss N] ... " +
        "[nexthop via ADDR [dev IF] [weight N]]... as `ip route` takes them",
    )
    .option("--via <gateway>", "next hop")
    .option("-d, --dev <link>", "output link")
    .option("-t, --table <table>", "main (default), local, or a number")
    .option("--metric <n>", "priority")
    .option("--src <ip>", "preferred source address")
    .option(
      "-6, --ipv6",
      "`default` means the IPv6 default route (when there is no gateway)",
    )
    .option(
      "--replace",
      "replace an existing route instead of failing (add only)",
    )
    .option(
      "-n, --netns <netns>",
      "act in this namespace (NAME or PATH; default: the current one)",
    )
    .action((words, opts) => {
      const parsed = parseRouteWords(words);
      if (parsed.netns !== undefined && opts.netns !== undefined) {
        throw new InvalidArgumentError(
          `two namespaces: ${parsed.netns} and -n ${opts.netns}`,
        );
      }
      const spec: RouteSpec = {
        ...parsed.spec,
        gateway: opts.via ?? parsed.spec.gateway,
        device: opts.dev === undefined ? parsed.spec.device : linkRef(opts.dev),
        table: opts.table === undefined
          ? parsed.spec.table
          : parseTable(opts.table),
        priority: opts.metric === undefined
          ? parsed.spec.priority
          : parseCount(opts.metric, "metric"),
        source: opts.src ?? parsed.spec.source,
        family: opts.ipv6 ? AF.INET6 : undefined,
      };
      withNetlink(parsed.netns ?? opts.netns, (sock) => {
        if (verb === "del") deleteRoute(sock, spec);
        else if (verb === "replace" || opts.replace) replaceRoute(sock, spec);
        else addRoute(sock, spec);
      });
    });
  if (verb === "del") command.alias("delete");
  return command;
}
