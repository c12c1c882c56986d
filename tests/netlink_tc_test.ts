/**
 * Traffic control against the kernel and iproute2's tc, on seeded random
 * configurations: one namespace configured by `tc`, one by `nsnet` with the
 * same words; `tc` must read both the same, and nsnet's `--json` must print
 * what `tc -j` prints, field for field (qdiscs: tbf, htb, pfifo, bfifo,
 * ingress, clsact; htb classes; u32 and bpf filters with mirred to an ifb).
 * Traffic through the veth shows up in the ifb's counters. netem and gact,
 * which this kernel lacks, fail with one error naming their config option.
 * NSNET_FUZZ_SEED replays a run.
 */
import { assert, assertEquals } from "./_assert.ts";
import {
  nsnet as nsnetProcess,
  nsTest,
  run,
  withNamespaces,
} from "./_helpers.ts";
import { fuzzSeed, prng } from "./_fixtures/fuzz.ts";
import { nameOf } from "./_fixtures/netns.ts";
import { cliOf } from "./_fixtures/cli.ts";
import { classCommand, qdiscCommand } from "../lib/cli/qdisc.ts";
import { filterCommand } from "../lib/cli/filter.ts";
import {
  addFilter,
  addQdisc,
  deleteQdisc,
  gactAction,
  getLink,
  listFilters,
  listQdiscs,
  mirredTo,
  NetlinkSocket,
  parseTimeNs,
  TC_H,
  TcKindMissingError,
  u32Options,
} from "../lib/netlink/mod.ts";
import type { NetNS } from "../lib/netns/netns.ts";

const SEED = fuzzSeed();

/** `nsnet ARGS…` in-process with these commands; returns what it printed. */
const nsnet = cliOf(() => [qdiscCommand(), classCommand(), filterCommand()]);

type Json = Record<string, unknown>;

function tcJson(ns: NetNS, ...args: string[]): Json[] {
  return JSON.parse(run("tc", "-n", nameOf(ns), "-j", ...args) || "[]");
}

function tc(ns: NetNS, ...args: string[]): string {
  return run("tc", "-n", nameOf(ns), ...args);
}

/** Kernel-chosen qdisc handles (`8001:`…) count per boot, not per namespace: compare them as one. */
function autoHandles<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value).replace(/"8[0-9a-f]{3}:"/g, '"8000:"'),
  );
}

function autoHandlesText(text: string): string {
  return text.replace(/\b8[0-9a-f]{3}:/g, "8000:");
}

/** Drops the fields that are times (they tick between two reads). */
function withoutTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimes);
  if (value !== null && typeof value === "object") {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      if (["installed", "last_used", "first_used", "expires"].includes(k)) {
        continue;
      }
      out[k] = withoutTimes(v);
    }
    return out;
  }
  return value;
}

/**
 * `ns` gets v1 (veth to v2 in `peer`, 10.77.0.1/24), v3 (veth to v4, both
 * here) and ifb0, all up, IPv6 off so that nothing but the test's own
 * packets moves the counters.
 */
function wire(ns: NetNS, peer: NetNS): void {
  const n = nameOf(ns);
  const p = nameOf(peer);
  for (const name of [n, p]) {
    run(
      "ip",
      "netns",
      "exec",
      name,
      "sysctl",
      "-qw",
      "net.ipv6.conf.all.disable_ipv6=1",
    );
    run(
      "ip",
      "netns",
      "exec",
      name,
      "sysctl",
      "-qw",
      "net.ipv6.conf.default.disable_ipv6=1",
    );
  }
  run(
    "ip",
    "-n",
    n,
    "link",
    "add",
    "v1",
    "type",
    "veth",
    "peer",
    "name",
    "v2",
    "netns",
    p,
  );
  run("ip", "-n", n, "link", "add", "v3", "type", "veth", "peer", "name", "v4");
  run("ip", "-n", n, "link", "add", "ifb0", "type", "ifb");
  // ifb1 keeps the default pfifo_fast.
  run("ip", "-n", n, "link", "add", "ifb1", "type", "ifb");
  for (const dev of ["v1", "v3", "v4", "ifb0", "ifb1"]) {
    run("ip", "-n", n, "link", "set", dev, "up");
  }
  run("ip", "-n", p, "link", "set", "v2", "up");
  run("ip", "-n", n, "addr", "add", "10.77.0.1/24", "dev", "v1");
  run("ip", "-n", p, "addr", "add", "10.77.0.2/24", "dev", "v2");
}

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)]!;

/** A random tc configuration as tc command lines (without `tc` and `-n`). */
function randomConfig(random: Random): {
  lines: string[][];
  filterParents: string[];
  changes: string[][];
} {
  const lines: string[][] = [];
  // v3: one classless root qdisc.
  switch (pick(random, ["tbf", "tbf-limit", "tbf-peak", "pfifo", "bfifo"])) {
    case "tbf-peak":
      lines.push(
        "qdisc add dev v3 root tbf rate 10mbit burst 32kbit latency 400ms"
          .split(" ").concat([
            "peakrate",
            pick(random, ["20mbit", "12mbit"]),
            "mtu",
            pick(random, ["1600", "2kb"]),
          ]),
      );
      break;
    case "tbf":
      lines.push([
        "qdisc",
        "add",
        "dev",
        "v3",
        "root",
        "tbf",
        "rate",
        pick(random, ["1mbit", "10mbit", "100mbit", "1gbit", "800kbit"]),
        "burst",
        pick(random, ["32kbit", "15k", "64kb", "1600b", "100k"]),
        "latency",
        pick(random, ["400ms", "50ms", "1s", "20ms"]),
      ]);
      break;
    case "tbf-limit":
      lines.push([
        "qdisc",
        "add",
        "dev",
        "v3",
        "root",
        "tbf",
        "rate",
        pick(random, ["2mbit", "20mbit"]),
        "burst",
        pick(random, ["10k", "32kb"]),
        "limit",
        pick(random, ["30000", "100kb"]),
      ]);
      break;
    case "pfifo":
      lines.push([
        "qdisc",
        "add",
        "dev",
        "v3",
        "root",
        "pfifo",
        "limit",
        pick(random, ["10", "100", "1000"]),
      ]);
      break;
    default:
      lines.push([
        "qdisc",
        "add",
        "dev",
        "v3",
        "root",
        "bfifo",
        "limit",
        pick(random, ["10000", "64kb"]),
      ]);
  }
  // v1: htb with two classes and a u32 classifier, sometimes.
  const filterParents: string[] = [];
  if (random() < 0.7) {
    lines.push([
      "qdisc",
      "add",
      "dev",
      "v1",
      "root",
      "handle",
      "1:",
      "htb",
      "default",
      pick(random, ["10", "20", "99"]),
      ...(random() < 0.5 ? ["r2q", pick(random, ["5", "10", "20"])] : []),
    ]);
    for (const minor of ["10", "20"]) {
      const line = [
        "class",
        "add",
        "dev",
        "v1",
        "parent",
        "1:",
        "classid",
        `1:${minor}`,
        "htb",
        "rate",
        pick(random, ["1mbit", "5mbit", "10mbit"]),
      ];
      if (random() < 0.5) line.push("ceil", pick(random, ["20mbit", "50mbit"]));
      if (random() < 0.5) line.push("burst", pick(random, ["15k", "3200b"]));
      if (random() < 0.5) line.push("prio", pick(random, ["0", "1", "7"]));
      lines.push(line);
    }
    lines.push([
      "filter",
      "add",
      "dev",
      "v1",
      "parent",
      "1:",
      "protocol",
      "ip",
      "prio",
      "5",
      "u32",
      "match",
      "ip",
      "dst",
      pick(random, ["10.77.0.0/24", "10.77.0.2/32", "192.168.0.0/16"]),
      "flowid",
      "1:10",
    ]);
    filterParents.push("1:");
  }
  // v1's ingress redirected to ifb0 (CNI's bandwidth plugin), shaped there.
  const clsact = random() < 0.5;
  lines.push(["qdisc", "add", "dev", "v1", clsact ? "clsact" : "ingress"]);
  const parent = clsact ? ["ingress"] : ["parent", "ffff:"];
  const classifier = random() < 0.5
    ? ["u32", "match", "u32", "0", "0"]
    : ["bpf", "bytecode", "1,6 0 0 4294967295"];
  lines.push([
    "filter",
    "add",
    "dev",
    "v1",
    ...parent,
    "protocol",
    "all",
    "prio",
    "1",
    ...classifier,
    "action",
    "mirred",
    "egress",
    "redirect",
    "dev",
    "ifb0",
  ]);
  filterParents.push(clsact ? "ffff:fff2" : "ffff:");
  lines.push([
    "qdisc",
    "add",
    "dev",
    "ifb0",
    "root",
    "tbf",
    "rate",
    pick(random, ["10mbit", "100mbit"]),
    "burst",
    "32kbit",
    "latency",
    "400ms",
  ]);
  // Then change, replace and delete, as tc does them.
  const changes: string[][] = [
    [
      "qdisc",
      "change",
      "dev",
      "ifb0",
      "root",
      "tbf",
      "rate",
      pick(random, ["50mbit", "5mbit"]),
      "burst",
      "64kbit",
      "latency",
      "100ms",
    ],
    [
      "qdisc",
      "replace",
      "dev",
      "v3",
      "root",
      "pfifo",
      "limit",
      pick(random, ["50", "500"]),
    ],
  ];
  if (filterParents.includes("1:")) {
    changes.push(
      [
        "class",
        "change",
        "dev",
        "v1",
        "parent",
        "1:",
        "classid",
        "1:10",
        "htb",
        "rate",
        pick(random, ["2mbit", "3mbit"]),
        "ceil",
        "30mbit",
      ],
      [
        "class",
        "replace",
        "dev",
        "v1",
        "parent",
        "1:",
        "classid",
        "1:30",
        "htb",
        "rate",
        "1mbit",
      ],
      [
        "filter",
        "del",
        "dev",
        "v1",
        "parent",
        "1:",
        "protocol",
        "ip",
        "prio",
        "5",
      ],
      ["class", "del", "dev", "v1", "parent", "1:", "classid", "1:20"],
    );
  }
  return { lines, filterParents, changes };
}

nsTest(
  "tc and nsnet, seeded random configurations: made by tc read by nsnet, made by nsnet read by tc",
  async () => {
    const random = prng(SEED);
    for (let round = 0; round < 4; round++) {
      await withNamespaces(4, async ([byTc, peerA, byNsnet, peerB]) => {
        wire(byTc!, peerA!);
        wire(byNsnet!, peerB!);
        const { lines, filterParents, changes } = randomConfig(random);
        const context = `seed ${SEED}, round ${round}: ${
          lines.map((l) => l.join(" ")).join("; ")
        }`;
        for (const line of lines) {
          run("tc", "-n", nameOf(byTc!), ...line);
          const [object, verb, ...words] = line;
          await nsnet(object!, verb!, byNsnet!.path, ...words);
        }
        // The kernel holds the same configuration, as tc reads it.
        for (const [a, b] of [[byTc!, byNsnet!] as const]) {
          assertEquals(
            autoHandles(tcJson(b, "qdisc", "show")),
            autoHandles(tcJson(a, "qdisc", "show")),
            context,
          );
          assertEquals(
            autoHandlesText(tc(b, "-d", "class", "show", "dev", "v1")),
            autoHandlesText(tc(a, "-d", "class", "show", "dev", "v1")),
            context,
          );
          for (const parent of filterParents) {
            assertEquals(
              tcJson(b, "filter", "show", "dev", "v1", "parent", parent),
              tcJson(a, "filter", "show", "dev", "v1", "parent", parent),
              context,
            );
          }
        }
        // nsnet prints what tc prints, in both namespaces.
        for (const ns of [byTc!, byNsnet!]) {
          assertEquals(
            JSON.parse(await nsnet("qdisc", "list", ns.path, "--json")),
            tcJson(ns, "qdisc", "show"),
            context,
          );
          for (const dev of ["v1", "v3", "ifb0", "ifb1"]) {
            assertEquals(
              JSON.parse(
                await nsnet("qdisc", "show", ns.path, "dev", dev, "--json"),
              ),
              tcJson(ns, "qdisc", "show", "dev", dev),
              context,
            );
          }
          for (const parent of filterParents) {
            assertEquals(
              JSON.parse(
                await nsnet(
                  "filter",
                  "list",
                  ns.path,
                  "dev",
                  "v1",
                  "parent",
                  parent,
                  "--json",
                ),
              ),
              tcJson(ns, "filter", "show", "dev", "v1", "parent", parent),
              context,
            );
          }
        }
        // Changing, replacing and deleting through nsnet leaves what tc leaves.
        for (const line of changes) {
          run("tc", "-n", nameOf(byTc!), ...line);
          const [object, verb, ...words] = line;
          await nsnet(object!, verb!, byNsnet!.path, ...words);
        }
        const noLeaf = (classes: Json[]): Json[] =>
          classes.map(({ leaf: _leaf, ...rest }) => rest);
        assertEquals(
          autoHandles(tcJson(byNsnet!, "qdisc", "show")),
          autoHandles(tcJson(byTc!, "qdisc", "show")),
          context,
        );
        assertEquals(
          autoHandlesText(tc(byNsnet!, "-d", "class", "show", "dev", "v1")),
          autoHandlesText(tc(byTc!, "-d", "class", "show", "dev", "v1")),
          context,
        );
        assertEquals(
          noLeaf(
            JSON.parse(
              await nsnet(
                "class",
                "list",
                byNsnet!.path,
                "dev",
                "v1",
                "--json",
              ),
            ),
          ),
          noLeaf(
            JSON.parse(
              await nsnet("class", "list", byTc!.path, "dev", "v1", "--json"),
            ),
          ),
          context,
        );
        for (const parent of filterParents) {
          assertEquals(
            tcJson(byNsnet!, "filter", "show", "dev", "v1", "parent", parent),
            tcJson(byTc!, "filter", "show", "dev", "v1", "parent", parent),
            context,
          );
        }
        // Deleting through nsnet leaves what tc deleting leaves.
        run("tc", "-n", nameOf(byTc!), "qdisc", "del", "dev", "v3", "root");
        await nsnet("qdisc", "del", byNsnet!.path, "dev", "v3", "root");
        assertEquals(
          autoHandles(tcJson(byNsnet!, "qdisc", "show", "dev", "v3")),
          autoHandles(tcJson(byTc!, "qdisc", "show", "dev", "v3")),
          context,
        );
      });
    }
  },
);

nsTest(
  "ingress redirected to an ifb: traffic through the veth shows up in the ifb's counters, read the same by nsnet and tc -s",
  async () => {
    await withNamespaces(2, async ([ns, peer]) => {
      wire(ns!, peer!);
      await nsnet(
        "qdisc",
        "add",
        ns!.path,
        "dev",
        "ifb0",
        "root",
        "tbf",
        "rate",
        "100mbit",
        "burst",
        "32kbit",
        "latency",
        "400ms",
      );
      await nsnet("qdisc", "add", ns!.path, "dev", "v1", "ingress");
      await nsnet(
        "filter",
        "add",
        ns!.path,
        "dev",
        "v1",
        "parent",
        "ffff:",
        "protocol",
        "all",
        "u32",
        "match",
        "u32",
        "0",
        "0",
        "action",
        "mirred",
        "egress",
        "redirect",
        "dev",
        "ifb0",
      );
      using sock = NetlinkSocket.open(ns!);
      const ifb = getLink(sock, "ifb0").index;
      const before = listQdiscs(sock, { device: "ifb0" })[0]!.stats!;
      run(
        "ip",
        "netns",
        "exec",
        nameOf(peer!),
        "busybox", // the VM has no iputils
        "ping",
        "-c",
        "5",
        "-i",
        "0.2",
        "-W",
        "2",
        "10.77.0.1",
      );
      const [tbf] = listQdiscs(sock, { device: "ifb0" });
      assertEquals(tbf!.index, ifb);
      assert(
        tbf!.stats!.packets >= before.packets + 5,
        `ifb0 saw ${tbf!.stats!.packets} packets`,
      );
      assert(tbf!.stats!.bytes >= before.bytes + 5 * 98);
      const [, , redirect] = listFilters(sock, "v1", 0xffff0000);
      const action = redirect!.options!.kind === "u32"
        ? redirect!.options!.actions![0]!
        : undefined;
      assert(
        action?.stats !== undefined && action.stats.packets >= 5,
        "the mirred action counted the packets",
      );
      // Quiet now: nsnet -s and tc -s agree, counters included.
      assertEquals(
        JSON.parse(
          await nsnet("qdisc", "list", ns!.path, "dev", "ifb0", "-s", "--json"),
        ),
        tcJson(ns!, "-s", "qdisc", "show", "dev", "ifb0"),
      );
      assertEquals(
        withoutTimes(
          JSON.parse(
            await nsnet(
              "filter",
              "list",
              ns!.path,
              "dev",
              "v1",
              "parent",
              "ffff:",
              "-s",
              "--json",
            ),
          ),
        ),
        withoutTimes(
          tcJson(ns!, "-s", "filter", "show", "dev", "v1", "parent", "ffff:"),
        ),
      );
      // The library's own way to the same redirect, on clsact's egress hook this time.
      deleteQdisc(sock, { device: "v1", kind: "ingress" });
      addQdisc(sock, { device: "v1", kind: "clsact" });
      addFilter(sock, {
        device: "v1",
        parent: (0xffff0000 | TC_H.MIN_EGRESS) >>> 0,
        kind: "u32",
        options: u32Options([], { actions: [mirredTo(sock, "ifb0")] }),
      });
      const shown = tcJson(ns!, "filter", "show", "dev", "v1", "egress");
      const options = shown[shown.length - 1]!.options as Json;
      assertEquals((options.actions as Json[])[0]!.to_dev, "ifb0");
    });
  },
);

nsTest(
  "netem and gact, which this kernel lacks, fail with one error naming the config option",
  async () => {
    await withNamespaces(2, async ([ns, peer]) => {
      wire(ns!, peer!);
      using sock = NetlinkSocket.open(ns!);
      try {
        addQdisc(sock, {
          device: "v3",
          kind: "netem",
          options: {
            kind: "netem",
            latencyTicks: 0,
            limit: 1000,
            loss: 0,
            gap: 0,
            duplicate: 0,
            jitterTicks: 0,
            latency: parseTimeNs("100ms"),
          },
        });
        // A kernel with netem: it reads back what was written.
        console.log("  this kernel has sch_netem: checked by reading it back");
        const [q] = listQdiscs(sock, { device: "v3" });
        assertEquals(
          q!.options!.kind === "netem" && q!.options!.latency,
          100_000_000,
        );
      } catch (error) {
        assert(error instanceof TcKindMissingError, String(error));
        assertEquals(error.config, "CONFIG_NET_SCH_NETEM");
        assert(error.message.includes("CONFIG_NET_SCH_NETEM"));
      }
      // The CLI says the same in one line.
      let message = "";
      try {
        await nsnet(
          "qdisc",
          "add",
          ns!.path,
          "dev",
          "v3",
          "root",
          "netem",
          "delay",
          "100ms",
          "10ms",
          "25%",
          "loss",
          "1%",
        );
      } catch (error) {
        message = String(error);
      }
      if (message !== "") {
        assert(message.includes("CONFIG_NET_SCH_NETEM"), message);
      }
      // And the nsnet program: one line on standard error, exit status 1.
      const cli = await nsnetProcess(
        ..."qdisc add".split(" "),
        ns!.path,
        ..."dev v3 root netem delay 100ms 10ms 25% loss 1%".split(" "),
      );
      if (message !== "") {
        assertEquals(cli.code, 1, cli.stderr);
        assertEquals(cli.stderr.trim().split("\n").length, 1, cli.stderr);
        assert(cli.stderr.includes("CONFIG_NET_SCH_NETEM"), cli.stderr);
      }
      addQdisc(sock, { device: "v1", kind: "ingress" });
      try {
        addFilter(sock, {
          device: "v1",
          parent: 0xffff0000,
          kind: "u32",
          options: u32Options([], { actions: [gactAction("drop")] }),
        });
        console.log("  this kernel has act_gact");
      } catch (error) {
        assert(error instanceof TcKindMissingError, String(error));
        assertEquals(error.config, "CONFIG_NET_ACT_GACT");
      }
    });
  },
);
