/**
 * nsnet's worker modules are found however nsnet is run: every one is
 * listed, compiled in and bundled by the tasks, found from source, and found
 * by a bundled program that has them beside it.
 */
import { assert, assertEquals } from "./_assert.ts";
import { run } from "./_helpers.ts";
import { WORKER_MODULES, workerUrl } from "../lib/worker.ts";

const LIB = new URL("../lib/", import.meta.url);
const TASKS = JSON.parse(
  Deno.readTextFileSync(new URL("../deno.json", import.meta.url)),
).tasks as Record<string, string>;

/** Every `lib/AREA/_NAME_worker.ts` in the tree, as `AREA/_NAME_worker`. */
function workersInTree(): string[] {
  const found: string[] = [];
  for (const area of Deno.readDirSync(LIB)) {
    if (!area.isDirectory) continue;
    for (const file of Deno.readDirSync(new URL(`${area.name}/`, LIB))) {
      const match = /^(_\w+_worker)\.ts$/.exec(file.name);
      if (match) found.push(`${area.name}/${match[1]}`);
    }
  }
  return found.sort();
}

Deno.test("every worker module is listed, compiled in and bundled by the tasks", () => {
  assertEquals([...WORKER_MODULES].sort(), workersInTree());
  const names = WORKER_MODULES.map((w) => w.slice(w.lastIndexOf("/") + 1));
  assertEquals(new Set(names).size, names.length, "bundled names collide");
  for (const worker of WORKER_MODULES) {
    assert(
      TASKS.compile!.includes(`--include lib/${worker}.ts`),
      `deno task compile does not --include lib/${worker}.ts`,
    );
    assert(
      TASKS.bundle!.includes(`--outdir out/bundle lib/${worker}.ts`),
      `deno task bundle does not bundle lib/${worker}.ts`,
    );
  }
});

Deno.test("from source, workerUrl is each worker's .ts file", () => {
  for (const worker of WORKER_MODULES) {
    const url = workerUrl(worker);
    assertEquals(url.href, new URL(`${worker}.ts`, LIB).href);
    assert(Deno.statSync(url).isFile, `${url} is missing`);
  }
});

Deno.test("a bundled program forwards a port through the forwarder worker bundled beside it", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "nsnet-worker-bundle-" });
  const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    for await (const conn of echo) {
      const buffer = new Uint8Array(64);
      const n = await conn.read(buffer);
      await conn.write(buffer.subarray(0, n ?? 0));
      conn.close();
    }
  })();
  try {
    const forwarder = new URL("../lib/ports/forwarder.ts", import.meta.url);
    // The forwarder's thread enters this very namespace: it needs no other.
    Deno.writeTextFileSync(
      `${dir}/program.ts`,
      `import { startForwarder } from ${JSON.stringify(forwarder.href)};
const forwarder = await startForwarder({
  nsPath: "/proc/self/ns/net",
  sandboxAddress: "127.0.0.1",
  mappings: [{ hostIp: "127.0.0.1", hostPort: 0, sandboxPort: ${echo.addr.port}, protocol: "tcp" }],
});
const conn = await Deno.connect({ hostname: "127.0.0.1", port: forwarder.mappings[0].hostPort });
await conn.write(new TextEncoder().encode("through"));
const buffer = new Uint8Array(64);
const n = await conn.read(buffer);
conn.close();
await forwarder.close();
console.log(new TextDecoder().decode(buffer.subarray(0, n ?? 0)));
`,
    );
    const out = `${dir}/out`;
    const bundle = (...args: string[]): string =>
      run(Deno.execPath(), "bundle", "--quiet", "--platform", "deno", ...args);
    bundle("--code-splitting", "--outdir", out, `${dir}/program.ts`);
    for (const worker of WORKER_MODULES) {
      bundle("--outdir", out, new URL(`${worker}.ts`, LIB).pathname);
    }
    // Not outputSync: this process's loop must stay free to serve the echo.
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--quiet", `${out}/program.js`],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    assertEquals(result.code, 0, stderr);
    assertEquals(new TextDecoder().decode(result.stdout).trim(), "through");
  } finally {
    echo.close();
    await served.catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});
