/**
 * A `deno test` that starts an HTTP server inside a sandbox and tests it from
 * the host, through a published port, as a service under test would be.
 *
 * Run as root (namespaces need it):
 *
 * ```sh
 * deno test --allow-all examples/http_server_test.ts
 * ```
 *
 * Unprivileged, the same test runs inside nsnet's user namespace:
 * `nsnet unshare -- deno test --allow-all examples/http_server_test.ts`.
 *
 * @module
 */
import { strictEqual } from "node:assert";
import { Sandbox } from "@nsnet/nsnet";

/** The service under test: answers every request with its path. */
const SERVER = `
Deno.serve({
  hostname: "0.0.0.0",
  port: 8080,
  onListen: () => console.log("listening"),
}, (request) => new Response("hello from " + new URL(request.url).pathname));
`;

Deno.test("the server in the sandbox answers on its published port", async () => {
  // Host port 18080 on the host's loopback leads to port 8080 in the sandbox.
  await using sandbox = await Sandbox.create({
    ports: ["127.0.0.1:18080:8080"],
  });
  // The server runs inside the sandbox, as a command of its own.
  const server = sandbox.spawn(Deno.execPath(), {
    args: ["eval", SERVER],
    stdout: "piped",
  });
  try {
    // Wait until it listens: its first line of output says so.
    const reader = server.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    const { value } = await reader.read();
    strictEqual(value?.trim(), "listening");
    reader.releaseLock();

    const response = await fetch("http://127.0.0.1:18080/ping");
    strictEqual(response.status, 200);
    strictEqual(await response.text(), "hello from /ping");
  } finally {
    server.kill();
    await server.status;
    await server.stdout.cancel().catch(() => {});
  }
});
