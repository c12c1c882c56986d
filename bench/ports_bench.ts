/**
 * `deno bench` for port publishing: a round trip and a 1 MiB transfer
 * through the userspace forwarder against the same from inside the namespace
 * directly (`NetNS.connect`), a forwarder's start and stop, and parsing.
 * The namespace and its echo server are removed when the bench unloads.
 *
 * @module
 */

import { newNS } from "../lib/netns/create.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import { NetlinkSocket } from "../lib/netlink/socket.ts";
import { setLink } from "../lib/netlink/link.ts";
import { type Forwarder, startForwarder } from "../lib/ports/forwarder.ts";
import { parsePortSpecs } from "../lib/ports/spec.ts";

const ns = newNS();
const sock = NetlinkSocket.open(ns);
setLink(sock, "lo", { up: true });
sock.close();

const listener = ns.run(() => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
(async () => {
  for await (const conn of listener) {
    (async () => {
      const buffer = new Uint8Array(65536);
      try {
        for (;;) {
          const n = await conn.read(buffer);
          if (n === null) break;
          await conn.write(buffer.subarray(0, n));
        }
      } catch {
        /* closed */
      } finally {
        conn.close();
      }
    })();
  }
})().catch(() => {});

const forwarder: Forwarder = await startForwarder({
  ns,
  sandboxAddress: "127.0.0.1",
  mappings: [{
    protocol: "tcp",
    hostIp: "127.0.0.1",
    hostPort: 0,
    sandboxPort: listener.addr.port,
  }],
});
const hostPort = forwarder.mappings[0]!.hostPort;

globalThis.addEventListener("unload", () => {
  listener.close();
  forwarder.close();
  unmountNS(ns);
});

const MIB = new Uint8Array(1 << 20);

async function exchange(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  try {
    const writing = (async () => {
      let offset = 0;
      while (offset < data.length) {
        offset += await conn.write(data.subarray(offset));
      }
      await conn.closeWrite();
    })();
    const buffer = new Uint8Array(65536);
    let received = 0;
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      received += n;
    }
    await writing;
    if (received !== data.length) throw new Error(`got ${received} bytes`);
  } finally {
    conn.close();
  }
}

function viaForwarder(): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port: hostPort });
}

function direct(): Promise<Deno.TcpConn> {
  return ns.connect({ hostname: "127.0.0.1", port: listener.addr.port });
}

Deno.bench("connect + 1 byte round trip, through the forwarder", {
  group: "round trip",
}, async () => {
  await exchange(await viaForwarder(), MIB.subarray(0, 1));
});

Deno.bench("connect + 1 byte round trip, direct into the namespace", {
  group: "round trip",
  baseline: true,
}, async () => {
  await exchange(await direct(), MIB.subarray(0, 1));
});

Deno.bench("1 MiB echoed, through the forwarder", {
  group: "1 MiB",
}, async () => {
  await exchange(await viaForwarder(), MIB);
});

Deno.bench("1 MiB echoed, direct into the namespace", {
  group: "1 MiB",
  baseline: true,
}, async () => {
  await exchange(await direct(), MIB);
});

Deno.bench("startForwarder + close (one TCP port)", async () => {
  const f = await startForwarder({
    ns,
    sandboxAddress: "127.0.0.1",
    mappings: [{
      protocol: "tcp",
      hostIp: "127.0.0.1",
      hostPort: 0,
      sandboxPort: 9,
    }],
  });
  await f.close();
});

const SPECS = Array.from(
  { length: 100 },
  (_, i) => `127.0.0.1:${20000 + i * 10}-${20009 + i * 10}:80-89/tcp,udp`,
);

Deno.bench(
  "parsePortSpecs: 100 ranges of 10 ports, tcp+udp (2000 mappings)",
  () => {
    parsePortSpecs(SPECS);
  },
);
