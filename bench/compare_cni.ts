/**
 * What nsnet's CNI backend costs: one sandbox attached and detached (warm:
 * the bridge is kept up by another sandbox) by
 *
 * - nsnet's built-in bridge backend (in-process netlink and nft),
 * - the `bridge` plugin with `host-local` run by hand (one exec each way),
 * - `cniAdd`/`cniDel` with the same one-plugin list (the libcni layer:
 *   config loading, binary lookup, result cache, StatusBlock),
 * - `cniAdd`/`cniDel` with Podman's old default chain (bridge, portmap,
 *   firewall, tuning) and one published port.
 *
 * Everything happens in a "host" namespace made for the benchmark: plugins
 * are started from a thread inside it (the injected spawner), so bridges,
 * iptables rules and forwarding go with it and the machine is untouched.
 * Conf, cache and lease dirs are temp dirs, removed at the end.
 *
 *   deno run --allow-all bench/compare_cni.ts [ROUNDS]
 */
import {
  type BridgeContext,
  setupBridge,
  teardownBridge,
} from "../lib/bridge/backend.ts";
import {
  cniAdd,
  cniDel,
  type CniSpawner,
  directSpawner,
} from "../lib/cni/mod.ts";
import { newNS } from "../lib/netns/create.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { unmountNS } from "../lib/netns/teardown.ts";

const rounds = Number(Deno.args[0] ?? 20);
const CNI_PATH = "/usr/lib/cni";
const SETTLE_MS = 100;

interface Contender {
  name: string;
  setup(ns: NetNS, id: number): Promise<void>;
  teardown(ns: NetNS, id: number): Promise<void>;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function bridgePlugin(
  bridge: string,
  subnet: string,
  dataDir: string,
): Record<string, unknown> {
  return {
    type: "bridge",
    bridge,
    isGateway: true,
    ipMasq: true,
    ipam: {
      type: "host-local",
      subnet,
      routes: [{ dst: "0.0.0.0/0" }],
      dataDir,
    },
  };
}

function builtin(host: NetNS, dir: string): Contender {
  const ctx: BridgeContext = {
    hostNS: host,
    hostNSPath: host.path,
    stateDir: `${dir}/builtin`,
    rootless: false,
  };
  const network = {
    name: "benchnsnet",
    bridge: "nsb-nsnet",
    subnet: "10.124.0.0/22",
    gateway: "10.124.0.1",
  };
  Deno.mkdirSync(ctx.stateDir);
  return {
    name: "nsnet built-in bridge",
    async setup(ns, id): Promise<void> {
      await setupBridge(ctx, ns, `bench-${id}`, network);
    },
    async teardown(ns, id): Promise<void> {
      await teardownBridge(ctx, ns, `bench-${id}`, network);
    },
  };
}

function byHand(spawn: CniSpawner, dir: string): Contender {
  const config = JSON.stringify({
    cniVersion: "1.0.0",
    name: "benchhand",
    ...bridgePlugin("nsb-hand", "10.125.0.0/22", `${dir}/leases`),
  });
  const run = async (command: string, ns: NetNS, id: number): Promise<void> => {
    const child = spawn([`${CNI_PATH}/bridge`], {
      env: {
        CNI_COMMAND: command,
        CNI_CONTAINERID: `bench${id}`,
        CNI_NETNS: ns.path,
        CNI_IFNAME: "eth0",
        CNI_ARGS: "",
        CNI_PATH,
      },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    });
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(config));
    await writer.close();
    const out = await child.output();
    if (!out.success) {
      throw new Error(
        `bridge ${command}: ${new TextDecoder().decode(out.stdout)}`,
      );
    }
  };
  return {
    name: "bridge plugin by hand",
    setup: (ns, id) => run("ADD", ns, id),
    teardown: (ns, id) => run("DEL", ns, id),
  };
}

function viaCni(
  name: string,
  network: string,
  plugins: Record<string, unknown>[],
  spawn: CniSpawner,
  dir: string,
  ports: boolean,
): Contender {
  const confDir = `${dir}/conf`;
  Deno.mkdirSync(confDir, { recursive: true });
  Deno.writeTextFileSync(
    `${confDir}/${network}.conflist`,
    JSON.stringify({ cniVersion: "1.0.0", name: network, plugins }),
  );
  const options = {
    confDir,
    cniPath: [CNI_PATH],
    cacheDir: `${dir}/cache`,
    spawn,
  };
  return {
    name,
    async setup(ns, id): Promise<void> {
      await cniAdd(ns.path, `bench${id}`, network, {
        ...options,
        portMappings: ports
          ? [{
            protocol: "tcp",
            hostIp: undefined,
            hostPort: 20000 + id,
            sandboxPort: 80,
          }]
          : undefined,
      });
    },
    async teardown(ns, id): Promise<void> {
      await cniDel(ns.path, `bench${id}`, network, options);
    },
  };
}

function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}

async function measure(c: Contender): Promise<number> {
  const keeper = newNS();
  await c.setup(keeper, 1);
  const times: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      await settle();
      const ns = newNS();
      try {
        const start = performance.now();
        await c.setup(ns, 2 + round);
        await c.teardown(ns, 2 + round);
        times.push(performance.now() - start);
      } finally {
        unmountNS(ns);
      }
    }
  } finally {
    await c.teardown(keeper, 1);
    unmountNS(keeper);
  }
  return median(times);
}

async function main(): Promise<void> {
  const host = newNS();
  const dir = Deno.makeTempDirSync({ prefix: "nsnet-bench-cni-" });
  const spawn: CniSpawner = (command, options) =>
    host.run(() => directSpawner(command, options));
  try {
    const contenders = [
      builtin(host, dir),
      byHand(spawn, dir),
      viaCni(
        "cniAdd/cniDel: bridge",
        "benchone",
        [bridgePlugin("nsb-one", "10.126.0.0/22", `${dir}/leases`)],
        spawn,
        dir,
        false,
      ),
      viaCni(
        "cniAdd/cniDel: bridge, portmap, firewall, tuning",
        "benchchain",
        [
          bridgePlugin("nsb-chain", "10.127.0.0/22", `${dir}/leases`),
          { type: "portmap", capabilities: { portMappings: true } },
          { type: "firewall" },
          { type: "tuning" },
        ],
        spawn,
        dir,
        true,
      ),
    ];
    console.log(
      `one sandbox attached and detached, warm bridge, median of ${rounds}`,
    );
    for (const c of contenders) {
      const ms = await measure(c);
      console.log(`${c.name.padEnd(50)} ${ms.toFixed(1).padStart(7)} ms`);
    }
  } finally {
    unmountNS(host);
    Deno.removeSync(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
