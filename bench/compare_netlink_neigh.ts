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
import {
  ipBatch,
  median,
  nameOf,
  runPyroute2,
  timeProcess,
} from "./_netlink_contenders.ts";

const runs = Number(Deno.args[0] ?? 15);
const pyRuns = Number(Deno.args[1] ?? 5);
const NEIGHBOURS = 10_000;

/** Median ms of pyroute2's neighbour dump inside `ns`, or undefined without pyroute2. */
function timePyroute2(ns: NetNS): number | undefined {
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
  const result = runPyroute2(ns, script) as
    | { samples: number[]; count: number }
    | undefined;
  if (result === undefined) return undefined;
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
  ip = timeProcess(["ip", "-n", name, "-j", "neigh", "show"], runs);
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
