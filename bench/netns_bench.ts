/**
 * `deno bench` for namespace lifecycle: one create+delete per iteration.
 * Run as root: deno task bench.
 */
import {
  bareCreateDelete,
  ipCreateDelete,
  nsnetCreateDelete,
  prepare,
} from "./_netns_contenders.ts";

prepare();
let n = 0;
const name = (): string => `nsnet-bench-${Deno.pid}-${n++}`;

Deno.bench(
  "netns create+delete: nsnet",
  { group: "netns", baseline: true },
  () => {
    nsnetCreateDelete(name());
  },
);

Deno.bench("netns create+delete: bare FFI floor", { group: "netns" }, () => {
  bareCreateDelete(name());
});

Deno.bench(
  "netns create+delete: ip netns add/del",
  { group: "netns", n: 50 },
  () => {
    ipCreateDelete(name());
  },
);
