/**
 * Side by side in one run: 10,000 permanent neighbours in a namespace,
 * dumped and decoded by nsnet (in-process), by `ip -j neigh` (the whole
 * process) and by pyroute2 (in-process, timed inside Python). Prints the
 * medians and the ratios as a markdown table, and removes what it made.
 *
 *   deno run --allow-all bench/compare_netlink_neigh.ts [RUNS] [PYROUTE2_RUNS]
 */
import { newNS } from "../lib/netns/create.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import { listNeighbours } from "../lib/netlink/neighbour.ts";
import { NetlinkSocket } from "../lib/netlink/socket.ts";

const runs = Number(Deno.args[0] ?? 15);
const pyRuns = Number(Deno.args[1] ?? 5);
const NEIGHBOURS = 10_000;
const PYTHON = "/usr/bin/python3";

function nameOf(ns: NetNS): string {
  return ns.path.slice(ns.path.lastIndexOf("/") + 1);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Feeds `lines` to `ip -n NAME -batch -`. */
async function ipBatch(ns: NetNS, lines: string[]): Promise<void> {
  const child = new Deno.Command("ip", {
    args: ["-n", nameOf(ns), "-batch", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

function has(command: string, ...args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Median wall time in ms of a whole process: hyperfine -N when installed, else spawn timing. */
function timeProcess(args: string[]): { ms: number; how: string } {
  if (has("hyperfine", "--version")) {
    const json = Deno.makeTempFileSync({ suffix: ".json" });
    try {
      const out = new Deno.Command("hyperfine", {
        args: [
          "-N",
          "--warmup",
          "3",
          "--runs",
          String(runs),
          "--export-json",
          json,
          args.join(" "),
        ],
        stdout: "null",
        stderr: "piped",
      }).outputSync();
      if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
      const result = JSON.parse(Deno.readTextFileSync(json)).results[0];
      return { ms: result.median * 1000, how: "hyperfine -N" };
    } finally {
      Deno.removeSync(json);
    }
  }
  const samples: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    const start = performance.now();
    const out = new Deno.Command(args[0]!, {
      args: args.slice(1),
      stdout: "null",
    }).outputSync();
    if (!out.success) throw new Error(`${args.join(" ")} failed`);
    if (i >= 3) samples.push(performance.now() - start);
  }
  return { ms: median(samples), how: "spawned from Deno" };
}

/** Median ms of pyroute2's neighbour dump inside `ns`, or undefined without pyroute2. */
function timePyroute2(ns: NetNS): number | undefined {
  if (!has(PYTHON, "-c", "import pyroute2")) return undefined;
  const script = [
    "import json, time",
    "from pyroute2 import IPRoute",
    "ipr = IPRoute()",
    "samples = []",
    "count = 0",
    `for _ in range(${pyRuns}):`,
    "    start = time.perf_counter()",
    "    count = len(list(ipr.get_neighbours()))",
    "    samples.append((time.perf_counter() - start) * 1000)",
    "print(json.dumps({'samples': samples, 'count': count}))",
  ].join("\n");
  const out = new Deno.Command("ip", {
    args: ["netns", "exec", nameOf(ns), PYTHON, "-c", script],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const result = JSON.parse(new TextDecoder().decode(out.stdout));
  if (result.count < NEIGHBOURS) {
    throw new Error(`pyroute2 saw ${result.count} neighbours`);
  }
  return median(result.samples);
}

const ns = newNS();
let nsnet = 0;
let ip = { ms: 0, how: "" };
let pyroute2: number | undefined;
let count = 0;
try {
  const name = nameOf(ns);
  await ipBatch(ns, [
    "link add v0 type veth peer name v1",
    "link set v0 up",
    ...Array.from(
      { length: NEIGHBOURS },
      (_, i) =>
        `neigh add 10.${20 + (i >> 16)}.${(i >> 8) & 255}.${
          i & 255
        } lladdr 02:00:00:00:${
          ((i >> 8) & 255).toString(16).padStart(2, "0")
        }:${(i & 255).toString(16).padStart(2, "0")} dev v0 nud permanent`,
    ),
  ]);
  using sock = NetlinkSocket.open(ns);
  count = listNeighbours(sock).length;
  if (count < NEIGHBOURS) throw new Error(`only ${count} neighbours made`);
  for (let i = 0; i < 3; i++) listNeighbours(sock);
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    listNeighbours(sock);
    samples.push(performance.now() - start);
  }
  nsnet = median(samples);
  ip = timeProcess(["ip", "-n", name, "-j", "neigh", "show"]);
  pyroute2 = timePyroute2(ns);
} finally {
  unmountNS(ns);
}

const ms = (v: number | undefined): string =>
  v === undefined ? "n/a" : v.toFixed(1);
console.log(
  `### neighbour dump+decode (median of ${runs} runs; pyroute2 median of ${pyRuns}; ip: whole process, ${ip.how})\n`,
);
console.log(
  "| case | nsnet (in-process) ms | `ip -j` (process) ms | pyroute2 (in-process) ms | ip ÷ nsnet | pyroute2 ÷ nsnet |",
);
console.log("|---|---:|---:|---:|---:|---:|");
console.log(
  `| ${count.toLocaleString("en")} neighbours (${
    NEIGHBOURS.toLocaleString("en")
  } permanent) | ${ms(nsnet)} | ${ms(ip.ms)} | ${ms(pyroute2)} | ${
    (ip.ms / nsnet).toFixed(2)
  }× | ${
    pyroute2 === undefined ? "n/a" : `${(pyroute2 / nsnet).toFixed(0)}×`
  } |`,
);
