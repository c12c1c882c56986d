/**
 * The hand-written way of building a lab: the `ip`/`tc`/`nft` shell script
 * that makes what a {@linkcode LabPlan} describes (namespaces, veth pairs,
 * bridges, addresses, routes, forwarding, rate limits and loss: what each
 * node sends, through tbf and an nftables `numgen` drop, as nsnet does on a
 * kernel without netem) and the one
 * that removes it again. The lab benchmark times these against nsnet, and the
 * differential test builds a lab with them to compare against `Lab.create`.
 *
 * One command per step, as such scripts are written (`ip -n NS …` rather than
 * `ip netns exec NS ip …` wherever iproute2 allows it). Pure: it writes text.
 *
 * @module
 */
import type {
  LabPlan,
  LabSpec,
  PlannedInterface,
  PlannedNode,
  PlannedSegment,
} from "../lib/lab/types.ts";
import { parseRate } from "../lib/netlink/tc_units.ts";

/** The bridge inside a switch's namespace when the plan names none. */
const SCRIPT_BRIDGE = "br0";

function q(word: string): string {
  return /^[A-Za-z0-9_.:/%@=+-]+$/.test(word)
    ? word
    : `'${word.replaceAll("'", `'\\''`)}'`;
}

function line(...words: string[]): string {
  return words.map(q).join(" ");
}

function interfaceOn(
  node: PlannedNode,
  segment: PlannedSegment,
): PlannedInterface {
  const found = node.interfaces.find((i) => i.segment === segment.id);
  if (found === undefined) {
    throw new Error(
      `plan: node ${node.name} has no interface on ${segment.id}`,
    );
  }
  return found;
}

/** The bridge-side port of member `index` of a switch when the plan names none. */
function portName(index: number): string {
  return `port${index}`;
}

/** Whether the traffic `node` sends on `segment` is impaired. */
function impairedFrom(segment: PlannedSegment, node: string): boolean {
  return segment.from === undefined || segment.from === node;
}

/** `tc qdisc add … tbf …` for `rate`: a bucket of 10 ms of it (at least two frames), 50 ms queue. */
function tbfLine(netns: string, dev: string, rate: string): string {
  const burst = Math.max(Math.ceil(parseRate(rate) / 100), 3028);
  return line(
    "tc",
    "-n",
    netns,
    "qdisc",
    "add",
    "dev",
    dev,
    "root",
    "tbf",
    "rate",
    rate,
    "burst",
    `${burst}b`,
    "latency",
    "50ms",
  );
}

/** The nft ruleset dropping `loss` of what leaves through `devs`, fed on stdin. */
function lossLines(netns: string, devs: string[], loss: string): string[] {
  const percent = Number(loss.replace(/%$/, ""));
  const threshold = Math.round(percent * 100); // out of 10000
  const rules = devs.map((dev) =>
    `    oifname "${dev}" numgen random mod 10000 < ${threshold} drop`
  );
  return [
    `ip netns exec ${q(netns)} nft -f - <<'EOF'`,
    "table inet nsnet_lab_script {",
    "  chain loss {",
    "    type filter hook postrouting priority 0; policy accept;",
    ...rules,
    "  }",
    "}",
    "EOF",
  ];
}

/**
 * The shell script (bash, `set -e`) that builds `plan` with `ip`, `tc`,
 * `sysctl` and `nft`, one command per step.
 */
export function labUpScript(plan: LabPlan): string {
  const out: string[] = ["#!/bin/bash", "set -e"];
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  const node = (name: string): PlannedNode => {
    const found = byName.get(name);
    if (found === undefined) throw new Error(`plan: no node ${name}`);
    return found;
  };
  // Namespaces, with loopback up.
  const namespaces = [
    ...plan.nodes.map((n) => n.netns),
    ...plan.segments.flatMap((s) => s.netns === undefined ? [] : [s.netns]),
  ];
  for (const ns of namespaces) {
    out.push(line("ip", "netns", "add", ns));
    out.push(line("ip", "-n", ns, "link", "set", "lo", "up"));
  }
  // Wires: a veth pair per link; a bridge and a veth per member per switch.
  const loss = new Map<string, string[]>(); // netns -> devs
  const lossOf = new Map<string, string>(); // netns -> percentage
  const impair = (
    segment: PlannedSegment,
    netns: string,
    dev: string,
  ): void => {
    const { rate, loss: lose } = segment.impairment;
    if (rate !== undefined) out.push(tbfLine(netns, dev, rate));
    if (lose !== undefined) {
      loss.set(netns, [...loss.get(netns) ?? [], dev]);
      lossOf.set(netns, lose);
    }
  };
  for (const segment of plan.segments) {
    if (segment.kind === "link") {
      const [a, b] = segment.nodes.map(node) as [PlannedNode, PlannedNode];
      const ia = interfaceOn(a, segment);
      const ib = interfaceOn(b, segment);
      out.push(
        line(
          "ip",
          "link",
          "add",
          ia.name,
          "netns",
          a.netns,
          "type",
          "veth",
          "peer",
          "name",
          ib.name,
          "netns",
          b.netns,
        ),
      );
      continue;
    }
    const sw = segment.netns!;
    const bridge = segment.bridge ?? SCRIPT_BRIDGE;
    out.push(line("ip", "-n", sw, "link", "add", bridge, "type", "bridge"));
    out.push(line("ip", "-n", sw, "link", "set", bridge, "up"));
    segment.nodes.forEach((name, index) => {
      const member = node(name);
      const iface = interfaceOn(member, segment);
      const port = segment.ports?.[index] ?? portName(index);
      out.push(
        line(
          "ip",
          "-n",
          sw,
          "link",
          "add",
          port,
          "type",
          "veth",
          "peer",
          "name",
          iface.name,
          "netns",
          member.netns,
        ),
      );
      out.push(
        line(
          "ip",
          "-n",
          sw,
          "link",
          "set",
          port,
          "master",
          bridge,
          "up",
        ),
      );
    });
  }
  // Addresses, interfaces up, what each end sends impaired.
  const segments = new Map(plan.segments.map((s) => [s.id, s]));
  for (const n of plan.nodes) {
    for (const iface of n.interfaces) {
      for (const address of iface.addresses) {
        const v6 = address.includes(":");
        out.push(
          line(
            "ip",
            "-n",
            n.netns,
            "addr",
            "add",
            address,
            "dev",
            iface.name,
            ...(v6 ? ["nodad"] : []),
          ),
        );
      }
      out.push(line("ip", "-n", n.netns, "link", "set", iface.name, "up"));
      const segment = segments.get(iface.segment)!;
      if (segment.kind === "switch" || impairedFrom(segment, n.name)) {
        impair(segment, n.netns, iface.name);
      }
    }
  }
  // Routes and forwarding.
  for (const n of plan.nodes) {
    for (const route of n.routes) {
      out.push(
        line(
          "ip",
          "-n",
          n.netns,
          "route",
          "add",
          route.destination,
          "via",
          route.via,
          "dev",
          route.dev,
        ),
      );
    }
    if (n.router) {
      out.push(
        line(
          "ip",
          "netns",
          "exec",
          n.netns,
          "sysctl",
          "-qw",
          "net.ipv4.ip_forward=1",
          "net.ipv6.conf.all.forwarding=1",
        ),
      );
    }
  }
  for (const [netns, devs] of loss) {
    out.push(...lossLines(netns, devs, lossOf.get(netns)!));
  }
  return out.join("\n") + "\n";
}

/**
 * The shell script that removes what {@linkcode labUpScript} built: each
 * namespace deleted (its veths, bridge, qdiscs and nft table go with it).
 */
export function labDownScript(plan: LabPlan): string {
  const namespaces = [
    ...plan.nodes.map((n) => n.netns),
    ...plan.segments.flatMap((s) => s.netns === undefined ? [] : [s.netns]),
  ];
  return [
    "#!/bin/bash",
    ...namespaces.map((ns) => line("ip", "netns", "del", ns)),
  ].join("\n") + "\n";
}

/** Runs a script with bash; throws with its standard error when it fails. */
export async function runScript(script: string): Promise<void> {
  const child = new Deno.Command("bash", {
    args: ["-c", script],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `lab script failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/**
 * A chain of `count` nodes `n0 … n<count-1>`, the inner ones routers, each
 * link rate-limited (`rate`, default 1gbit).
 */
export function chainSpec(count: number, rate = "1gbit"): LabSpec {
  const nodes: LabSpec["nodes"] = {};
  for (let i = 0; i < count; i++) {
    nodes[`n${i}`] = i === 0 || i === count - 1 ? {} : { router: true };
  }
  const links = [];
  for (let i = 0; i + 1 < count; i++) {
    links.push({ ends: [`n${i}`, `n${i + 1}`] as [string, string], rate });
  }
  return { nodes, links };
}

/** `count` nodes `h0 … h<count-1>` on one switch `s0`, rate-limited ports (`rate`, default 1gbit). */
export function starSpec(count: number, rate = "1gbit"): LabSpec {
  const nodes: LabSpec["nodes"] = {};
  const members: string[] = [];
  for (let i = 0; i < count; i++) {
    nodes[`h${i}`] = {};
    members.push(`h${i}`);
  }
  return { nodes, switches: { s0: { nodes: members, rate } } };
}
