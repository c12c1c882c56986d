import { assertEquals } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";

const MOD = new URL("../lib/sandbox/lifecycle.ts", import.meta.url).href;

/** One process creating `count` bridge sandboxes through the library, printing their addresses. */
function creator(tag: string, count: number): Deno.ChildProcess {
  const code = `
import { createSandbox } from "${MOD}";
const out = [];
for (let i = 0; i < ${count}; i++) {
  const r = await createSandbox({ name: "ipam-${tag}-" + i });
  out.push(r.status.interfaces.eth0.subnets[0].ipnet);
}
console.log(JSON.stringify(out));`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

function remover(names: string[]): Deno.ChildProcess {
  const code = `
import { removeSandbox } from "${MOD}";
for (const name of ${JSON.stringify(names)}) await removeSandbox(name);`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

nsTest(
  "200 bridge sandboxes made in parallel by 8 processes get 200 distinct addresses",
  async () => {
    const processes = 8;
    const each = 25;
    const names: string[] = [];
    for (let p = 0; p < processes; p++) {
      for (let i = 0; i < each; i++) names.push(`ipam-${p}-${i}`);
    }
    try {
      const outputs = await Promise.all(
        Array.from(
          { length: processes },
          (_, p) => creator(String(p), each).output(),
        ),
      );
      const addresses: string[] = [];
      for (const out of outputs) {
        assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
        addresses.push(...JSON.parse(new TextDecoder().decode(out.stdout)));
      }
      assertEquals(addresses.length, 200);
      assertEquals(
        new Set(addresses).size,
        200,
        "an address was handed out twice",
      );
    } finally {
      const chunks = Array.from(
        { length: processes },
        (_, p) => names.slice(p * each, (p + 1) * each),
      );
      const results = await Promise.all(
        chunks.map((chunk) => remover(chunk).output()),
      );
      for (const r of results) {
        assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
      }
    }
  },
);
