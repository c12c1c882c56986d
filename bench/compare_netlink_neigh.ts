/**
 * Side by side in one run: 10,000 permanent neighbours in a namespace,
 * dumped and decoded by nsnet (in-process), by `ip -j neigh` (the whole
 * process) and by pyroute2 (in-process, timed inside Python). nsnet is
 * timed in steady state, in rounds alternating with `ip`'s (see
 * _netlink_contenders.ts). Prints the medians, the ratios and the targets
 * (issue 12: ≥ 1.5× `ip`, ≥ 50× pyroute2) as a markdown table, exits 1 if
 * one is missed, and removes what it made.
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
  timeSideBySide,
} from "./_netlink_contenders.ts";

const runs = Number(Deno.args[0] ?? 30);
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
let timed = { nsnet: 0, ip: 0, how: "" };
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
  timed = timeSideBySide(
    () => listNeighbours(sock),
    ["ip", "-n", name, "-j", "neigh", "show"],
    runs,
  );
  pyroute2 = timePyroute2(ns);
} finally {
  unmountNS(ns);
}

const ms = (v: number | undefined): string =>
  v === undefined ? "n/a" : v.toFixed(1);
const ipRatio = timed.ip / timed.nsnet;
const pyRatio = pyroute2 === undefined ? undefined : pyroute2 / timed.nsnet;
const ipOk = ipRatio >= 1.5;
const pyOk = pyRatio === undefined || pyRatio >= 50;
console.log(
  `### neighbour dump+decode (nsnet: median of ${runs} calls after warm-up, in rounds alternating with ip's; pyroute2 median of ${pyRuns}; ip: whole process, ${timed.how})\n`,
);
console.log(
  "| case | nsnet (in-process) ms | `ip -j` (process) ms | pyroute2 (in-process) ms | ip ÷ nsnet | pyroute2 ÷ nsnet | targets |",
);
console.log("|---|---:|---:|---:|---:|---:|---|");
console.log(
  `| ${count.toLocaleString("en")} neighbours (${
    NEIGHBOURS.toLocaleString("en")
  } permanent) | ${ms(timed.nsnet)} | ${ms(timed.ip)} | ${ms(pyroute2)} | ${
    ipRatio.toFixed(2)
  }× | ${
    pyRatio === undefined ? "n/a" : `${pyRatio.toFixed(0)}×`
  } | ip ≥ 1.5× ${ipOk ? "✓" : "✗"}, pyroute2 ≥ 50× ${
    pyRatio === undefined ? "(not installed)" : pyOk ? "✓" : "✗"
  } |`,
);
if (!ipOk || !pyOk) Deno.exitCode = 1;
