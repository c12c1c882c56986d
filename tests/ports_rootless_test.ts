/**
 * The forwarder rootless: run as an unprivileged user inside its own user
 * namespace, it publishes a port of a network namespace that user namespace
 * owns on the host's loopback. Its thread enters the sandbox's namespace and
 * could never come back to the host's, which is why it is a dedicated Worker.
 */
import { assertEquals, assertNotEquals } from "./_assert.ts";
import { nsTest, run } from "./_helpers.ts";
import { asUser, bundleWorkers, rootlessEnv } from "./_rootless.ts";

const FORWARDER = new URL("../lib/ports/forwarder.ts", import.meta.url);

/** Runs as the user in a fresh user namespace, still in the host's network namespace. */
function script(deno: string): string {
  const server = `
const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(l.addr.port);
for await (const c of l) {
  const b = new Uint8Array(100);
  const n = await c.read(b);
  await c.write(new TextEncoder().encode("rootless:" + new TextDecoder().decode(b.subarray(0, n ?? 0))));
  c.close();
}`;
  return `
import { startForwarder } from "${FORWARDER}";
const sandbox = new Deno.Command("unshare", {
  args: ["--net", "sh", "-c", 'ip link set lo up && exec "$0" eval "$1"', ${
    JSON.stringify(deno)
  }, ${JSON.stringify(server)}],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const reader = sandbox.stdout.getReader();
const { value } = await reader.read();
reader.releaseLock();
const port = Number(new TextDecoder().decode(value).trim());
const nsPath = "/proc/" + sandbox.pid + "/ns/net";
const forwarder = await startForwarder({
  nsPath,
  sandboxAddress: "127.0.0.1",
  mappings: [{ protocol: "tcp", hostIp: "127.0.0.1", hostPort: 0, sandboxPort: port }],
});
const conn = await Deno.connect({ hostname: "127.0.0.1", port: forwarder.mappings[0].hostPort });
await conn.write(new TextEncoder().encode("hi"));
const buffer = new Uint8Array(100);
const n = await conn.read(buffer);
conn.close();
console.log(JSON.stringify({
  answer: new TextDecoder().decode(buffer.subarray(0, n ?? 0)),
  forwarderThread: forwarder.threadNetns,
  sandbox: Deno.readLinkSync(nsPath),
  mainThread: Deno.readLinkSync("/proc/thread-self/ns/net"),
}));
await forwarder.close();
sandbox.kill();
await sandbox.status;
await sandbox.stdout.cancel();
`;
}

nsTest(
  "startForwarder rootless publishes a user-owned namespace's port on the host's loopback",
  async () => {
    const env = rootlessEnv();
    const dir = Deno.makeTempDirSync({ prefix: "nsnet-ports-rootless-" });
    try {
      const source = `${dir}/forward.ts`;
      const bundle = `${dir}/forward.js`;
      Deno.writeTextFileSync(source, script(env.deno));
      // Bundled: the user may not be able to read the source tree.
      run(
        Deno.execPath(),
        "bundle",
        "--quiet",
        "--platform",
        "deno",
        "-o",
        bundle,
        source,
      );
      bundleWorkers(dir);
      Deno.chmodSync(dir, 0o755);
      Deno.chmodSync(bundle, 0o644);
      const out = await asUser([
        "unshare",
        "--user",
        "--map-root-user",
        env.deno,
        "run",
        "--allow-all",
        "--quiet",
        bundle,
      ]);
      assertEquals(out.code, 0, out.stderr);
      const result = JSON.parse(out.stdout.trim().split("\n").at(-1)!);
      assertEquals(result.answer, "rootless:hi");
      assertEquals(result.forwarderThread, result.sandbox);
      assertNotEquals(result.mainThread, result.sandbox);
      assertEquals(result.mainThread, Deno.readLinkSync("/proc/self/ns/net"));
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);
