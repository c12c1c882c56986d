/**
 * Two sandboxes on nsnet's default bridge network talk over TCP; `ip` runs
 * inside one of them; both are gone when the block ends, even if it throws.
 *
 * Run as root:
 *
 * ```sh
 * deno run --allow-all examples/two_sandboxes.ts
 * ```
 *
 * Unprivileged, inside nsnet's user namespace (the sandboxes then live in
 * the shared rootless namespace):
 *
 * ```sh
 * nsnet unshare -- deno run --allow-all examples/two_sandboxes.ts
 * ```
 *
 * @module
 */
import { Sandbox } from "@nsnet/nsnet";

{
  await using server = await Sandbox.create();
  await using client = await Sandbox.create();
  const address = server.addresses[0]!.split("/")[0]!; // "10.89.0.2/24" -> "10.89.0.2"
  console.log(
    `${server.name} has ${address}, ${client.name} has ${client.addresses[0]}`,
  );

  // A listener in one sandbox, a connection from the other.
  const listener = server.listen({ hostname: "0.0.0.0", port: 7000 });
  const accepted = listener.accept();
  const conn = await client.connect({ hostname: address, port: 7000 });
  const peer = await accepted;
  await conn.write(new TextEncoder().encode("ping"));
  const buffer = new Uint8Array(4);
  await peer.read(buffer);
  console.log(`${server.name} received "${new TextDecoder().decode(buffer)}"`);
  conn.close();
  peer.close();
  listener.close();

  // Commands run inside too, with the sandbox's own resolv.conf.
  const ip = await client.output("ip", { args: ["-brief", "address"] });
  console.log(new TextDecoder().decode(ip.stdout).trimEnd());

  const stats = client.stats();
  console.log(
    `${client.name}: rx ${stats.rxBytes} bytes, tx ${stats.txBytes} bytes`,
  );
}
// Both sandboxes, their namespaces and their veths are gone here.
