/**
 * Labs against the kernel, measured: a chain a – r – b routes through r;
 * loss, rate and partitions do what they say (counted with ping and
 * Debian's iperf3); a switch joins five nodes; netem where the kernel has
 * it, one clear error where it has not; a failure midway and a killed
 * creator leave nothing; the same chain as an unprivileged user inside
 * `nsnet unshare`. Every test checks that teardown leaves no namespace,
 * record, host veth or host nftables table.
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertRejects,
} from "./_assert.ts";
import { nsTest, run, succeeds } from "./_helpers.ts";
import {
  asUser,
  cleanupRootless,
  programAsUser,
  rootlessEnv,
} from "./_rootless.ts";
import { createLabFromPlan, Lab } from "../lib/lab/lab.ts";
import { LabExistsError } from "../lib/lab/errors.ts";
import { labNetnsPrefix, planLab } from "../lib/lab/plan.ts";
import { writeLabRecord } from "../lib/lab/store.ts";
import type { LabPlan, LabSpec } from "../lib/lab/types.ts";
import { TcKindMissingError } from "../lib/netlink/qdisc.ts";
import { NamespaceExistsError } from "../lib/errors.ts";

const decoder = new TextDecoder();

/** Whether this kernel has sch_netem: tried in a throwaway namespace of `unshare -n`. */
const HAS_NETEM = succeeds(
  "unshare",
  "-n",
  "tc",
  "qdisc",
  "add",
  "dev",
  "lo",
  "root",
  "netem",
  "delay",
  "1ms",
);
if (!HAS_NETEM) {
  console.log(
    "lab_test: this kernel has no sch_netem (CONFIG_NET_SCH_NETEM): the netem measurements are skipped; the missing-netem error is tested instead",
  );
}

const CHAIN: LabSpec = {
  nodes: { a: {}, r: { router: true }, b: {} },
  links: [{ ends: ["a", "r"] }, { ends: ["r", "b"] }],
};

function hostVeths(): string[] {
  return (JSON.parse(run("ip", "-j", "link", "show", "type", "veth")) as {
    ifname: string;
  }[]).map((l) => l.ifname).sort();
}

function hostNftTables(): string[] {
  return run("nft", "list", "tables").split("\n").filter((l) => l !== "")
    .sort();
}

/** Everything of lab `name` that could be left: namespace files, nsfs mounts, the record. */
function remainsOf(name: string): string[] {
  const prefix = labNetnsPrefix(name);
  const files = [...Deno.readDirSync("/run/netns")].map((e) => e.name)
    .filter((n) => n.startsWith(prefix)).map((n) => `/run/netns/${n}`);
  const mounts = Deno.readTextFileSync("/proc/mounts").split("\n")
    .filter((l) => l.includes(`/run/netns/${prefix}`));
  const recorded = [
    `/run/nsnet/labs/${name}.json`,
    `/run/nsnet/labs/.${name}.lock`,
  ].filter((path) => {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  });
  return [...files, ...mounts, ...recorded];
}

/** Runs `fn` and checks that lab `name` and the host are as before afterwards. */
async function leavesNothing(
  name: string,
  fn: () => Promise<void>,
): Promise<void> {
  const veths = hostVeths();
  const tables = hostNftTables();
  try {
    await fn();
  } finally {
    await Lab.removeByName(name).catch(() => false);
  }
  assertEquals(remainsOf(name), [], `lab ${name} left something`);
  assertEquals(hostVeths(), veths, "host veths changed");
  assertEquals(hostNftTables(), tables, "host nftables tables changed");
}

async function sh(lab: Lab, node: string, script: string): Promise<string> {
  const out = await lab.node(node).output("sh", { args: ["-c", script] });
  const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
  assert(out.success, `${node}: ${script}: ${text}`);
  return decoder.decode(out.stdout);
}

async function pings(
  lab: Lab,
  from: string,
  to: string,
  args: string[],
): Promise<{ ok: boolean; lossPercent: number; text: string }> {
  const out = await lab.node(from).output("ping", { args: [...args, to] });
  const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
  const loss = /([\d.]+)% packet loss/.exec(text);
  return {
    ok: out.success,
    lossPercent: loss === null ? NaN : Number(loss[1]),
    text,
  };
}

nsTest(
  "lab: a chain a – r – b routes a to b through r (IPv4 and IPv6), and teardown leaves nothing",
  async () => {
    await leavesNothing("t-chain", async () => {
      const started = performance.now();
      await using lab = await Lab.create(CHAIN, { name: "t-chain" });
      console.log(
        `  3-node chain up in ${(performance.now() - started).toFixed(1)} ms`,
      );
      const v4 = await pings(lab, "a", lab.address("b"), [
        "-c",
        "2",
        "-W",
        "2",
      ]);
      assert(v4.ok, v4.text);
      assertMatch(v4.text, /ttl=63/); // one router on the way
      const v6 = await pings(lab, "a", lab.address("b", { family: 6 }), [
        "-6",
        "-c",
        "2",
        "-W",
        "2",
      ]);
      assert(v6.ok, v6.text);
      // The path goes through r: its forwarding counters move.
      const before = lab.node("r").stats().interfaces["eth1"]!.txPackets;
      await pings(lab, "a", lab.address("b"), ["-c", "3", "-i", "0.01"]);
      assert(lab.node("r").stats().interfaces["eth1"]!.txPackets >= before + 3);
      // The node handle reads as a sandbox's: status block and counters.
      const status = lab.node("a").inspect();
      assertEquals(
        status.interfaces?.["eth0"]?.subnets?.map((s) => s.ipnet).filter((a) =>
          !a.startsWith("fe80")
        ),
        lab.plan.nodes[0]!.interfaces[0]!.addresses,
      );
      const show = lab.status();
      assertEquals(show.nodes.map((n) => n.name), ["a", "r", "b"]);
      assert(show.links.every((l) => (l.ends ?? []).length === 2));
      assertEquals(JSON.parse(JSON.stringify(show)).name, "t-chain");
      assertEquals(Lab.list().map((l) => l.name).includes("t-chain"), true);
      assertEquals(Lab.open("t-chain").plan, lab.plan);
      await assertRejects(
        () => Lab.create(CHAIN, { name: "t-chain" }),
        LabExistsError,
      );
      await lab.remove();
      await lab.remove(); // idempotent
      assertEquals(remainsOf("t-chain"), []);
    });
  },
);

nsTest(
  "lab: loss 20% both ways on r – b loses about 36% of 300 fast pings, and its removal heals it",
  async () => {
    await leavesNothing("t-loss", async () => {
      await using lab = await Lab.create(CHAIN, { name: "t-loss" });
      await lab.link("r", "b").impair({ loss: "20%" });
      assertEquals(lab.link("r", "b").impairment, { loss: "20%" });
      const lossy = await pings(lab, "a", lab.address("b"), [
        "-c",
        "300",
        "-i",
        "0.002",
        "-W",
        "1",
        "-q",
      ]);
      console.log(
        `  loss 20% both ways: ${lossy.lossPercent}% of 300 pings lost (expected about 36%)`,
      );
      assert(
        lossy.lossPercent >= 20 && lossy.lossPercent <= 52,
        `lost ${lossy.lossPercent}%: ${lossy.text}`,
      );
      // Only r's side: one way, about 20%.
      await lab.link("r", "b").impair({ loss: "20%" }, { from: "r" });
      const oneWay = await pings(lab, "a", lab.address("b"), [
        "-c",
        "300",
        "-i",
        "0.002",
        "-W",
        "1",
        "-q",
      ]);
      console.log(`  loss 20% from r only: ${oneWay.lossPercent}% lost`);
      assert(oneWay.lossPercent >= 8 && oneWay.lossPercent <= 34, oneWay.text);
      await lab.link("r", "b").impair({}, { from: null });
      const healed = await pings(lab, "a", lab.address("b"), [
        "-c",
        "100",
        "-i",
        "0.002",
        "-W",
        "1",
        "-q",
      ]);
      assertEquals(healed.lossPercent, 0, healed.text);
      // Nothing of the impairment is left in r or b.
      for (const node of ["r", "b"]) {
        const out = await sh(lab, node, "nft list tables; tc qdisc show");
        assert(!/nsnet_lab|tbf|netem/.test(out), `${node}: ${out}`);
      }
    });
  },
);

nsTest(
  "lab: rate 20mbit on a – r: iperf3 measures at most the rate and at least half of it",
  async () => {
    await leavesNothing("t-rate", async () => {
      await using lab = await Lab.create({
        ...CHAIN,
        links: [{ ends: ["a", "r"], rate: "20mbit" }, { ends: ["r", "b"] }],
      }, { name: "t-rate" });
      const server = lab.node("b").spawn("iperf3", {
        args: ["-s", "-B", lab.address("b")],
        stdout: "null",
        stderr: "null",
      });
      try {
        // Until it listens.
        for (let i = 0; i < 100; i++) {
          const out = await sh(lab, "b", "ss -Hltn sport = :5201");
          if (out.trim() !== "") break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const out = await lab.node("a").output("iperf3", {
          args: ["-c", lab.address("b"), "-t", "3", "-O", "1", "-J"],
        });
        const text = decoder.decode(out.stdout);
        assert(out.success, text + decoder.decode(out.stderr));
        const bps = JSON.parse(text).end.sum_received.bits_per_second as number;
        console.log(
          `  rate 20mbit: iperf3 measured ${(bps / 1e6).toFixed(2)} Mbit/s`,
        );
        assert(bps <= 20e6 * 1.05, `${bps} bit/s is above the rate`);
        assert(bps >= 10e6, `${bps} bit/s is below half the rate`);
        const status = lab.status().links[0]!;
        assertEquals(status.impairment, { rate: "20mbit" });
        assert(status.ends![0]!.stats!.txBytes > 3 * 1e6);
        // Changed live in place, then removed: the qdisc follows.
        await lab.link("a", "r").impair({ rate: "10mbit", loss: "1%" });
        assertMatch(
          await sh(lab, "a", "tc qdisc show dev eth0"),
          /rate 10Mbit/,
        );
        await lab.link("a", "r").impair({});
        for (const [node, dev] of [["a", "eth0"], ["r", "eth0"]]) {
          const qdisc = await sh(lab, node!, `tc qdisc show dev ${dev}`);
          assert(!/tbf|netem/.test(qdisc), qdisc);
          assert(!/nsnet_lab/.test(await sh(lab, node!, "nft list tables")));
        }
      } finally {
        server.kill();
        await server.status;
      }
    });
  },
);

nsTest(
  "lab: r – b down stops traffic from a to b, up restores it (addresses and routes come back)",
  async () => {
    await leavesNothing("t-part", async () => {
      await using lab = await Lab.create(CHAIN, { name: "t-part" });
      const link = lab.link("r", "b");
      await link.down();
      assert(link.isDown);
      assertEquals(lab.status().links[1]!.down, true);
      const cut = await pings(lab, "a", lab.address("b"), [
        "-c",
        "2",
        "-W",
        "1",
      ]);
      assert(!cut.ok, cut.text);
      await link.up();
      assert(!link.isDown);
      const v4 = await pings(lab, "a", lab.address("b"), [
        "-c",
        "2",
        "-W",
        "2",
      ]);
      assert(v4.ok, v4.text);
      const v6 = await pings(lab, "a", lab.address("b", { family: 6 }), [
        "-6",
        "-c",
        "2",
        "-W",
        "2",
      ]);
      assert(v6.ok, v6.text);
    });
  },
);

nsTest("lab: a switch of 5 nodes: every pair reaches each other", async () => {
  await leavesNothing("t-switch", async () => {
    const names = ["n1", "n2", "n3", "n4", "n5"];
    await using lab = await Lab.create({
      nodes: Object.fromEntries(names.map((n) => [n, {}])),
      switches: { sw: { nodes: names } },
    }, { name: "t-switch" });
    const pairs = names.flatMap((a) =>
      names.filter((b) => b !== a).map((b) => [a, b] as const)
    );
    const results = await Promise.all(
      pairs.map(([a, b]) =>
        pings(lab, a, lab.address(b), ["-c", "1", "-W", "2"])
      ),
    );
    results.forEach((r, i) => assert(r.ok, `${pairs[i]}: ${r.text}`));
    assertEquals(lab.status().links[0]!.ends!.length, 5);
    // A switch's impairment is on what each member sends into it.
    await lab.switch("sw").impair({ rate: "50mbit", loss: "100%" });
    for (const n of names) {
      assertMatch(await sh(lab, n, "tc qdisc show dev eth0"), /tbf/);
    }
    const cut = await pings(lab, "n1", lab.address("n2"), [
      "-c",
      "1",
      "-W",
      "1",
    ]);
    assert(!cut.ok, cut.text);
    await lab.switch("sw").impair({});
    const back = await pings(lab, "n1", lab.address("n2"), [
      "-c",
      "1",
      "-W",
      "2",
    ]);
    assert(back.ok, back.text);
  });
});

nsTest(
  "lab: delay and jitter on a kernel without netem: one error naming CONFIG_NET_SCH_NETEM, and nothing made",
  async () => {
    await leavesNothing("t-nonetem", async () => {
      const error = await assertRejects(
        () =>
          Lab.create({
            ...CHAIN,
            links: [{ ends: ["a", "r"] }, {
              ends: ["r", "b"],
              delay: "10ms",
              jitter: "2ms",
            }],
          }, { name: "t-nonetem" }),
        TcKindMissingError,
      );
      assertEquals(error.config, "CONFIG_NET_SCH_NETEM");
      assertMatch(error.message, /CONFIG_NET_SCH_NETEM/);
      assertEquals(remainsOf("t-nonetem"), []);
      // A live change asking for netem is refused the same way, nothing changed.
      await using lab = await Lab.create(CHAIN, { name: "t-nonetem" });
      await lab.link("r", "b").impair({ rate: "10mbit" });
      await assertRejects(
        () => lab.link("r", "b").impair({ delay: "10ms" }),
        TcKindMissingError,
      );
      assertEquals(lab.link("r", "b").impairment, { rate: "10mbit" });
      assertMatch(await sh(lab, "r", "tc qdisc show dev eth1"), /tbf/);
    });
  },
  { ignore: HAS_NETEM },
);

nsTest(
  "lab: netem delay, jitter and loss where the kernel has it",
  async () => {
    await leavesNothing("t-netem", async () => {
      await using lab = await Lab.create({
        ...CHAIN,
        links: [{ ends: ["a", "r"] }, {
          ends: ["r", "b"],
          delay: "50ms",
          jitter: "5ms",
          rate: "20mbit",
        }],
      }, { name: "t-netem" });
      const out = await pings(lab, "a", lab.address("b"), [
        "-c",
        "5",
        "-i",
        "0.2",
      ]);
      assert(out.ok, out.text);
      const avg = Number(/= [\d.]+\/([\d.]+)\//.exec(out.text)?.[1]);
      console.log(`  netem delay 50ms both ways: rtt avg ${avg} ms`);
      assert(avg >= 85 && avg < 200, out.text);
      await lab.link("r", "b").impair({ loss: "20%" });
      const lossy = await pings(lab, "a", lab.address("b"), [
        "-c",
        "300",
        "-i",
        "0.002",
        "-W",
        "1",
        "-q",
      ]);
      console.log(`  netem loss 20% both ways: ${lossy.lossPercent}% lost`);
      assert(lossy.lossPercent >= 20 && lossy.lossPercent <= 52, lossy.text);
    });
  },
  { ignore: !HAS_NETEM },
);

nsTest(
  "lab: a failure midway (the second link cannot be made) leaves nothing, and a namespace that was there stays",
  async () => {
    const plan: LabPlan = planLab(CHAIN, "t-midway");
    // r's interface on the second link takes the name of its first: EEXIST there.
    const broken: LabPlan = structuredClone(plan);
    broken.nodes[1]!.interfaces[1]!.name = broken.nodes[1]!.interfaces[0]!.name;
    await leavesNothing("t-midway", async () => {
      const error = await assertRejects(() => createLabFromPlan(broken));
      assertMatch(String(error), /EEXIST|exists/);
      assertEquals(remainsOf("t-midway"), []);
    });
    // A namespace of the same name made by someone else: refused, and kept.
    const taken = plan.nodes[2]!.netns;
    run("ip", "netns", "add", taken);
    try {
      await assertRejects(() => createLabFromPlan(plan), NamespaceExistsError);
      assert(
        succeeds("ip", "netns", "exec", taken, "true"),
        "taken was removed",
      );
      // Only the taken one is there: the lab's own went, its record too.
      assertEquals(
        remainsOf("t-midway").filter((r) => !r.includes(taken)),
        [],
      );
    } finally {
      run("ip", "netns", "del", taken);
    }
    assertEquals(remainsOf("t-midway"), []);
  },
);

nsTest(
  "lab: what a killed creator left is removed by removeByName and by the next create of that name",
  async () => {
    await leavesNothing("t-killed", async () => {
      const plan = planLab(CHAIN, "t-killed");
      const killed = (): void => {
        // As a creator killed mid-build leaves it: the record, some namespaces.
        writeLabRecord({
          name: "t-killed",
          phase: "creating",
          pid: 999_999_999,
          created: new Date().toISOString(),
          rootless: false,
          plan,
        });
        run("ip", "netns", "add", plan.nodes[0]!.netns);
        run("ip", "netns", "add", plan.nodes[1]!.netns);
      };
      killed();
      assertEquals(await Lab.removeByName("t-killed"), true);
      assertEquals(remainsOf("t-killed"), []);
      assertEquals(await Lab.removeByName("t-killed"), false);
      killed();
      await using lab = await Lab.create(CHAIN, { name: "t-killed" });
      assertEquals(lab.phase, "ready");
      const out = await pings(lab, "a", lab.address("b"), [
        "-c",
        "1",
        "-W",
        "2",
      ]);
      assert(out.ok, out.text);
    });
  },
);

nsTest(
  "lab: a 20-node chain goes up and down in well under a second",
  async () => {
    const nodes: Record<string, { router?: boolean }> = {};
    const links: { ends: [string, string] }[] = [];
    for (let i = 0; i < 20; i++) {
      nodes[`n${i}`] = { router: i > 0 && i < 19 };
      if (i > 0) links.push({ ends: [`n${i - 1}`, `n${i}`] });
    }
    await leavesNothing("t-twenty", async () => {
      const started = performance.now();
      const lab = await Lab.create({ nodes, links }, { name: "t-twenty" });
      const up = performance.now() - started;
      try {
        const out = await pings(lab, "n0", lab.address("n19"), [
          "-c",
          "1",
          "-W",
          "2",
        ]);
        assert(out.ok, out.text);
      } finally {
        const t = performance.now();
        await lab.remove();
        console.log(
          `  20-node chain: up ${up.toFixed(1)} ms, down ${
            (performance.now() - t).toFixed(1)
          } ms`,
        );
      }
      assert(up < 1000, `up took ${up} ms`);
    });
  },
);

const LIB = new URL("../lib/lab/mod.ts", import.meta.url).pathname;

/** The chain, as a library user's program run unprivileged inside `nsnet unshare`. */
const ROOTLESS_PROGRAM = `
import { Lab } from "${LIB}";
const d = new TextDecoder();
const result: Record<string, unknown> = {};
const lab = await Lab.create({
  nodes: { a: {}, r: { router: true }, b: {} },
  links: [{ ends: ["a", "r"], rate: "20mbit" }, { ends: ["r", "b"] }],
}, { name: "t-rootless" });
try {
  const ping = async (args: string[]) => {
    const out = await lab.node("a").output("ping", { args });
    return { ok: out.success, text: d.decode(out.stdout) + d.decode(out.stderr) };
  };
  result.v4 = await ping(["-c", "2", "-W", "2", lab.address("b")]);
  result.v6 = await ping(["-6", "-c", "2", "-W", "2", lab.address("b", { family: 6 })]);
  await lab.link("r", "b").impair({ loss: "20%" });
  result.loss = await ping(["-c", "300", "-i", "0.002", "-W", "1", "-q", lab.address("b")]);
  await lab.link("r", "b").impair({});
  await lab.link("r", "b").down();
  result.down = await ping(["-c", "1", "-W", "1", lab.address("b")]);
  await lab.link("r", "b").up();
  result.up = await ping(["-c", "2", "-W", "2", lab.address("b")]);
  using listener = lab.node("b").listen({ port: 7000 });
  const [conn, accepted] = await Promise.all([
    lab.node("a").connect({ hostname: lab.address("b"), port: 7000 }),
    listener.accept(),
  ]);
  conn.close();
  accepted.close();
  result.tcp = true;
  result.qdisc = d.decode((await lab.node("a").output("tc", { args: ["qdisc", "show", "dev", "eth0"] })).stdout);
  result.stats = lab.node("r").stats().txBytes > 0;
  try {
    lab.node("a").run(() => 1);
    result.run = "ran";
  } catch (error) {
    result.run = String(error);
  }
} finally {
  await lab.remove();
}
console.log(JSON.stringify(result));
`;

nsTest(
  "lab unprivileged: the chain inside nsnet unshare routes, loses, partitions and heals, and leaves nothing",
  async () => {
    await cleanupRootless();
    try {
      const out = await programAsUser(ROOTLESS_PROGRAM, { unshare: true });
      assertEquals(out.code, 0, out.stdout + out.stderr);
      const result = JSON.parse(out.stdout.trim().split("\n").at(-1)!);
      assert(result.v4.ok, result.v4.text);
      assert(result.v6.ok, result.v6.text);
      const loss = Number(/([\d.]+)% packet loss/.exec(result.loss.text)?.[1]);
      console.log(`  rootless loss 20% both ways: ${loss}% of 300 pings lost`);
      assert(loss >= 20 && loss <= 52, result.loss.text);
      assert(!result.down.ok, result.down.text);
      assert(result.up.ok, result.up.text);
      assertEquals(result.tcp, true);
      assertMatch(result.qdisc, /tbf/);
      assertEquals(result.stats, true);
      assertMatch(result.run, /needs root/);
      // Nothing of it in the user's netns run dir or state dir.
      const env = rootlessEnv();
      const left = await asUser([
        "sh",
        "-c",
        `ls ${env.runtimeDir}/netns ${env.runtimeDir}/nsnet/labs 2>/dev/null | grep t-rootless || true`,
      ]);
      assertEquals(left.stdout.trim(), "");
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "lab: an unknown node in link() and node() is one error naming what the lab has",
  async () => {
    await leavesNothing("t-names", async () => {
      await using lab = await Lab.create(CHAIN, { name: "t-names" });
      let error: unknown;
      try {
        lab.link("a", "b");
      } catch (e) {
        error = e;
      }
      assertInstanceOf(error, Error);
      assertMatch(String(error), /no link between a and b/);
      try {
        lab.node("x");
      } catch (e) {
        error = e;
      }
      assertMatch(String(error), /no node named "x"/);
    });
  },
);
