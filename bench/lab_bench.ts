/**
 * `deno bench` for labs: a 20-node chain (routers in the middle, every link
 * rate-limited) brought up and torn down by `Lab.create` + `remove` (the
 * baseline) and by the equivalent `ip`/`tc` shell script written from the
 * same plan. Each iteration first waits, untimed, for the kernel's deferred
 * cleanup of the previous one. Run as root: deno task bench. The side by
 * side with the CLI and the switch star is bench/compare_lab.ts.
 */
import { Lab } from "../lib/lab/mod.ts";
import { planLab } from "../lib/lab/plan.ts";
import {
  chainSpec,
  labDownScript,
  labUpScript,
  runScript,
} from "./_lab_script.ts";

const spec = chainSpec(20);
let n = 0;
const name = (): string => `bb${Deno.pid % 10000}x${n++}`;
const settle = (): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, 500));

Deno.bench(
  "lab up+down, 20-node chain: nsnet Lab.create + remove",
  { group: "lab", baseline: true, n: 10, warmup: 1 },
  async (b) => {
    await settle();
    b.start();
    const lab = await Lab.create(spec, { name: name() });
    await lab.remove();
    b.end();
  },
);

Deno.bench(
  "lab up+down, 20-node chain: ip/tc shell script",
  { group: "lab", n: 5, warmup: 1 },
  async (b) => {
    const plan = planLab(spec, name());
    const up = labUpScript(plan);
    const down = labDownScript(plan);
    await settle();
    b.start();
    try {
      await runScript(up);
    } finally {
      await runScript(down);
    }
    b.end();
  },
);
