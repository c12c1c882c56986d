/**
 * Side by side in one run: nsnet's netlink (in-process dump+decode) against
 * `ip` (whole process) and pyroute2 (in-process, timed inside Python), on
 * 1000 ifb links with statistics, on 100,000 IPv4 routes and on 10,000
 * multipath routes (two or three weighted nexthops each, `ip -j route`).
 * nsnet is timed in steady state (warmed up first) and in rounds that
 * alternate with `ip`'s (see _netlink_contenders.ts). Prints medians, the
 * ratios and the targets (issue 12: ≥ 1.5× `ip`, ≥ 50× pyroute2) as a
 * markdown table, exits 1 if one is missed, and removes what it made.
 * `--only=links,routes,multipath` runs some cases.
 *
 *   deno run --allow-all bench/compare_netlink.ts [RUNS] [PYROUTE2_RUNS] [--only=CASES]
 */
import { newNS } from "../lib/netns/create.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import { AF, RT_TABLE } from "../lib/netlink/constants.ts";
import { listLinks } from "../lib/netlink/link.ts";
import { listRoutes } from "../lib/netlink/route.ts";
import { NetlinkSocket } from "../lib/netlink/socket.ts";
import {
  ipBatch,
  median,
  nameOf,
  runPyroute2,
  timeSideBySide,
} from "./_netlink_contenders.ts";

const positional = Deno.args.filter((a) => !a.startsWith("--"));
const runs = Number(positional[0] ?? 30);
const pyRuns = Number(positional[1] ?? 3);
const onlyArg = Deno.args.find((a) => a.startsWith("--only="));
const only = new Set(
  onlyArg === undefined
    ? ["links", "routes", "multipath"]
    : onlyArg.slice("--only=".length).split(","),
);
const LINKS = 1000;
const ROUTES = 100_000;
const MULTIPATH = 10_000;

/** Median ms of `call` run inside Python in namespace `ns`, or undefined without pyroute2. */
function timePyroute2(
  ns: NetNS,
  call: string,
  times: number,
): number | undefined {
  const script = [
    "import json, socket, time",
    "from pyroute2 import IPRoute",
    "ipr = IPRoute()",
    "samples = []",
    `for _ in range(${times}):`,
    "    start = time.perf_counter()",
    `    result = ${call}`,
    "    samples.append((time.perf_counter() - start) * 1000)",
    "print(json.dumps(samples))",
  ].join("\n");
  const samples = runPyroute2(ns, script) as number[] | undefined;
  return samples === undefined ? undefined : median(samples);
}

interface Row {
  label: string;
  nsnet: number;
  ip: number;
  pyroute2: number | undefined;
  ipTarget: number;
  pyTarget: number;
}

const linkNS = newNS();
const routeNS = newNS();
const multipathNS = newNS();
const rows: Row[] = [];
let how = "";
try {
  if (only.has("links")) {
    await ipBatch(
      linkNS,
      Array.from({ length: LINKS }, (_, i) => `link add ifb${i} type ifb`),
    );
    using sock = NetlinkSocket.open(linkNS);
    const timed = timeSideBySide(() => listLinks(sock), [
      "ip",
      "-n",
      nameOf(linkNS),
      "-j",
      "-s",
      "link",
      "show",
    ], runs);
    how = timed.how;
    rows.push({
      label: `${LINKS + 1} links with stats`,
      nsnet: timed.nsnet,
      ip: timed.ip,
      pyroute2: timePyroute2(linkNS, "ipr.get_links()", Math.max(pyRuns, 5)),
      ipTarget: 1.5,
      pyTarget: 50,
    });
  }
  if (only.has("routes")) {
    await ipBatch(routeNS, [
      "link add v0 type veth peer name v1",
      "link set v0 up",
      "link set v1 up",
      "addr add 192.168.0.1/24 dev v0",
      ...Array.from(
        { length: ROUTES },
        (_, i) =>
          `route add 10.${i >> 16}.${(i >> 8) & 255}.${
            i & 255
          }/32 via 192.168.0.2`,
      ),
    ]);
    using sock = NetlinkSocket.open(routeNS);
    const timed = timeSideBySide(
      () => listRoutes(sock, { family: AF.INET, table: RT_TABLE.MAIN }),
      ["ip", "-n", nameOf(routeNS), "route", "show"],
      runs,
    );
    how = timed.how;
    rows.push({
      label: `${ROUTES.toLocaleString("en")} IPv4 routes`,
      nsnet: timed.nsnet,
      ip: timed.ip,
      pyroute2: timePyroute2(
        routeNS,
        "ipr.get_routes(family=socket.AF_INET, table=254)",
        pyRuns,
      ),
      ipTarget: 1.5,
      pyTarget: 50,
    });
  }
  if (only.has("multipath")) {
    // Two or three weighted nexthops over two links: RTA_MULTIPATH decoded for every route.
    await ipBatch(multipathNS, [
      "link add v0 type veth peer name v1",
      "link set v0 up",
      "link set v1 up",
      "addr add 192.168.0.1/24 dev v0",
      "addr add 192.168.1.1/24 dev v1",
      ...Array.from(
        { length: MULTIPATH },
        (_, i) =>
          `route add 172.16.${i >> 8}.${i & 255}/32 ` +
          `nexthop via 192.168.0.2 dev v0 weight ${1 + (i % 7)} ` +
          `nexthop via 192.168.1.2 dev v1 weight ${1 + (i % 3)}` +
          (i % 2 === 0 ? " nexthop via 192.168.0.3 dev v0" : ""),
      ),
    ]);
    using sock = NetlinkSocket.open(multipathNS);
    const check = listRoutes(sock, { family: AF.INET, table: RT_TABLE.MAIN });
    const multipath = check.filter((r) => (r.nexthops?.length ?? 0) >= 2);
    if (multipath.length !== MULTIPATH) {
      throw new Error(`${multipath.length} multipath routes decoded`);
    }
    const timed = timeSideBySide(
      () => listRoutes(sock, { family: AF.INET, table: RT_TABLE.MAIN }),
      ["ip", "-n", nameOf(multipathNS), "-j", "route", "show"],
      runs,
    );
    how = timed.how;
    rows.push({
      label: `${MULTIPATH.toLocaleString("en")} multipath routes (ip -j)`,
      nsnet: timed.nsnet,
      ip: timed.ip,
      pyroute2: timePyroute2(
        multipathNS,
        "ipr.get_routes(family=socket.AF_INET, table=254)",
        pyRuns,
      ),
      ipTarget: 1.5,
      pyTarget: 50,
    });
  }
} finally {
  unmountNS(linkNS);
  unmountNS(routeNS);
  unmountNS(multipathNS);
}

const ms = (v: number | undefined): string =>
  v === undefined ? "n/a" : v.toFixed(1);
console.log(
  `### netlink dump+decode (nsnet: median of ${runs} calls after warm-up, in rounds alternating with ip's; pyroute2 median of its own runs; ip: whole process, ${how})\n`,
);
console.log(
  "| case | nsnet (in-process) ms | `ip` (process) ms | pyroute2 (in-process) ms | ip ÷ nsnet | pyroute2 ÷ nsnet | targets |",
);
console.log("|---|---:|---:|---:|---:|---:|---|");
let missed = 0;
for (const row of rows) {
  const ipRatio = row.ip / row.nsnet;
  const pyRatio = row.pyroute2 === undefined
    ? undefined
    : row.pyroute2 / row.nsnet;
  const ipOk = ipRatio >= row.ipTarget;
  const pyOk = pyRatio === undefined || pyRatio >= row.pyTarget;
  if (!ipOk || !pyOk) missed++;
  console.log(
    `| ${row.label} | ${ms(row.nsnet)} | ${ms(row.ip)} | ${
      ms(row.pyroute2)
    } | ${ipRatio.toFixed(2)}× | ${
      pyRatio === undefined ? "n/a" : `${pyRatio.toFixed(0)}×`
    } | ip ≥ ${row.ipTarget}× ${
      ipOk ? "✓" : "✗"
    }, pyroute2 ≥ ${row.pyTarget}× ${
      pyRatio === undefined ? "(not installed)" : pyOk ? "✓" : "✗"
    } |`,
  );
}
if (missed > 0) Deno.exitCode = 1;
