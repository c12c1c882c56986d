/**
 * A `deno test` against a small network: a server on node `server`, a
 * client on node `client`, and between them a link that is slow (8 Mbit/s)
 * and lossy (2% both ways). The test asserts what the client sees: every
 * byte arrives, intact, and no faster than the link allows.
 *
 * Run as root (namespaces need it):
 *
 * ```sh
 * deno test --allow-all examples/lab_test.ts
 * ```
 *
 * Unprivileged, the same test runs inside nsnet's user namespace:
 * `nsnet unshare -- deno test --allow-all examples/lab_test.ts`.
 *
 * @module
 */
import { ok, strictEqual } from "node:assert";
import { Lab } from "@nsnet/nsnet/lab";

const SIZE = 1 << 20; // 1 MiB
const RATE_BYTES_PER_SECOND = 8e6 / 8;

/** The service under test: sends SIZE bytes (a counting pattern) to each client. */
async function serve(listener: Deno.TcpListener): Promise<void> {
  const conn = await listener.accept();
  const payload = new Uint8Array(SIZE).map((_, i) => i % 251);
  let written = 0;
  while (written < SIZE) written += await conn.write(payload.subarray(written));
  conn.close();
}

Deno.test("a download over a slow, lossy link arrives whole, at the link's pace", async () => {
  await using lab = await Lab.create({
    nodes: { client: {}, server: {} },
    links: [{ ends: ["client", "server"], rate: "8mbit", loss: "2%" }],
  });
  using listener = lab.node("server").listen({ port: 9000 });
  const served = serve(listener);

  const started = performance.now();
  const conn = await lab.node("client").connect({
    hostname: lab.address("server"),
    port: 9000,
  });
  const received = new Uint8Array(
    await new Response(conn.readable).arrayBuffer(),
  );
  const seconds = (performance.now() - started) / 1000;
  await served;

  // TCP hides the loss: every byte, in order.
  strictEqual(received.length, SIZE);
  ok(received.every((byte, i) => byte === i % 251), "the data is intact");
  // The rate shows: 1 MiB at 1 MB/s takes about a second, never much less.
  const floor = (0.8 * SIZE) / RATE_BYTES_PER_SECOND;
  ok(seconds >= floor, `took ${seconds.toFixed(2)} s, expected >= ${floor}`);
  // And the link counted it: the server's end sent at least the payload.
  const sent = lab.link("client", "server").stats().ends
    .find((end) => end.node === "server")!.stats!.txBytes;
  ok(sent >= SIZE, `the server's end sent ${sent} bytes`);
});
