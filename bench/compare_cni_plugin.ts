/**
 * nsnet as a CNI plugin against Debian's bridge + host-local, as a runtime
 * runs them: one attachment added and deleted, each verb a whole plugin
 * process (`CNI_COMMAND`, the config on standard input), the bridge kept up
 * by another attachment (warm). The same network both ways: a bridge with
 * the gateway, one IPv4 /24, a default route, no masquerading.
 *
 * nsnet runs through what `nsnet cni install` writes: a launcher of a
 * bundle made for the run (`deno bundle`, as `deno task bundle`), and of the
 * source. Namespaces are made and removed untimed; each round waits 100 ms
 * for the kernel's deferred namespace cleanup. Bridges, leases and the IPAM
 * store are removed at the end.
 *
 *   deno run --allow-all bench/compare_cni_plugin.ts [ROUNDS]
 */
import { launcherScript } from "../lib/cni/plugin/install.ts";
import { newNS } from "../lib/netns/create.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { unmountNS } from "../lib/netns/teardown.ts";

const rounds = Number(Deno.args[0] ?? 20);
const DEBIAN = "/usr/lib/cni";
const SETTLE_MS = 100;
const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const work = Deno.makeTempDirSync({ prefix: "nsnet-bench-cni-plugin-" });

interface Contender {
  name: string;
  plugin: string;
  config: Record<string, unknown>;
  bridge: string;
}

async function exec(
  plugin: string,
  command: string,
  id: string,
  netns: string,
  config: Record<string, unknown>,
): Promise<void> {
  const child = new Deno.Command(plugin, {
    env: {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: command,
      CNI_CONTAINERID: id,
      CNI_NETNS: netns,
      CNI_IFNAME: "eth0",
      CNI_PATH: DEBIAN,
    },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(config)));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `${plugin} ${command}: ${new TextDecoder().decode(out.stdout)}${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function launcher(
  name: string,
  target: string,
  kind: "bundle" | "source",
): string {
  const path = `${work}/${name}`;
  Deno.writeTextFileSync(
    path,
    launcherScript(Deno.execPath(), target, kind, root),
  );
  Deno.chmodSync(path, 0o755);
  return path;
}

// A bundle of this tree, as `deno task bundle` makes it.
const bundleDir = `${work}/bundle`;
const bundled = new Deno.Command(Deno.execPath(), {
  cwd: root,
  args: [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--code-splitting",
    "--outdir",
    bundleDir,
    `${root}/cli.ts`,
  ],
  stdout: "null",
  stderr: "piped",
}).outputSync();
if (!bundled.success) {
  throw new Error(
    `deno bundle failed: ${new TextDecoder().decode(bundled.stderr)}`,
  );
}

const nsnetConfig = (
  bridge: string,
  third: number,
): Record<string, unknown> => ({
  cniVersion: "1.0.0",
  name: `bench-${bridge}`,
  type: "nsnet",
  bridge,
  subnets: [`10.217.${third}.0/24`],
  isGateway: true,
  dataDir: `${work}/nsnet-${bridge}`,
});

const contenders: Contender[] = [
  {
    name: "Debian bridge + host-local 1.1.1",
    plugin: `${DEBIAN}/bridge`,
    bridge: "nsbcdeb0",
    config: {
      cniVersion: "1.0.0",
      name: "bench-deb",
      type: "bridge",
      bridge: "nsbcdeb0",
      isGateway: true,
      ipam: {
        type: "host-local",
        dataDir: `${work}/leases`,
        ranges: [[{ subnet: "10.217.0.0/24" }]],
        routes: [{ dst: "0.0.0.0/0" }],
      },
    },
  },
  {
    name: "nsnet plugin (bundle launcher)",
    plugin: launcher("nsnet-bundle", `${bundleDir}/cli.js`, "bundle"),
    bridge: "nsbcnb0",
    config: nsnetConfig("nsbcnb0", 1),
  },
  {
    name: "nsnet plugin (source launcher)",
    plugin: launcher("nsnet-source", `${root}/cli.ts`, "source"),
    bridge: "nsbcns0",
    config: nsnetConfig("nsbcns0", 2),
  },
];

const forward = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward");
const keepers: { contender: Contender; ns: NetNS }[] = [];
const times = new Map<string, { add: number[]; del: number[] }>();
try {
  // Warm: one attachment per contender keeps its bridge up.
  for (const contender of contenders) {
    const ns = newNS();
    keepers.push({ contender, ns });
    await exec(contender.plugin, "ADD", "keeper", ns.path, contender.config);
    times.set(contender.name, { add: [], del: [] });
  }
  for (let round = 0; round < rounds + 1; round++) {
    for (const contender of contenders) {
      const ns = newNS();
      try {
        const id = `bench-${round}`;
        const t0 = performance.now();
        await exec(contender.plugin, "ADD", id, ns.path, contender.config);
        const t1 = performance.now();
        await exec(contender.plugin, "DEL", id, ns.path, contender.config);
        const t2 = performance.now();
        if (round > 0) { // round 0 warms the caches
          times.get(contender.name)!.add.push(t1 - t0);
          times.get(contender.name)!.del.push(t2 - t1);
        }
      } finally {
        unmountNS(ns);
      }
      await new Promise((r) => setTimeout(r, SETTLE_MS));
    }
  }
} finally {
  for (const { contender, ns } of keepers) {
    await exec(contender.plugin, "DEL", "keeper", ns.path, contender.config)
      .catch(() => {});
    unmountNS(ns);
  }
  for (const contender of contenders) {
    new Deno.Command("ip", {
      args: ["link", "del", contender.bridge],
      stderr: "null",
    }).outputSync();
  }
  Deno.writeTextFileSync("/proc/sys/net/ipv4/ip_forward", forward);
  Deno.removeSync(work, { recursive: true });
}

const base = times.get(contenders[0]!.name)!;
const baseTotal = median(base.add) + median(base.del);
console.log(
  `ADD+DEL of one attachment, whole plugin processes, median of ${rounds} rounds (warm bridge)`,
);
console.log("| contender | ADD ms | DEL ms | ADD+DEL ms | ÷ Debian |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const contender of contenders) {
  const t = times.get(contender.name)!;
  const add = median(t.add);
  const del = median(t.del);
  console.log(
    `| ${contender.name} | ${add.toFixed(1)} | ${del.toFixed(1)} | ${
      (add + del).toFixed(1)
    } | ${((add + del) / baseTotal).toFixed(2)}× |`,
  );
}
