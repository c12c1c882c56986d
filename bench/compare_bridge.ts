/**
 * Side by side in one run: one bridge sandbox created, configured and torn
 * down by nsnet's bridge backend (in-process) against `netavark setup` /
 * `teardown` (Podman's JSON network format on stdin) and against the CNI
 * `bridge` plugin with `host-local` IPAM run by hand. Then 100 sandboxes on
 * one bridge: total time, and nsnet's memory.
 *
 * Everything happens in a "host" namespace made for the benchmark (bridge,
 * firewall rules, forwarding), so nothing touches the machine's network and
 * whatever a contender leaves behind goes with it. The namespaces of the
 * sandboxes are made and removed the same way for all three (nsnet's
 * newNS/unmountNS) and that time is counted for all three. Each contender's
 * child processes are forked from a thread inside the bench host namespace,
 * so no `ip netns exec` is timed.
 *
 * Two cases for one sandbox: "cold" is the only sandbox on its bridge, so
 * each round also makes and removes the bridge and the firewall rules;
 * "warm" joins a bridge that another sandbox keeps up. Before each timed
 * round the benchmark waits 100 ms (untimed), so that the kernel's deferred
 * work from the previous round (a removed namespace is cleaned up
 * asynchronously and holds RTNL meanwhile) does not land on the next
 * contender.
 *
 *   deno run --allow-all bench/compare_bridge.ts [ROUNDS] [MANY]
 */
import {
  type BridgeContext,
  setupBridge,
  teardownBridge,
} from "../lib/bridge/backend.ts";
import type { NetworkConfig } from "../lib/bridge/network.ts";
import { newNS } from "../lib/netns/create.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { unmountNS } from "../lib/netns/teardown.ts";

const rounds = Number(Deno.args[0] ?? 20);
const many = Math.min(Number(Deno.args[1] ?? 100), 500); // ids 100.. fit the /22s
const NETAVARK = "/usr/lib/podman/netavark";
const CNI_PATH = "/usr/lib/cni";
const SETTLE_MS = 100;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs `program` with `stdin` from a thread inside `host`; fails on a non-zero exit. */
async function runIn(
  host: NetNS,
  program: string,
  args: string[],
  stdin: string,
  env: Record<string, string> = {},
): Promise<string> {
  const child = host.run(() =>
    new Deno.Command(program, {
      args,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn()
  );
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${program} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

interface Contender {
  name: string;
  setup(ns: NetNS, id: number): Promise<void>;
  teardown(ns: NetNS, id: number): Promise<void>;
}

function nsnetContender(host: NetNS, stateDir: string): Contender {
  const ctx: BridgeContext = {
    hostNS: host,
    hostNSPath: host.path,
    stateDir,
    rootless: false,
  };
  const network: NetworkConfig = {
    name: "benchnsnet",
    bridge: "nsb-nsnet",
    subnet: "10.124.0.0/22",
    gateway: "10.124.0.1",
  };
  return {
    name: "nsnet",
    async setup(ns, id): Promise<void> {
      await setupBridge(ctx, ns, `bench-${id}`, network);
    },
    async teardown(ns, id): Promise<void> {
      await teardownBridge(ctx, ns, `bench-${id}`, network);
    },
  };
}

function hostAddress(base: string, id: number): string {
  const n = id + 2;
  return `${base}.${n >> 8}.${n & 255}`;
}

function netavarkContender(host: NetNS, configDir: string): Contender {
  const options = (id: number): string =>
    JSON.stringify({
      "container_id": id.toString(16).padStart(64, "a"),
      "container_name": `bench${id}`,
      networks: {
        benchnv: {
          "interface_name": "eth0",
          "static_ips": [hostAddress("10.125", id)],
        },
      },
      "network_info": {
        benchnv: {
          "dns_enabled": false,
          driver: "bridge",
          id: "b".repeat(64),
          internal: false,
          "ipv6_enabled": false,
          name: "benchnv",
          "network_interface": "nsb-netavark",
          subnets: [{ subnet: "10.125.0.0/22", gateway: "10.125.0.1" }],
          "ipam_options": { driver: "host-local" },
        },
      },
    });
  return {
    name: "netavark",
    async setup(ns, id): Promise<void> {
      await runIn(
        host,
        NETAVARK,
        ["--config", configDir, "setup", ns.path],
        options(id),
      );
    },
    async teardown(ns, id): Promise<void> {
      await runIn(
        host,
        NETAVARK,
        ["--config", configDir, "teardown", ns.path],
        options(id),
      );
    },
  };
}

function cniContender(host: NetNS, dataDir: string): Contender {
  const config = JSON.stringify({
    cniVersion: "1.0.0",
    name: "benchcni",
    type: "bridge",
    bridge: "nsb-cni",
    isGateway: true,
    ipMasq: true,
    ipam: {
      type: "host-local",
      subnet: "10.126.0.0/22",
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir,
    },
  });
  const env = (command: string, ns: NetNS, id: number): Record<
    string,
    string
  > => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: `bench${id}`,
    CNI_NETNS: ns.path,
    CNI_IFNAME: "eth0",
    CNI_PATH,
  });
  return {
    name: "CNI bridge+host-local",
    async setup(ns, id): Promise<void> {
      await runIn(host, `${CNI_PATH}/bridge`, [], config, env("ADD", ns, id));
    },
    async teardown(ns, id): Promise<void> {
      await runIn(host, `${CNI_PATH}/bridge`, [], config, env("DEL", ns, id));
    },
  };
}

/** Lets the kernel finish the previous round's deferred work (netns cleanup, RCU), untimed. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}

async function oneSandbox(c: Contender, id: number): Promise<number> {
  await settle();
  const start = performance.now();
  const ns = newNS();
  try {
    await c.setup(ns, id);
    await c.teardown(ns, id);
  } finally {
    unmountNS(ns);
  }
  return performance.now() - start;
}

async function manySandboxes(
  c: Contender,
  count: number,
): Promise<
  {
    setupMs: number;
    teardownMs: number;
    rssMiB?: number;
    rssBeforeMiB?: number;
  }
> {
  const namespaces: NetNS[] = [];
  const rssBefore = Deno.memoryUsage().rss;
  let start = performance.now();
  try {
    for (let i = 0; i < count; i++) {
      const ns = newNS();
      namespaces.push(ns);
      await c.setup(ns, 100 + i);
    }
  } catch (error) {
    for (const ns of namespaces) unmountNS(ns);
    throw error;
  }
  const setupMs = performance.now() - start;
  const rss = Deno.memoryUsage().rss;
  start = performance.now();
  for (const [i, ns] of namespaces.entries()) {
    await c.teardown(ns, 100 + i);
    unmountNS(ns);
  }
  const teardownMs = performance.now() - start;
  const nsnet = c.name === "nsnet";
  return {
    setupMs,
    teardownMs,
    rssMiB: nsnet ? rss / 2 ** 20 : undefined,
    rssBeforeMiB: nsnet ? rssBefore / 2 ** 20 : undefined,
  };
}

function fmt(ms: number): string {
  return ms.toFixed(ms < 10 ? 2 : 1);
}

async function main(): Promise<void> {
  const tmp = Deno.makeTempDirSync({ prefix: "nsnet-bridge-bench-" });
  const host = newNS();
  try {
    // Forwarding on in the bench host, as each backend would do it.
    host.run(() =>
      Deno.writeTextFileSync("/proc/sys/net/ipv4/ip_forward", "1\n")
    );
    Deno.mkdirSync(`${tmp}/netavark`);
    const contenders = [
      nsnetContender(host, `${tmp}/nsnet`),
      netavarkContender(host, `${tmp}/netavark`),
      cniContender(host, `${tmp}/cni`),
    ];
    // Warm-up: one round each (caches, JIT, iptables tables made once).
    for (const c of contenders) await oneSandbox(c, 0);

    const cold = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      for (const c of contenders) {
        const ms = await oneSandbox(c, 1);
        cold.set(c.name, [...(cold.get(c.name) ?? []), ms]);
      }
    }
    // Warm: a keeper sandbox holds each bridge up.
    const keepers = contenders.map(() => newNS());
    const warm = new Map<string, number[]>();
    try {
      for (const [i, c] of contenders.entries()) await c.setup(keepers[i]!, 2);
      for (let r = 0; r < rounds; r++) {
        for (const c of contenders) {
          const ms = await oneSandbox(c, 3);
          warm.set(c.name, [...(warm.get(c.name) ?? []), ms]);
        }
      }
      for (const [i, c] of contenders.entries()) {
        await c.teardown(keepers[i]!, 2);
      }
    } finally {
      for (const ns of keepers) unmountNS(ns);
    }

    const nsOnly: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      unmountNS(newNS());
      nsOnly.push(performance.now() - start);
    }

    const nsnetCold = median(cold.get("nsnet")!);
    const nsnetWarm = median(warm.get("nsnet")!);
    console.log(
      `\n## One bridge sandbox: new netns + setup + teardown + netns removed (median of ${rounds}, ms)\n`,
    );
    console.log(
      "| contender | cold (makes the bridge) | warm (bridge kept up) | nsnet ratio cold | nsnet ratio warm |",
    );
    console.log("|---|---|---|---|---|");
    for (const c of contenders) {
      const cm = median(cold.get(c.name)!);
      const wm = median(warm.get(c.name)!);
      console.log(
        `| ${c.name} | ${fmt(cm)} | ${fmt(wm)} | ${
          (nsnetCold / cm).toFixed(2)
        } | ${(nsnetWarm / wm).toFixed(2)} |`,
      );
    }
    console.log(
      `\nnetns create+remove alone (included above): ${fmt(median(nsOnly))} ms`,
    );
    console.log(
      `target: nsnet at most 0.5 of netavark: cold ${
        (nsnetCold / median(cold.get("netavark")!)).toFixed(2)
      }, warm ${(nsnetWarm / median(warm.get("netavark")!)).toFixed(2)}`,
    );

    console.log(`\n## ${many} sandboxes on one bridge (ms)\n`);
    console.log(
      "| contender | setup all | teardown all | total | per sandbox |",
    );
    console.log("|---|---|---|---|---|");
    let nsnetMemory = "";
    for (const c of contenders) {
      const result = await manySandboxes(c, many);
      const total = result.setupMs + result.teardownMs;
      console.log(
        `| ${c.name} | ${fmt(result.setupMs)} | ${fmt(result.teardownMs)} | ${
          fmt(total)
        } | ${fmt(total / many)} |`,
      );
      if (result.rssMiB !== undefined) {
        nsnetMemory = `nsnet RSS with ${many} sandboxes up: ${
          result.rssMiB.toFixed(1)
        } MiB, before them ${
          result.rssBeforeMiB!.toFixed(1)
        } MiB (Deno.memoryUsage().rss, whole process)`;
      }
    }
    console.log(`\n${nsnetMemory}`);
  } finally {
    unmountNS(host);
    Deno.removeSync(tmp, { recursive: true });
  }
}

await main();
