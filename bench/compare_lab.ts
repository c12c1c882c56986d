/**
 * Side by side in one run: a lab brought up and torn down by nsnet in-process
 * (`Lab.create` + `remove`), by the equivalent hand-written `ip`/`tc` shell
 * script (written here from the same plan: bench/_lab_script.ts), and by the
 * `nsnet` CLI (`nsnet lab up FILE` and `nsnet lab down NAME`, each a
 * `deno run -A cli.ts` process). Two topologies: a 20-node chain (the 18 in
 * the middle are routers, every link rate-limited) and a 50-node star on one
 * rate-limited switch. Then the cost's growth: a 200-node chain against the
 * 20-node one, nsnet only (the script would need some 80,000 `ip route`
 * processes).
 *
 * Contenders take turns round by round, and each timed step is preceded by
 * an untimed pause, so that the kernel's deferred namespace cleanup from the
 * previous step (it holds RTNL meanwhile) does not land on the next one.
 *
 *   deno run --allow-all bench/compare_lab.ts [ROUNDS] [BIG_CHAIN]
 */
import { Lab } from "../lib/lab/mod.ts";
import { planLab } from "../lib/lab/plan.ts";
import type { LabSpec } from "../lib/lab/types.ts";
import {
  chainSpec,
  labDownScript,
  labUpScript,
  runScript,
  starSpec,
} from "./_lab_script.ts";

const rounds = Number(Deno.args[0] ?? 5);
const bigChain = Number(Deno.args[1] ?? 200);
/** Untimed pause before a lab goes up: the previous removal's deferred cleanup (veths: 15–25 ms each) ends first. */
const SETTLE_UP_MS = 1500;
/** Untimed pause before a lab is torn down. */
const SETTLE_DOWN_MS = 200;
const CLI = new URL("../cli.ts", import.meta.url).pathname;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function settle(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Up and down times of one round, ms. */
interface Times {
  up: number;
  down: number;
}

interface Contender {
  label: string;
  round(spec: LabSpec, name: string): Promise<Times>;
}

async function timed(
  settleMs: number,
  fn: () => Promise<unknown>,
): Promise<number> {
  await settle(settleMs);
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const nsnet: Contender = {
  label: "nsnet (in-process)",
  async round(spec, name): Promise<Times> {
    let lab: Lab | undefined;
    const up = await timed(
      SETTLE_UP_MS,
      async () => lab = await Lab.create(spec, { name }),
    );
    const down = await timed(SETTLE_DOWN_MS, () => lab!.remove());
    return { up, down };
  },
};

const script: Contender = {
  label: "ip/tc shell script",
  async round(spec, name): Promise<Times> {
    const plan = planLab(spec, name);
    const upScript = labUpScript(plan);
    const downScript = labDownScript(plan);
    let up: number;
    try {
      up = await timed(SETTLE_UP_MS, () => runScript(upScript));
    } catch (error) {
      await runScript(downScript).catch(() => {}); // what it made goes
      throw error;
    }
    const down = await timed(SETTLE_DOWN_MS, () => runScript(downScript));
    return { up, down };
  },
};

async function nsnetCli(...args: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CLI, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `nsnet ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

const specDir = Deno.makeTempDirSync({ prefix: "nsnet-bench-lab-" });
const cli: Contender = {
  label: "nsnet CLI (lab up/down)",
  async round(spec, name): Promise<Times> {
    const file = `${specDir}/${name}.json`;
    Deno.writeTextFileSync(file, JSON.stringify(spec));
    let up: number;
    try {
      up = await timed(
        SETTLE_UP_MS,
        () => nsnetCli("lab", "up", file, "--name", name),
      );
    } catch (error) {
      await nsnetCli("lab", "down", name).catch(() => {});
      throw error;
    }
    const down = await timed(
      SETTLE_DOWN_MS,
      () => nsnetCli("lab", "down", name),
    );
    return { up, down };
  },
};

const contenders = [nsnet, script, cli];
const topologies: [string, LabSpec][] = [
  ["20-node chain (18 routers, 19 rate-limited links)", chainSpec(20)],
  ["50-node star (one rate-limited switch)", starSpec(50)],
];

const samples = new Map<string, Map<string, Times[]>>();
let counter = 0;
const labName = (): string => `b${Deno.pid % 10000}x${counter++}`;
try {
  // One untimed warm-up of each, so that no contender pays for first loads.
  for (const contender of contenders) {
    await contender.round(chainSpec(3), labName());
  }
  for (let round = 0; round < rounds; round++) {
    for (const [topology, spec] of topologies) {
      const byContender = samples.get(topology) ?? new Map<string, Times[]>();
      samples.set(topology, byContender);
      // Each round another contender goes first.
      const order = contenders.map((_, i) =>
        contenders[(i + round) % contenders.length]!
      );
      for (const contender of order) {
        const times = await contender.round(spec, labName());
        byContender.set(contender.label, [
          ...byContender.get(contender.label) ?? [],
          times,
        ]);
      }
    }
  }
  // Growth: the 20-node chain against a bigChain-node one, nsnet only.
  const small: number[] = [];
  const big: number[] = [];
  for (let round = 0; round < Math.max(3, Math.ceil(rounds / 2)); round++) {
    const s = await nsnet.round(chainSpec(20), labName());
    small.push(s.up + s.down);
    const b = await nsnet.round(chainSpec(bigChain), labName());
    big.push(b.up + b.down);
  }

  const fmt = (ms: number): string => ms.toFixed(1);
  console.log(
    `### Lab up + down (median of ${rounds} rounds, ms; the script's and the CLI's are whole processes)\n`,
  );
  console.log(
    "| topology | contender | up ms | down ms | up + down ms | ÷ nsnet |",
  );
  console.log("|---|---|---:|---:|---:|---:|");
  const verdicts: string[] = [];
  for (const [topology, byContender] of samples) {
    const total = (label: string): number =>
      median(byContender.get(label)!.map((t) => t.up + t.down));
    const base = total(nsnet.label);
    for (const contender of contenders) {
      const times = byContender.get(contender.label)!;
      const up = median(times.map((t) => t.up));
      const down = median(times.map((t) => t.down));
      console.log(
        `| ${topology} | ${contender.label} | ${fmt(up)} | ${fmt(down)} | ${
          fmt(total(contender.label))
        } | ${(total(contender.label) / base).toFixed(1)}× |`,
      );
    }
    const ratio = total(script.label) / base;
    const upRatio = median(byContender.get(script.label)!.map((t) => t.up)) /
      median(byContender.get(nsnet.label)!.map((t) => t.up));
    const downRatio = median(byContender.get(script.label)!.map((t) =>
      t.down
    )) /
      median(byContender.get(nsnet.label)!.map((t) => t.down));
    verdicts.push(
      `- ${topology}: nsnet vs the ip/tc script: **${
        ratio.toFixed(1)
      }× faster** up + down (up ${upRatio.toFixed(1)}×, down ${
        downRatio.toFixed(1)
      }×; target ≥ 10×) ${ratio >= 10 ? "✓" : "✗"}; the CLI takes ${
        (total(cli.label) / base).toFixed(1)
      }× nsnet's in-process time`,
    );
  }
  console.log();
  for (const verdict of verdicts) console.log(verdict);
  const growth = median(big) / median(small);
  console.log(
    `- growth: a ${bigChain}-node chain takes **${
      growth.toFixed(1)
    }×** the 20-node one (${fmt(median(big))} against ${
      fmt(median(small))
    } ms up + down, nsnet; target ≤ 12× for 10× the nodes) ${
      growth <= 12 ? "✓" : "✗"
    }`,
  );
} finally {
  Deno.removeSync(specDir, { recursive: true });
}
