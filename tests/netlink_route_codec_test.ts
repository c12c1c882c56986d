/**
 * Route messages without a kernel: seeded random routes of every shape
 * (multipath, metrics, via, cache info, unknown attributes, tables beyond
 * 255) survive decode(encode(x)) unchanged; iproute2's value names parse
 * back to their numbers; `ip route`'s words parse into the route they say;
 * the ip-shaped JSON of handmade routes is what `ip -j route` prints. Pure:
 * no kernel, no privilege. NSNET_FUZZ_SEED replays a run.
 */
import { assertEquals, assertThrows } from "./_assert.ts";
import { fuzzSeed, prng } from "./_fixtures/fuzz.ts";
import { parseRouteWords, routeToIpJson } from "../lib/cli/route.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import {
  decodeMessages,
  decodeRoute,
  encodeRoute,
  formatIP,
  type Nexthop,
  nexthopFlagNames,
  parseRoutePreference,
  parseRouteProtocol,
  parseRouteType,
  parseScope,
  parseTable,
  type RawAttribute,
  type Route,
  routeFlagNames,
  type RouteMetrics,
  routePreferenceName,
  routeProtocolName,
  routeTypeName,
  RTAX,
  RTNH_F,
  scopeName,
  tableName,
} from "../lib/netlink/mod.ts";

const SEED = fuzzSeed();
const CASES = 3000;

type Random = () => number;
const int = (random: Random, n: number): number => Math.floor(random() * n);
const maybe = (random: Random, p = 0.5): boolean => random() < p;
const u32 = (random: Random): number => int(random, 0x1_0000_0000);
const pick = <T>(random: Random, items: readonly T[]): T =>
  items[int(random, items.length)]!;

function randomIP(random: Random, family: number): string {
  const bytes = new Uint8Array(family === 2 ? 4 : 16);
  for (let i = 0; i < bytes.length; i++) {
    // Zero runs, so IPv6 text compression is exercised too.
    bytes[i] = maybe(random, 0.3) ? 0 : int(random, 256);
  }
  return formatIP(bytes, 0, bytes.length);
}

function randomUnknown(
  random: Random,
  types: readonly number[],
): RawAttribute[] | undefined {
  if (maybe(random, 0.6)) return undefined;
  return Array.from({ length: 1 + int(random, 3) }, () => ({
    type: pick(random, types),
    data: Uint8Array.from({ length: int(random, 13) }, () => int(random, 256)),
  }));
}

// Attribute types the route decoder does not decode (RTA_NEWDST, RTA_ENCAP, RTA_UID...).
const UNKNOWN_ROUTE_TYPES = [10, 13, 14, 17, 19, 21, 22, 23, 24, 25, 26, 27];
const UNKNOWN_METRIC_TYPES = [18, 19, 40];
const UNKNOWN_NEXTHOP_TYPES = [1, 19, 21, 22];

function randomMetrics(random: Random): RouteMetrics {
  const metrics: RouteMetrics = {};
  const keys: (keyof RouteMetrics)[] = [
    "lock",
    "mtu",
    "window",
    "rtt",
    "rttvar",
    "ssthresh",
    "cwnd",
    "advmss",
    "reordering",
    "hoplimit",
    "initcwnd",
    "features",
    "rtoMin",
    "initrwnd",
    "quickack",
    "fastopenNoCookie",
  ];
  for (const key of keys) {
    if (maybe(random, 0.3)) {
      (metrics as Record<string, number>)[key] = u32(random);
    }
  }
  if (maybe(random, 0.3)) {
    metrics.congctl = pick(random, ["cubic", "reno", "bbr"]);
  }
  const unknown = randomUnknown(random, UNKNOWN_METRIC_TYPES);
  if (unknown !== undefined) metrics.unknown = unknown;
  return metrics;
}

function randomNexthop(random: Random, family: number): Nexthop {
  const other = family === 2 ? 10 : 2;
  return {
    gateway: maybe(random, 0.7) ? randomIP(random, family) : undefined,
    via: maybe(random, 0.2)
      ? { family: other, address: randomIP(random, other) }
      : undefined,
    outputIndex: int(random, 1000),
    weight: 1 + int(random, 256),
    flags: int(random, 256),
    flow: maybe(random, 0.1) ? u32(random) : undefined,
    unknown: randomUnknown(random, UNKNOWN_NEXTHOP_TYPES),
  };
}

function randomRoute(random: Random): Route {
  const family = maybe(random) ? 2 : 10;
  const max = family === 2 ? 32 : 128;
  const other = family === 2 ? 10 : 2;
  const hasDestination = maybe(random, 0.85);
  const hasSource = maybe(random, 0.15);
  return {
    family,
    table: pick(random, [0, 100, 253, 254, 255, 256, 70000, u32(random)]),
    destination: hasDestination ? randomIP(random, family) : undefined,
    destinationLength: hasDestination ? int(random, max + 1) : 0,
    source: hasSource ? randomIP(random, family) : undefined,
    sourceLength: hasSource ? int(random, max + 1) : 0,
    gateway: maybe(random, 0.5) ? randomIP(random, family) : undefined,
    outputIndex: maybe(random, 0.7) ? int(random, 100000) : undefined,
    protocol: int(random, 256),
    scope: pick(random, [0, 200, 253, 254, 255, int(random, 256)]),
    type: int(random, 12),
    priority: maybe(random) ? u32(random) : undefined,
    preferredSource: maybe(random, 0.3) ? randomIP(random, family) : undefined,
    flags: u32(random),
    preference: maybe(random, 0.3) ? int(random, 256) : undefined,
    tos: maybe(random, 0.2) ? int(random, 256) : 0,
    via: maybe(random, 0.1)
      ? { family: other, address: randomIP(random, other) }
      : undefined,
    nexthops: maybe(random, 0.3)
      ? Array.from(
        { length: 1 + int(random, 4) },
        () => randomNexthop(random, family),
      )
      : undefined,
    metrics: maybe(random, 0.4) ? randomMetrics(random) : undefined,
    cacheInfo: maybe(random, 0.3)
      ? {
        clientReferences: u32(random),
        lastUse: u32(random),
        expires: u32(random) | 0,
        error: u32(random),
        used: u32(random),
        id: u32(random),
        ts: u32(random),
        tsAge: u32(random),
      }
      : undefined,
    inputIndex: maybe(random, 0.1) ? u32(random) : undefined,
    mark: maybe(random, 0.1) ? u32(random) : undefined,
    flow: maybe(random, 0.1) ? u32(random) : undefined,
    nexthopId: maybe(random, 0.1) ? u32(random) : undefined,
    unknown: randomUnknown(random, UNKNOWN_ROUTE_TYPES),
  };
}

Deno.test(`routes: decode(encode(x)) == x for ${CASES} seeded random routes (seed ${SEED})`, () => {
  const random = prng(SEED);
  for (let i = 0; i < CASES; i++) {
    const route = randomRoute(random);
    const bytes = encodeRoute(route).finish(i + 1);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assertEquals(
      decodeRoute(bytes, view, 16, bytes.length),
      route,
      `case ${i} (seed ${SEED})`,
    );
    const [message] = decodeMessages(bytes);
    assertEquals(message?.kind === "route" ? message.route : undefined, route);
  }
});

Deno.test("names: every iproute2 name parses back to its number, numbers parse as themselves", () => {
  for (let n = 0; n < 256; n++) {
    assertEquals(parseRouteProtocol(routeProtocolName(n)), n);
    assertEquals(parseScope(scopeName(n)), n);
    assertEquals(parseTable(tableName(n)), n);
    assertEquals(parseRoutePreference(routePreferenceName(n)), n);
  }
  for (let n = 0; n < 12; n++) {
    assertEquals(parseRouteType(routeTypeName(n)), n);
  }
  assertEquals(
    [routeProtocolName(2), routeProtocolName(4), routeProtocolName(17)],
    ["kernel", "static", "17"],
  );
  assertEquals([scopeName(0), scopeName(253), parseScope("universe")], [
    "global",
    "link",
    0,
  ]);
  assertEquals([tableName(254), tableName(70000), parseTable("0x10")], [
    "main",
    "70000",
    16,
  ]);
  assertEquals(routeTypeName(11), "xresolve");
  assertEquals(routeFlagNames(0x4 | 0x10 | 0x200 | 0x4000), [
    "onlink",
    "linkdown",
    "rt_offload",
  ]);
  assertEquals(nexthopFlagNames(0x1 | 0x2 | 0x100), ["dead", "pervasive"]);
  assertThrows(() => parseScope("galaxy"), InvalidArgumentError);
  assertThrows(() => parseRouteProtocol("256"), InvalidArgumentError);
  assertThrows(() => parseTable("4294967296"), InvalidArgumentError);
});

Deno.test("parseRouteWords: ip route's words, the namespace first when given", () => {
  assertEquals(
    parseRouteWords([
      "ns1",
      "10.1.0.0/16",
      "via",
      "10.0.0.1",
      "dev",
      "eth0",
      "metric",
      "100",
    ]),
    {
      netns: "ns1",
      spec: {
        destination: "10.1.0.0/16",
        gateway: "10.0.0.1",
        device: "eth0",
        priority: 100,
      },
    },
  );
  assertEquals(
    parseRouteWords(
      "10.2.0.0/16 nexthop via 10.0.0.3 weight 1 nexthop via 10.0.0.4 dev v2 weight 2 onlink"
        .split(" "),
    ).spec,
    {
      destination: "10.2.0.0/16",
      nexthops: [
        { gateway: "10.0.0.3", weight: 1 },
        { gateway: "10.0.0.4", device: "v2", weight: 2, flags: RTNH_F.ONLINK },
      ],
    },
  );
  assertEquals(
    parseRouteWords(
      "blackhole 10.9.0.0/16 table 100 proto static scope link src 10.0.0.2"
        .split(" "),
    ),
    {
      netns: undefined,
      spec: {
        destination: "10.9.0.0/16",
        type: 6,
        table: 100,
        protocol: 4,
        scope: 253,
        source: "10.0.0.2",
      },
    },
  );
  assertEquals(
    parseRouteWords(
      "default via 10.0.0.1 mtu lock 1400 rtt 100ms rttvar 3 rto_min 1s congctl lock cubic features ecn quickack 1"
        .split(" "),
    ).spec.metrics,
    {
      mtu: 1400,
      rtt: 800,
      rttvar: 3,
      rtoMin: 1000,
      congctl: "cubic",
      features: 1,
      quickack: 1,
      lock: (1 << RTAX.MTU) | (1 << RTAX.RTO_MIN) | (1 << RTAX.CC_ALGO),
    },
  );
  assertEquals(
    parseRouteWords("10.5.0.0/16 via inet6 fe80::1 dev v1".split(" ")).spec,
    { destination: "10.5.0.0/16", via: "fe80::1", device: "v1" },
  );
  assertEquals(
    parseRouteWords("fd01::/64 via fd00::1 pref high expires 300".split(" "))
      .spec,
    {
      destination: "fd01::/64",
      gateway: "fd00::1",
      preference: 1,
      expires: 300,
    },
  );
  assertThrows(
    () => parseRouteWords(["via", "10.0.0.1"]),
    InvalidArgumentError,
  );
  assertThrows(
    () => parseRouteWords(["10.0.0.0/8", "bogus"]),
    InvalidArgumentError,
  );
  assertThrows(
    () =>
      parseRouteWords("10.0.0.0/8 nexthop via 10.0.0.1 weight 0".split(" ")),
    InvalidArgumentError,
  );
});

function route(fields: Partial<Route>): Route {
  return {
    family: 2,
    table: 254,
    destination: undefined,
    destinationLength: 0,
    source: undefined,
    sourceLength: 0,
    gateway: undefined,
    outputIndex: undefined,
    protocol: 3,
    scope: 0,
    type: 1,
    priority: undefined,
    preferredSource: undefined,
    flags: 0,
    preference: undefined,
    tos: 0,
    via: undefined,
    nexthops: undefined,
    metrics: undefined,
    cacheInfo: undefined,
    inputIndex: undefined,
    mark: undefined,
    flow: undefined,
    nexthopId: undefined,
    unknown: undefined,
    ...fields,
  };
}

Deno.test("routeToIpJson: the fields, names and omissions of ip -j route", () => {
  const names = new Map([[2, "v1"], [3, "v2"]]);
  assertEquals(
    routeToIpJson(
      route({ gateway: "10.0.0.1", outputIndex: 2, protocol: 4 }),
      { names },
    ),
    {
      dst: "default",
      gateway: "10.0.0.1",
      dev: "v1",
      protocol: "static",
      flags: [],
    },
  );
  assertEquals(
    routeToIpJson(
      route({
        destination: "10.2.0.0",
        destinationLength: 16,
        table: 300,
        nexthops: [
          {
            gateway: "10.0.0.3",
            via: undefined,
            outputIndex: 2,
            weight: 1,
            flags: 0,
            flow: undefined,
            unknown: undefined,
          },
          {
            gateway: undefined,
            via: { family: 10, address: "fe80::1" },
            outputIndex: 9,
            weight: 2,
            flags: RTNH_F.ONLINK,
            flow: undefined,
            unknown: undefined,
          },
        ],
        metrics: { mtu: 1400, rtt: 800, rttvar: 200, hoplimit: 0xffffffff },
      }),
      { names },
    ),
    {
      dst: "10.2.0.0/16",
      table: "300",
      flags: [],
      metrics: [{ mtu: 1400, rtt: 100, rttvar: 50 }],
      nexthops: [
        { gateway: "10.0.0.3", dev: "v1", weight: 1, flags: [] },
        {
          via: { family: "inet6", host: "fe80::1" },
          dev: "if9",
          weight: 2,
          flags: ["onlink"],
        },
      ],
    },
  );
  assertEquals(
    routeToIpJson(
      route({
        family: 10,
        type: 7,
        destination: "fd00::1",
        destinationLength: 128,
        priority: 1024,
        preference: 0,
        cacheInfo: {
          clientReferences: 0,
          lastUse: 0,
          expires: 29950,
          error: 0,
          used: 0,
          id: 0,
          ts: 0,
          tsAge: 0,
        },
      }),
      { names, tableFiltered: true },
    ),
    {
      type: "unreachable",
      dst: "fd00::1",
      metric: 1024,
      flags: [],
      expires: 299,
      pref: "medium",
    },
  );
});
