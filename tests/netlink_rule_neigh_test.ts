/**
 * Rules and neighbours against iproute2 on seeded random configurations:
 * one namespace configured by `ip`, one by `nsnet` with the same words; `ip
 * -j` must read both the same, and nsnet's `--json` must print what `ip -j`
 * prints, field for field. NSNET_FUZZ_SEED replays a run.
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { nsTest, run, withNamespaces } from "./_helpers.ts";
import { fuzzSeed, prng } from "./_fixtures/fuzz.ts";
import { ipJson, type Json, nameOf } from "./_fixtures/netns.ts";
import { cliOf } from "./_fixtures/cli.ts";
import { neighbourJson, neighCommand } from "../lib/cli/neigh.ts";
import { ruleCommand, ruleJson } from "../lib/cli/rule.ts";
import {
  AF,
  listLinks,
  listNeighbours,
  listRules,
  NetlinkError,
  NetlinkSocket,
} from "../lib/netlink/mod.ts";
import type { NetNS } from "../lib/netns/netns.ts";

const SEED = fuzzSeed();

/** `nsnet ARGS…` in-process with these commands; returns what it printed. */
const nsnet = cliOf(() => [ruleCommand(), neighCommand()]);

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)]!;
const int = (random: Random, n: number): number => Math.floor(random() * n);

/** A random `ip rule add` line (without `-6`) and its family. */
function randomRuleWords(
  random: Random,
  priority: number,
): { six: boolean; words: string[] } {
  const six = random() < 0.35;
  const words: string[] = [];
  if (random() < 0.15) words.push("not");
  if (random() < 0.6) {
    words.push(
      "from",
      six
        ? `fd${int(random, 256).toString(16)}::/${pick(random, [16, 64, 128])}`
        : `10.${int(random, 256)}.0.0/${pick(random, [8, 16])}`,
    );
  }
  if (random() < 0.4) {
    words.push(
      "to",
      six
        ? `2001:db8:${int(random, 999)}::/48`
        : `192.168.${int(random, 256)}.${pick(random, ["0/24", "7/32"])}`,
    );
  }
  if (!six && random() < 0.2) words.push("tos", pick(random, ["0x10", "0x08"]));
  if (random() < 0.3) {
    words.push(
      "fwmark",
      pick(random, ["0x1", "0x10/0xff", `${int(random, 1000)}`, "0x0/0xf"]),
    );
  }
  if (random() < 0.3) words.push("iif", pick(random, ["v0", "lo", "ghost0"]));
  if (random() < 0.2) words.push("oif", pick(random, ["v1", "ghost1"]));
  if (random() < 0.2) {
    const a = int(random, 5000);
    words.push("uidrange", `${a}-${a + int(random, 100)}`);
  }
  if (random() < 0.25) {
    words.push("ipproto", pick(random, ["tcp", "udp"]));
    if (random() < 0.6) words.push("sport", `${1 + int(random, 1000)}`);
    if (random() < 0.6) {
      const a = 1 + int(random, 30000);
      words.push("dport", `${a}-${a + int(random, 100)}`);
    }
  }
  words.push("priority", String(priority));
  switch (int(random, 9)) {
    case 0:
      words.push("blackhole");
      break;
    case 1:
      words.push("unreachable");
      break;
    case 2:
      words.push("prohibit");
      break;
    case 3:
      words.push("nop");
      break;
    case 4:
      words.push("goto", String(priority + 1 + int(random, 50)));
      break;
    case 5:
      words.push("l3mdev");
      break;
    case 6:
      words.push("lookup", "main", "suppress_prefixlength", "0");
      break;
    default:
      words.push("table", String(pick(random, [100, 200, 300000, 254, 255])));
  }
  if (random() < 0.3) {
    words.push("protocol", pick(random, ["static", "boot", "kernel", "99"]));
  }
  return { six, words };
}

/**
 * Sorted and keyed for comparison; the multicast entries IPv6 makes on its
 * own (ff02::…, NOARP) are left out, as they appear whenever MLD runs.
 */
function sortedJson(items: Json[]): string[] {
  return items.filter((x) => !String(x.dst).startsWith("ff0")).map((x) =>
    JSON.stringify(Object.fromEntries(Object.entries(x).sort()))
  ).sort();
}

function nsnetRules(ns: NetNS, family: number): Json[] {
  using sock = NetlinkSocket.open(ns);
  return listRules(sock, { family }).map(ruleJson);
}

nsTest(
  `rules: random configurations made by ip and by nsnet agree with ip -j rule (seed ${SEED})`,
  async () => {
    await withNamespaces(2, async ([byIp, byNsnet]) => {
      const random = prng(SEED);
      const made: { six: boolean; words: string[] }[] = [];
      for (let i = 0; i < 30; i++) {
        made.push(randomRuleWords(random, 1000 + i * 100));
      }
      for (const { six, words } of made) {
        const family = six ? ["-6"] : [];
        run("ip", "-n", nameOf(byIp!), ...family, "rule", "add", ...words);
        await nsnet("rule", "add", nameOf(byNsnet!), ...family, ...words);
      }
      for (const [ns, who] of [[byIp!, "ip"], [byNsnet!, "nsnet"]] as const) {
        for (
          const [family, flag] of [[AF.INET, "-4"], [AF.INET6, "-6"]] as const
        ) {
          assertEquals(
            nsnetRules(ns, family),
            ipJson(ns, flag, "rule"),
            `${flag} rules made by ${who}`,
          );
        }
      }
      assertEquals(ipJson(byNsnet!, "rule"), ipJson(byIp!, "rule"));
      assertEquals(ipJson(byNsnet!, "-6", "rule"), ipJson(byIp!, "-6", "rule"));
      const cli = JSON.parse(
        await nsnet("rule", "list", nameOf(byIp!), "--json"),
      );
      assertEquals(
        cli,
        [...ipJson(byIp!, "-4", "rule"), ...ipJson(byIp!, "-6", "rule")],
      );
      const table = await nsnet("rule", "list", nameOf(byIp!));
      assert(table.startsWith("PRIORITY"), table);

      // Delete every other rule by its priority (and family): both sides again agree.
      for (const [i, { six }] of made.entries()) {
        if (i % 2 === 1) continue;
        const family = six ? ["-6"] : [];
        const priority = String(1000 + i * 100);
        run(
          "ip",
          "-n",
          nameOf(byIp!),
          ...family,
          "rule",
          "del",
          "priority",
          priority,
        );
        await nsnet(
          "rule",
          "del",
          nameOf(byNsnet!),
          ...family,
          "priority",
          priority,
        );
      }
      assertEquals(ipJson(byNsnet!, "rule"), ipJson(byIp!, "rule"));
      assertEquals(ipJson(byNsnet!, "-6", "rule"), ipJson(byIp!, "-6", "rule"));
      assertEquals(
        nsnetRules(byNsnet!, AF.INET),
        ipJson(byNsnet!, "-4", "rule"),
      );
      await assertRejects(
        () => nsnet("rule", "del", nameOf(byNsnet!), "priority", "1000"),
        NetlinkError,
      );
    });
  },
);

function randomMac(random: Random): string {
  return Array.from(
    { length: 6 },
    (_, i) =>
      (i === 0 ? int(random, 128) * 2 : int(random, 256)).toString(16)
        .padStart(2, "0"),
  ).join(":");
}

function neighbourSetup(ns: NetNS): void {
  const n = nameOf(ns);
  run("ip", "-n", n, "link", "add", "v0", "type", "veth", "peer", "v1");
  run("ip", "-n", n, "link", "set", "v0", "up");
  run("ip", "-n", n, "link", "set", "v1", "up");
}

function nsnetNeighbours(ns: NetNS, proxy = false): Json[] {
  using sock = NetlinkSocket.open(ns);
  const names = new Map(
    listLinks(sock, { stats: false }).map((l) => [l.index, l.name]),
  );
  return listNeighbours(sock, { proxy }).map((n) =>
    neighbourJson(n, { names })
  );
}

nsTest(
  `neighbours: random entries made by ip and by nsnet agree with ip -j neigh (seed ${SEED})`,
  async () => {
    await withNamespaces(2, async ([byIp, byNsnet]) => {
      neighbourSetup(byIp!);
      neighbourSetup(byNsnet!);
      const random = prng(SEED + 7);
      const lines: string[][] = [];
      const used = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const six = random() < 0.4;
        const address = six
          ? `fd00:77::${(1 + int(random, 0xfffe)).toString(16)}`
          : `10.77.${int(random, 256)}.${1 + int(random, 254)}`;
        if (used.has(address)) continue;
        used.add(address);
        const dev = pick(random, ["v0", "v1"]);
        if (random() < 0.1) {
          lines.push(["proxy", address, "dev", dev]);
          continue;
        }
        const words = [address, "lladdr", randomMac(random), "dev", dev];
        words.push(
          "nud",
          pick(random, ["permanent", "noarp", "reachable", "stale"]),
        );
        if (six && random() < 0.3) words.push("router");
        if (random() < 0.1) words.push("extern_learn");
        lines.push(words);
      }
      for (const words of lines) {
        run("ip", "-n", nameOf(byIp!), "neigh", "add", ...words);
        await nsnet("neigh", "add", nameOf(byNsnet!), ...words);
      }
      const both = [[byIp!, "ip"], [byNsnet!, "nsnet"]] as const;
      for (const [ns, who] of both) {
        assertEquals(
          sortedJson(nsnetNeighbours(ns)),
          sortedJson(ipJson(ns, "neigh", "show", "nud", "all")),
          `entries made by ${who}`,
        );
        assertEquals(
          sortedJson(nsnetNeighbours(ns, true)),
          sortedJson(ipJson(ns, "neigh", "show", "proxy")),
          `proxy entries made by ${who}`,
        );
      }
      assertEquals(
        sortedJson(ipJson(byNsnet!, "neigh", "show", "nud", "all")),
        sortedJson(ipJson(byIp!, "neigh", "show", "nud", "all")),
      );
      // The CLI's default view and its dev filter are ip's.
      assertEquals(
        sortedJson(
          JSON.parse(await nsnet("neigh", "list", nameOf(byIp!), "--json")),
        ),
        sortedJson(ipJson(byIp!, "neigh")),
      );
      assertEquals(
        sortedJson(
          JSON.parse(
            await nsnet("neigh", "list", nameOf(byIp!), "dev", "v1", "--json"),
          ),
        ),
        sortedJson(ipJson(byIp!, "neigh", "show", "dev", "v1")),
      );
      assertEquals(
        sortedJson(
          JSON.parse(
            await nsnet("neigh", "list", nameOf(byIp!), "proxy", "--json"),
          ),
        ),
        sortedJson(ipJson(byIp!, "neigh", "show", "proxy")),
      );

      // -s: the cache ages (seconds, so allow one tick of difference) and probes.
      {
        using sock = NetlinkSocket.open(byIp!);
        const names = new Map(
          listLinks(sock, { stats: false }).map((l) => [l.index, l.name]),
        );
        const mine = new Map(
          listNeighbours(sock).map((n) =>
            neighbourJson(n, { names, stats: true })
          )
            .map((j) => [`${j.dst} ${j.dev}`, j]),
        );
        const theirs = ipJson(byIp!, "-s", "neigh", "show", "nud", "all");
        assert(theirs.length > 0);
        for (const j of theirs) {
          const m = mine.get(`${j.dst} ${j.dev}`);
          if (String(j.dst).startsWith("ff0")) continue;
          assert(m !== undefined, `${j.dst} missing`);
          assertEquals(Object.keys(m).sort(), Object.keys(j).sort());
          for (const key of ["used", "confirmed", "updated"]) {
            assert(
              Math.abs(Number(m[key]) - Number(j[key])) <= 1,
              `${key} ${m[key]} vs ${j[key]}`,
            );
          }
          assertEquals([m.probes, m.refcnt], [j.probes, j.refcnt]);
        }
      }

      // Replace and delete: both sides again agree.
      for (const [i, words] of lines.entries()) {
        if (words[0] === "proxy") continue;
        const [address, , , , dev] = words;
        if (i % 3 === 0) {
          const line = [
            address!,
            "lladdr",
            "02:00:00:00:00:99",
            "dev",
            dev!,
            "nud",
            "permanent",
          ];
          run("ip", "-n", nameOf(byIp!), "neigh", "replace", ...line);
          await nsnet("neigh", "replace", nameOf(byNsnet!), ...line);
        } else if (i % 3 === 1) {
          run("ip", "-n", nameOf(byIp!), "neigh", "del", address!, "dev", dev!);
          await nsnet("neigh", "del", nameOf(byNsnet!), address!, "dev", dev!);
        }
      }
      assertEquals(
        sortedJson(ipJson(byNsnet!, "neigh", "show", "nud", "all")),
        sortedJson(ipJson(byIp!, "neigh", "show", "nud", "all")),
      );
      assertEquals(
        sortedJson(nsnetNeighbours(byNsnet!)),
        sortedJson(ipJson(byNsnet!, "neigh", "show", "nud", "all")),
      );
      await assertRejects(
        () =>
          nsnet("neigh", "add", nameOf(byNsnet!), "10.1.1.1", "dev", "nope0"),
      );
    });
  },
);
