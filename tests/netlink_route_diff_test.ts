/**
 * Routes against iproute2 on seeded random configurations: one namespace
 * gets its routes from `ip route add`, a second the same words through
 * `nsnet route add`. `ip -j route` must read both the same (made by nsnet,
 * read by ip), and `nsnet route list --json` must print what `ip -j route`
 * prints for each, field for field (made by ip, read by nsnet). Shapes:
 * unicast via a gateway or a device, multipath (IPv4 and IPv6, weights,
 * onlink), RTA_VIA, metrics with locks, every type ip can add, tables above
 * 255, protocols, preferred sources, IPv6 preference and expiry.
 * NSNET_FUZZ_SEED replays a run.
 */
import { assert, assertEquals } from "./_assert.ts";
import { nsTest, run, withNamespaces } from "./_helpers.ts";
import { cli } from "./_fixtures/cli.ts";
import { fuzzSeed, prng } from "./_fixtures/fuzz.ts";
import { ipJson, type Json, nameOf } from "./_fixtures/netns.ts";
import { routeCommand } from "../lib/cli/route.ts";
import type { NetNS } from "../lib/netns/netns.ts";

const SEED = fuzzSeed();
const ROUTES = 40;

type Random = () => number;
const int = (random: Random, n: number): number => Math.floor(random() * n);
const pick = <T>(random: Random, items: readonly T[]): T =>
  items[int(random, items.length)]!;
const maybe = (random: Random, p = 0.5): boolean => random() < p;

/** Two veths ends in one namespace, v1 10.0.0.2/24 + fd00::2/64 and v2 10.0.1.2/24, both up. */
function prepare(ns: NetNS): void {
  const n = nameOf(ns);
  run("ip", "-n", n, "link", "add", "v1", "type", "veth", "peer", "name", "v2");
  for (const dev of ["lo", "v1", "v2"]) {
    // No link-local addresses: they come from random MACs and would differ between the two namespaces.
    if (dev !== "lo") {
      run("ip", "-n", n, "link", "set", dev, "addrgenmode", "none");
    }
    run("ip", "-n", n, "link", "set", dev, "up");
  }
  run("ip", "-n", n, "addr", "add", "10.0.0.2/24", "dev", "v1");
  run("ip", "-n", n, "addr", "add", "10.0.1.2/24", "dev", "v2");
  run("ip", "-n", n, "addr", "add", "fd00::2/64", "dev", "v1", "nodad");
  // Every table the routes may use exists for both families, so ip can list each one.
  for (const table of ["100", "300", "70000"]) {
    for (const prefix of ["198.51.100.0/24", "2001:db8:ffff::/48"]) {
      run("ip", "-n", n, "route", "add", "blackhole", prefix, "table", table);
    }
  }
}

function metricWords(random: Random, six: boolean): string[] {
  const words: string[] = [];
  const lock = (): string[] => (maybe(random, 0.3) ? ["lock"] : []);
  if (maybe(random, 0.3)) {
    words.push("mtu", ...lock(), String(pick(random, [1280, 1400, 1500])));
  }
  if (maybe(random, 0.2)) words.push("advmss", String(1000 + int(random, 400)));
  if (maybe(random, 0.2)) {
    words.push("window", String(1000 + int(random, 9000)));
  }
  if (maybe(random, 0.2)) {
    words.push("rtt", ...lock(), pick(random, ["100ms", "2s", "33ms", "800"]));
  }
  if (maybe(random, 0.15)) words.push("rttvar", pick(random, ["50ms", "40"]));
  if (maybe(random, 0.2)) words.push("hoplimit", String(1 + int(random, 255)));
  if (maybe(random, 0.2)) words.push("initcwnd", String(1 + int(random, 40)));
  if (maybe(random, 0.2)) words.push("initrwnd", String(1 + int(random, 40)));
  if (maybe(random, 0.1)) words.push("ssthresh", String(1 + int(random, 100)));
  if (maybe(random, 0.1)) {
    words.push("reordering", String(3 + int(random, 100)));
  }
  if (maybe(random, 0.15)) words.push("quickack", pick(random, ["0", "1"]));
  if (maybe(random, 0.15)) words.push("features", "ecn");
  if (maybe(random, 0.15)) {
    words.push("congctl", ...lock(), pick(random, ["reno", "cubic"]));
  }
  if (!six && maybe(random, 0.05)) words.push("rto_min", "200ms");
  return words;
}

/** One random `ip route add` line (words after `add`). */
function randomRouteWords(random: Random, i: number): string[] {
  const six = maybe(random, 0.35);
  const words: string[] = [];
  // ip takes nexthops last.
  const hops: string[] = [];
  const type = pick(random, [
    "unicast",
    "unicast",
    "unicast",
    "unicast",
    "blackhole",
    "unreachable",
    "prohibit",
    "throw",
  ]);
  if (type !== "unicast" || maybe(random, 0.1)) words.push(type);
  words.push(
    six
      ? `fd10:${i.toString(16)}::/${pick(random, [48, 64, 128])}`
      : `10.${100 + i}.${int(random, 256)}.0/${pick(random, [24, 16, 32])}`
        .replace(/\.0\/32$/, ".7/32")
        .replace(/\.\d+\.0\/16$/, ".0.0/16"),
  );
  if (type === "unicast") {
    const shape = int(random, six ? 3 : 5);
    const gw = (): string =>
      six ? `fd00::${1 + int(random, 200)}` : `10.0.0.${3 + int(random, 200)}`;
    if (shape === 0) words.push("via", gw());
    else if (shape === 1) {
      words.push("dev", pick(random, ["v1", "v2"]));
      if (maybe(random)) words.push("scope", pick(random, ["link", "global"]));
    } else if (shape === 2) {
      for (let n = 0; n < 2 + int(random, 2); n++) {
        // Distinct gateways: a repeated one is a duplicate IPv6 route (EEXIST).
        const via = six ? `fd00::${n + 1}:${int(random, 99)}` : gw();
        hops.push("nexthop", "via", via, "dev", "v1");
        if (maybe(random, 0.6)) {
          hops.push("weight", String(1 + int(random, 20)));
        }
      }
      if (!six && maybe(random, 0.3)) {
        hops.push("nexthop", "via", "192.0.2.9", "dev", "v2", "onlink");
      }
    } else if (shape === 3) {
      words.push(
        "via",
        `192.0.2.${1 + int(random, 200)}`,
        "dev",
        "v2",
        "onlink",
      );
    } else {words.push(
        "via",
        "inet6",
        `fe80::${1 + int(random, 99)}`,
        "dev",
        "v1",
      );}
    if (maybe(random, 0.3)) words.push("src", six ? "fd00::2" : "10.0.0.2");
    if (six && maybe(random, 0.15)) words.push("from", "2001:db8:5::/64");
    words.push(...metricWords(random, six));
  }
  if (maybe(random, 0.5)) {
    words.push("metric", String(pick(random, [0, 5, 100, 1024, 70000])));
  }
  if (maybe(random, 0.4)) {
    words.push("table", String(pick(random, ["main", "100", "300", "70000"])));
  }
  // nsnet adds as static and ip as boot when unsaid: always say.
  words.push("proto", pick(random, ["static", "boot", "17", "dhcp", "bird"]));
  if (six && maybe(random, 0.3)) {
    words.push("pref", pick(random, ["low", "medium", "high"]));
  }
  if (six && type === "unicast" && maybe(random, 0.2)) {
    words.push("expires", "600");
  }
  return [...words, ...hops];
}

/** `expires` counts down between two reads; equal within two seconds is equal. */
function settle(a: Json[], b: Json[]): void {
  a.forEach((x, i) => {
    const y = b[i];
    if (
      y !== undefined && typeof x.expires === "number" &&
      typeof y.expires === "number" && Math.abs(x.expires - y.expires) <= 2
    ) x.expires = y.expires;
  });
}

async function nsnetJson(ns: NetNS, ...args: string[]): Promise<Json[]> {
  return JSON.parse(
    await cli(routeCommand(), "route", "list", nameOf(ns), "--json", ...args),
  );
}

/** nsnet reads `ns` as ip does: every table, main only, one table, one family. */
async function assertReadsLikeIp(ns: NetNS, what: string): Promise<void> {
  // Asked for one table and no family, ip shows IPv4 only; nsnet shows both, so say -4.
  const cases: [string[], string[]][] = [
    [["--table", "all"], ["route", "show", "table", "all"]],
    [["-4"], ["route", "show"]],
    [["-6"], ["-6", "route", "show"]],
    [["-4", "--table", "100"], ["route", "show", "table", "100"]],
    [["-6", "--table", "70000"], ["-6", "route", "show", "table", "70000"]],
    [["-6", "--table", "all"], ["-6", "route", "show", "table", "all"]],
  ];
  for (const [ours, theirs] of cases) {
    const expected = ipJson(ns, ...theirs);
    const actual = await nsnetJson(ns, ...ours);
    settle(actual, expected);
    assertEquals(actual, expected, `${what}: ${ours.join(" ")} (seed ${SEED})`);
  }
}

nsTest(
  `routes: made by ip and by nsnet, read by both, agree (seed ${SEED})`,
  async () => {
    const random = prng(SEED);
    await withNamespaces(2, async ([byIp, byNsnet]) => {
      prepare(byIp!);
      prepare(byNsnet!);
      const lines: string[][] = [];
      for (let i = 0; i < ROUTES; i++) {
        const words = randomRouteWords(random, i);
        run("ip", "-n", nameOf(byIp!), "route", "add", ...words);
        await cli(routeCommand(), "route", "add", nameOf(byNsnet!), ...words);
        lines.push(words);
      }
      const made = ipJson(byNsnet!, "route", "show", "table", "all");
      const reference = ipJson(byIp!, "route", "show", "table", "all");
      settle(made, reference);
      assertEquals(
        made,
        reference,
        `ip reads nsnet's routes as its own (seed ${SEED})`,
      );
      assert(
        reference.some((r) => Array.isArray(r.nexthops)) &&
          reference.some((r) => Array.isArray(r.metrics)),
        "the configuration has multipath and metrics routes",
      );
      await assertReadsLikeIp(byIp!, "made by ip");
      await assertReadsLikeIp(byNsnet!, "made by nsnet");

      // Replace a third with other words, delete another third, by ip and by nsnet alike.
      for (const [i, words] of lines.entries()) {
        if (i % 3 === 0) {
          const again = [...words];
          const at = again.indexOf("proto");
          again[at + 1] = again[at + 1] === "static" ? "dhcp" : "static";
          run("ip", "-n", nameOf(byIp!), "route", "replace", ...again);
          await cli(
            routeCommand(),
            "route",
            "replace",
            nameOf(byNsnet!),
            ...again,
          );
        } else if (i % 3 === 1) {
          run("ip", "-n", nameOf(byIp!), "route", "del", ...words);
          await cli(routeCommand(), "route", "del", nameOf(byNsnet!), ...words);
        }
      }
      const after = ipJson(byNsnet!, "route", "show", "table", "all");
      const afterReference = ipJson(byIp!, "route", "show", "table", "all");
      settle(after, afterReference);
      assertEquals(
        after,
        afterReference,
        `after replace and delete (seed ${SEED})`,
      );
      await assertReadsLikeIp(byNsnet!, "after replace and delete");
    });
  },
);
