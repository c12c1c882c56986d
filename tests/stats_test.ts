/**
 * netIO (S14) and `nsnet stats`: a real TCP connection between two
 * namespaces wired with nsnet's own netlink calls, and the counters it moves.
 */
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { nsTest, run, withNamespaces } from "./_helpers.ts";
import { statsCommand } from "../lib/cli/stats.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import {
  addAddress,
  addRoute,
  createLink,
  LINK_STATS_FIELDS,
  LinkNotFoundError,
  NetlinkSocket,
  setLink,
} from "../lib/netlink/mod.ts";
import { netIO } from "../lib/stats.ts";
import { nameOf } from "./_fixtures/netns.ts";
import { cli } from "./_fixtures/cli.ts";

/** Two namespaces joined by a veth, 10.55.0.1 ↔ 10.55.0.2, each with a default route. */
function wire(a: NetNS, b: NetNS): void {
  using sockA = NetlinkSocket.open(a);
  using sockB = NetlinkSocket.open(b);
  createLink(sockA, {
    kind: "veth",
    name: "eth0",
    peer: { name: "eth0", netns: b },
  });
  for (
    const [sock, self, peer] of [[sockA, "10.55.0.1", "10.55.0.2"], [
      sockB,
      "10.55.0.2",
      "10.55.0.1",
    ]] as const
  ) {
    setLink(sock, "lo", { up: true });
    setLink(sock, "eth0", { up: true });
    addAddress(sock, "eth0", `${self}/24`);
    addRoute(sock, { destination: "default", gateway: peer });
  }
}

async function readAll(conn: Deno.Conn): Promise<number> {
  const buffer = new Uint8Array(64 * 1024);
  let total = 0;
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) return total;
    total += n;
  }
}

/** Sends `size` bytes over TCP from `a` to `b` (10.55.0.2) and returns what arrived. */
async function sendOver(a: NetNS, b: NetNS, size: number): Promise<number> {
  const port = 40000 + Math.floor(Math.random() * 20000);
  const listener = b.run(() => Deno.listen({ hostname: "10.55.0.2", port }));
  try {
    // Deno.connect makes its socket at call time, inside the namespace; await it outside.
    const { connecting } = a.run(() => ({
      connecting: Deno.connect({ hostname: "10.55.0.2", port }),
    }));
    const [client, server] = await Promise.all([connecting, listener.accept()]);
    const payload = new Uint8Array(size).fill(7);
    const received = readAll(server);
    let written = 0;
    while (written < payload.length) {
      written += await client.write(payload.subarray(written));
    }
    client.closeWrite();
    const total = await received;
    client.close();
    server.close();
    return total;
  } finally {
    listener.close();
  }
}

nsTest(
  "netIO: a TCP connection between two namespaces moves the counters by at least its bytes",
  async () => {
    await withNamespaces(2, async ([a, b]) => {
      wire(a!, b!);
      const before = netIO(a!, ["eth0"])!;
      const peerBefore = netIO(b!)!;
      assertEquals(await sendOver(a!, b!, 1 << 20), 1 << 20);
      const after = netIO(a!, ["eth0"])!;
      const peerAfter = netIO(b!)!;
      assert(
        after.txBytes - before.txBytes >= 1 << 20,
        `sent ${after.txBytes - before.txBytes}`,
      );
      assert(peerAfter.rxBytes - peerBefore.rxBytes >= 1 << 20);
      assertEquals(after.txBytes, after.interfaces.eth0!.txBytes);
      assert(
        after.interfaces.eth0!.txPackets > before.interfaces.eth0!.txPackets,
      );
      assertEquals(Object.keys(after.interfaces), ["eth0"]);
      assertEquals(
        Object.keys(peerAfter.interfaces),
        ["eth0"],
        "loopback is left out",
      );
    });
  },
);

nsTest(
  "netIO: no namespace means no statistics; a missing interface is an error",
  async () => {
    assertEquals(netIO(undefined), undefined);
    assertEquals(netIO(undefined, ["eth0"]), undefined);
    await withNamespaces(1, ([ns]) => {
      assertEquals(netIO(ns!), { rxBytes: 0, txBytes: 0, interfaces: {} });
      assertThrows(() => netIO(ns!, ["eth7"]), LinkNotFoundError);
    });
  },
);

nsTest("netIO: sums match ip -s over the listed interfaces", async () => {
  await withNamespaces(2, async ([a, b]) => {
    wire(a!, b!);
    await sendOver(a!, b!, 64 * 1024);
    const sum = (dir: "rx" | "tx"): number =>
      JSON.parse(run("ip", "-n", nameOf(a!), "-j", "-s", "link", "show"))
        .reduce(
          (n: number, l: { stats64: Record<string, { bytes: number }> }) =>
            n + l.stats64[dir]!.bytes,
          0,
        );
    // Counters may move between reads (IPv6 neighbour discovery): bracket ours with two ip reads.
    const [rx0, tx0] = [sum("rx"), sum("tx")];
    const io = netIO(a!, ["eth0", "lo"])!;
    const [rx1, tx1] = [sum("rx"), sum("tx")];
    assert(
      io.rxBytes >= rx0 && io.rxBytes <= rx1,
      `rx ${rx0} <= ${io.rxBytes} <= ${rx1}`,
    );
    assert(
      io.txBytes >= tx0 && io.txBytes <= tx1,
      `tx ${tx0} <= ${io.txBytes} <= ${tx1}`,
    );
    assert(io.txBytes >= 64 * 1024);
    assertEquals(Object.keys(io.interfaces), ["eth0", "lo"]);
  });
});

nsTest(
  "nsnet stats --json: rxBytes, txBytes and every counter per interface",
  async () => {
    await withNamespaces(2, async ([a, b]) => {
      wire(a!, b!);
      const out = JSON.parse(
        await cli(statsCommand(), "stats", nameOf(a!), "--json"),
      );
      assertEquals(Object.keys(out), ["rxBytes", "txBytes", "interfaces"]);
      assertEquals(Object.keys(out.interfaces), ["eth0"]);
      assertEquals(Object.keys(out.interfaces.eth0), [...LINK_STATS_FIELDS]);
      const only = JSON.parse(
        await cli(
          statsCommand(),
          "stats",
          a!.path,
          "--json",
          "--interface",
          "lo",
          "eth0",
        ),
      );
      assertEquals(Object.keys(only.interfaces), ["lo", "eth0"]);
      const table = (await cli(statsCommand(), "stats", nameOf(a!))).split(
        "\n",
      );
      assert(table[0]!.startsWith("INTERFACE  RX BYTES  TX BYTES"));
      assertEquals(table.length, 3);
      assert(table[2]!.startsWith("total"));
    });
  },
);

nsTest(
  "nsnet stats --watch: prints rates per interface until interrupted",
  async () => {
    await withNamespaces(2, async ([a, b]) => {
      wire(a!, b!);
      const module = new URL("../lib/cli/stats.ts", import.meta.url).href;
      const code = `
      import { Command } from "@commander-js/extra-typings";
      import { statsCommand } from "${module}";
      await new Command("nsnet").addCommand(statsCommand())
        .parseAsync(["stats", "${
        nameOf(a!)
      }", "--watch", "0.2"], { from: "user" });
      console.log("stopped");`;
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", "--quiet", code],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      child.kill("SIGINT");
      const out = await child.output();
      const text = new TextDecoder().decode(out.stdout);
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      const lines = text.trim().split("\n");
      assert(
        lines.filter((l) => l.startsWith("INTERFACE  RX B/s")).length >= 2,
        text,
      );
      assert(lines.some((l) => l.startsWith("eth0 ")), text);
      assertEquals(lines.at(-1), "stopped");
    });
  },
);
