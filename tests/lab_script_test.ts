/**
 * A differential check of `Lab.create` against the hand-written way: the
 * same spec built once by nsnet and once by the `ip`/`tc`/`nft` script the
 * lab benchmark writes from the plan (bench/_lab_script.ts), then each
 * node's addresses, routes, qdiscs and forwarding read with `ip -j`, `tc -j`
 * and sysctl and compared, node by node. Root, kernel tier.
 */
import { assertEquals } from "./_assert.ts";
import { nftTables, nsTest, run } from "./_helpers.ts";
import { labDownScript, labUpScript, runScript } from "../bench/_lab_script.ts";
import { Lab } from "../lib/lab/lab.ts";
import { planLab } from "../lib/lab/plan.ts";
import type { LabPlan, LabSpec } from "../lib/lab/types.ts";

const SPEC: LabSpec = {
  nodes: {
    a: {},
    r1: { router: true },
    r2: { router: true },
    b: {},
    c: {},
    d: {},
  },
  links: [
    { ends: ["a", "r1"], rate: "20mbit" },
    { ends: ["r1", "r2"], rate: "100mbit", from: "r1" },
    { ends: ["r2", "b"], loss: "10%" },
  ],
  switches: { s: { nodes: ["r2", "c", "d"], rate: "50mbit" } },
};

interface NodeView {
  addresses: string[];
  routes: string[];
  qdiscs: string[];
  forwarding: string;
  loss: string[];
}

function json<T>(netns: string, cmd: string, ...args: string[]): T {
  return JSON.parse(run(cmd, "-n", netns, "-j", ...args) || "[]") as T;
}

/** What a node has, in words that do not depend on the namespace or ifindex. */
function view(netns: string): NodeView {
  const links = json<
    {
      ifname: string;
      flags: string[];
      addr_info: {
        local: string;
        prefixlen: number;
        scope: string;
      }[];
    }[]
  >(netns, "ip", "addr");
  const addresses = links.flatMap((l) =>
    l.addr_info.filter((a) => a.scope !== "link").map((a) =>
      `${l.ifname} ${a.local}/${a.prefixlen} ${
        l.flags.includes("UP") ? "up" : "down"
      }`
    )
  ).sort();
  const routes = ["-4", "-6"].flatMap((family) =>
    JSON.parse(
      run("ip", "-n", netns, "-j", family, "route", "show", "table", "main"),
    ) as { dst: string; gateway?: string; dev: string; protocol?: string }[]
  ).filter((r) => !r.dst.startsWith("fe80:"))
    .map((r) => `${r.dst} via ${r.gateway ?? "-"} dev ${r.dev}`)
    .sort();
  const qdiscs = json<
    { kind: string; dev: string; root?: boolean; options?: { rate?: number } }[]
  >(netns, "tc", "qdisc", "show").filter((q) =>
    q.kind === "tbf" || q.kind === "netem"
  )
    .map((q) => `${q.dev} ${q.kind} ${q.options?.rate ?? ""}`).sort();
  const forwarding = run(
    "ip",
    "netns",
    "exec",
    netns,
    "sysctl",
    "-n",
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
  ).replaceAll("\n", " ");
  const ruleset = run("ip", "netns", "exec", netns, "nft", "list", "ruleset");
  const loss = [
    ...ruleset.matchAll(
      /oifname "([^"]+)" numgen random mod (\d+) < (\d+) drop/g,
    ),
  ]
    .map((m) => `${m[1]} ${(Number(m[3]) / Number(m[2])).toFixed(4)}`).sort();
  return { addresses, routes, qdiscs, forwarding, loss };
}

function views(plan: LabPlan): Record<string, NodeView> {
  return Object.fromEntries(plan.nodes.map((n) => [n.name, view(n.netns)]));
}

nsTest(
  "Lab.create builds what the ip/tc script builds, node by node",
  async () => {
    const tables = nftTables();
    // One name for both, one after the other: the IPv6 prefix comes from it.
    const name = `d${Deno.pid % 100000}`;
    const plan = planLab(SPEC, name);
    let expected: Record<string, NodeView>;
    try {
      await runScript(labUpScript(plan));
      expected = views(plan);
    } finally {
      await runScript(labDownScript(plan)).catch(() => {});
    }
    let actual: Record<string, NodeView>;
    {
      await using lab = await Lab.create(SPEC, { name });
      assertEquals(lab.plan, plan);
      actual = views(lab.plan);
    }
    for (const node of Object.keys(expected)) {
      assertEquals(actual[node], expected[node], `node ${node}`);
    }
    // Something was compared: routes through both routers, qdiscs, loss.
    assertEquals(expected.a!.routes.length > 4, true);
    assertEquals(expected.r2!.loss.length, 1);
    assertEquals(expected.c!.qdiscs.length, 1);
    assertEquals(nftTables(), tables);
  },
);
