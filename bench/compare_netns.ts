/**
 * Side by side in one run: N named namespaces made and removed by nsnet, by
 * the bare-FFI floor, and by `ip netns add`/`del`, interleaved round by round
 * so that the kernel's deferred namespace cleanup weighs on all alike.
 * Prints per-namespace medians and the ratios the foundation issue targets.
 *
 *   deno run --allow-all bench/compare_netns.ts [ROUNDS] [PER_ROUND]
 */
import {
  bareCreateDelete,
  ipCreateDelete,
  nsnetCreateDelete,
  prepare,
} from "./_netns_contenders.ts";

const rounds = Number(Deno.args[0] ?? 15);
const perRound = Number(Deno.args[1] ?? 40);

type Contender = [string, (name: string) => void];
const contenders: Contender[] = [
  ["nsnet (in-process)", nsnetCreateDelete],
  ["bare FFI floor", bareCreateDelete],
  ["ip netns add+del", ipCreateDelete],
];

prepare();
let counter = 0;
const samples = new Map<string, number[]>(
  contenders.map(([label]) => [label, []]),
);
for (let round = 0; round < rounds; round++) {
  for (const [label, fn] of contenders) {
    const start = performance.now();
    for (let i = 0; i < perRound; i++) fn(`nsnet-cmp-${Deno.pid}-${counter++}`);
    samples.get(label)!.push((performance.now() - start) / perRound);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const nsnet = median(samples.get("nsnet (in-process)")!);
const floor = median(samples.get("bare FFI floor")!);
const ip = median(samples.get("ip netns add+del")!);
console.log(
  `### netns create+delete (${rounds} rounds × ${perRound} namespaces, median per namespace)\n`,
);
console.log("| contender | µs per namespace |");
console.log("|---|---:|");
for (const [label] of contenders) {
  console.log(
    `| ${label} | ${(median(samples.get(label)!) * 1000).toFixed(1)} |`,
  );
}
console.log();
console.log(
  `- nsnet vs ip netns add+del: **${
    (ip / nsnet).toFixed(1)
  }× faster** (target ≥ 5×)`,
);
console.log(
  `- nsnet vs bare FFI floor: **${
    (nsnet / floor).toFixed(2)
  }×** the floor's time (target ≤ 1.25×)`,
);
