/**
 * The userspace forwarder: a server inside a fresh namespace, published on
 * the host's loopback, answers a client on the host. Only 127.0.0.1 and
 * addresses inside namespaces made for the test are used.
 */
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
} from "./_assert.ts";
import { nsTest, threadNetns, withNamespaces } from "./_helpers.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { PortConflictError } from "../lib/ports/errors.ts";
import { startForwarder } from "../lib/ports/forwarder.ts";
import type { PortMapping } from "../lib/ports/spec.ts";
import { ask, echoServer, readAll } from "./_fixtures/tcp.ts";
import { loopbackUp } from "./_fixtures/veth.ts";
import { udpAsk, udpEcho } from "./_fixtures/udp.ts";
import * as dgram from "node:dgram";

function tcp(hostPort: number, sandboxPort: number): PortMapping {
  return { protocol: "tcp", hostIp: "127.0.0.1", hostPort, sandboxPort };
}

nsTest(
  "startForwarder publishes a sandbox port on the host's loopback",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      loopbackUp(ns!);
      const server = echoServer(ns!, "from-sandbox:");
      const forwarder = await startForwarder({
        ns: ns!,
        sandboxAddress: "127.0.0.1",
        mappings: [tcp(0, server.port)],
      });
      try {
        const hostPort = forwarder.mappings[0]!.hostPort;
        assertNotEquals(hostPort, 0);
        assertEquals(await ask(hostPort, "hello"), "from-sandbox:hello");
        // Without the forwarder the sandbox's port is not on the host.
        await assertRejects(
          () => Deno.connect({ hostname: "127.0.0.1", port: server.port }),
          Deno.errors.ConnectionRefused,
        );
        assertEquals(
          forwarder.threadNetns,
          ns!.run(() => threadNetns()),
          "forwarder thread is inside the sandbox's namespace",
        );
      } finally {
        await forwarder.close();
        await server.close();
      }
    });
  },
);

nsTest(
  "startForwarder handles concurrent connections and large transfers",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      loopbackUp(ns!);
      const server = echoServer(ns!);
      const forwarder = await startForwarder({
        nsPath: ns!.path,
        sandboxAddress: "127.0.0.1",
        mappings: [tcp(0, server.port)],
      });
      try {
        const hostPort = forwarder.mappings[0]!.hostPort;
        const big = "x".repeat(1 << 20);
        const answers = await Promise.all([
          ask(hostPort, big),
          ...Array.from({ length: 20 }, (_, i) => ask(hostPort, `client ${i}`)),
        ]);
        assertEquals(answers[0]!.length, big.length);
        for (let i = 0; i < 20; i++) {
          assertEquals(answers[i + 1], `client ${i}`);
        }
      } finally {
        await forwarder.close();
        await server.close();
      }
    });
  },
);

nsTest(
  "startForwarder publishes a port range, one listener per port",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      loopbackUp(ns!);
      const servers = [echoServer(ns!, "a:"), echoServer(ns!, "b:")];
      const forwarder = await startForwarder({
        ns: ns!,
        sandboxAddress: "127.0.0.1",
        mappings: servers.map((s) => tcp(0, s.port)),
      });
      try {
        const [a, b] = forwarder.mappings;
        assertEquals(await ask(a!.hostPort, "1"), "a:1");
        assertEquals(await ask(b!.hostPort, "2"), "b:2");
      } finally {
        await forwarder.close();
        for (const server of servers) await server.close();
      }
    });
  },
);

nsTest("Forwarder.close frees the host port and is idempotent", async () => {
  await withNamespaces(1, async ([ns]) => {
    loopbackUp(ns!);
    const server = echoServer(ns!);
    const forwarder = await startForwarder({
      ns: ns!,
      sandboxAddress: "127.0.0.1",
      mappings: [tcp(0, server.port)],
    });
    const hostPort = forwarder.mappings[0]!.hostPort;
    await forwarder.close();
    await forwarder.close();
    await server.close();
    const again = Deno.listen({ hostname: "127.0.0.1", port: hostPort });
    again.close();
    await assertRejects(
      () => Deno.connect({ hostname: "127.0.0.1", port: hostPort }),
      Deno.errors.ConnectionRefused,
    );
  });
});

nsTest("Forwarder.close ends the connections it forwards", async () => {
  await withNamespaces(1, async ([ns]) => {
    loopbackUp(ns!);
    const server = echoServer(ns!);
    const forwarder = await startForwarder({
      ns: ns!,
      sandboxAddress: "127.0.0.1",
      mappings: [tcp(0, server.port)],
    });
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: forwarder.mappings[0]!.hostPort,
    });
    try {
      await conn.write(new TextEncoder().encode("ping"));
      const buffer = new Uint8Array(16);
      assertEquals(await conn.read(buffer), 4);
      await forwarder.close();
      // Closed by the forwarder: end of stream (or a reset).
      const after = await conn.read(buffer).catch(() => null);
      assertEquals(after, null);
    } finally {
      conn.close();
      await forwarder.close();
      await server.close();
    }
  });
});

nsTest("startForwarder names a host port already in use", async () => {
  await withNamespaces(1, async ([ns]) => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = taken.addr.port;
      const error = await assertRejects(
        () =>
          startForwarder({
            ns: ns!,
            sandboxAddress: "127.0.0.1",
            mappings: [tcp(0, 81), tcp(port, 80)],
          }),
        PortConflictError,
        `host port ${port}/tcp on 127.0.0.1 is already in use`,
      );
      assertEquals(error.reason, "in-use");
      assertEquals(error.port, port);
    } finally {
      taken.close();
    }
  });
});

nsTest(
  "startForwarder closes a client whose sandbox port is closed",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      loopbackUp(ns!);
      const forwarder = await startForwarder({
        ns: ns!,
        sandboxAddress: "127.0.0.1",
        mappings: [tcp(0, 9)],
      });
      try {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: forwarder.mappings[0]!.hostPort,
        });
        try {
          assertEquals(await readAll(conn), "");
        } finally {
          conn.close();
        }
      } finally {
        await forwarder.close();
      }
    });
  },
);

nsTest(
  "startForwarder refuses bad options before starting a thread",
  async () => {
    await assertRejects(
      () =>
        startForwarder({
          nsPath: "/nonexistent",
          sandboxAddress: "sandbox.local",
          mappings: [tcp(0, 80)],
        }),
      InvalidArgumentError,
      "IP address",
    );
    await assertRejects(
      () =>
        startForwarder({ sandboxAddress: "127.0.0.1", mappings: [tcp(0, 80)] }),
      InvalidArgumentError,
      "exactly one",
    );
    const error = await assertRejects(() =>
      startForwarder({
        nsPath: "/nonexistent/netns",
        sandboxAddress: "127.0.0.1",
        mappings: [tcp(0, 80)],
      })
    );
    assert(error.message.includes("open /nonexistent/netns"), error.message);
  },
);

nsTest(
  "startForwarder forwards UDP without --unstable-net, each answer to its own client",
  async () => {
    // This test runs without --unstable-net: UDP goes through node:dgram.
    assertEquals(typeof Deno.listenDatagram, "undefined");
    await withNamespaces(1, async ([ns]) => {
      loopbackUp(ns!);
      // Only on the namespace's loopback: an answer proves the forwarder's
      // session socket was made inside (the bind in a Worker that entered it).
      const server = await udpEcho(
        (command) => ns!.run(() => command.spawn()),
        [],
        "127.0.0.1",
      );
      const forwarder = await startForwarder({
        ns: ns!,
        sandboxAddress: "127.0.0.1",
        mappings: [{
          protocol: "udp",
          hostIp: "127.0.0.1",
          hostPort: 0,
          sandboxPort: server.port,
        }],
        udpIdleMs: 500,
      });
      try {
        const port = forwarder.mappings[0]!.hostPort;
        const [a, b] = await Promise.all([
          udpAsk("127.0.0.1", port, ["a1", "a2"]),
          udpAsk("127.0.0.1", port, ["b1", "b2"]),
        ]);
        assertEquals(a, ["udp:a1 from 127.0.0.1", "udp:a2 from 127.0.0.1"]);
        assertEquals(b, ["udp:b1 from 127.0.0.1", "udp:b2 from 127.0.0.1"]);
        // After the idle time the sessions are gone; a new client still works.
        await new Promise((r) => setTimeout(r, 700));
        assertEquals(await udpAsk("127.0.0.1", port, ["c"]), [
          "udp:c from 127.0.0.1",
        ]);
      } finally {
        await forwarder.close();
        await server.close();
      }
      // Closed: the host port is free again.
      const again = dgram.createSocket("udp4");
      await new Promise<void>((resolve, reject) => {
        again.once("error", reject);
        again.bind(
          { port: forwarder.mappings[0]!.hostPort, address: "127.0.0.1" },
          () => resolve(),
        );
      });
      await new Promise<void>((resolve) => again.close(() => resolve()));
    });
  },
);

nsTest("startForwarder names a UDP host port in use", async () => {
  const taken = dgram.createSocket("udp4");
  await new Promise<void>((resolve) =>
    taken.bind({ port: 0, address: "127.0.0.1" }, () => resolve())
  );
  try {
    const port = taken.address().port;
    const error = await assertRejects(() =>
      startForwarder({
        nsPath: "/proc/self/ns/net",
        sandboxAddress: "127.0.0.1",
        mappings: [{
          protocol: "udp",
          hostIp: "127.0.0.1",
          hostPort: port,
          sandboxPort: 53,
        }],
      })
    );
    assert(error instanceof PortConflictError, String(error));
    assertEquals(
      error.message.startsWith(
        `host port ${port}/udp on 127.0.0.1 is already in use`,
      ),
      true,
      error.message,
    );
  } finally {
    await new Promise<void>((resolve) => taken.close(() => resolve()));
  }
});
