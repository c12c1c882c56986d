/**
 * Root port publishing with nftables DNAT: a server inside a namespace made
 * for the test, reached through a veth pair, answers on the host's loopback.
 * Each test uses its own table and removes it, the veth and the namespace.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./_assert.ts";
import { nsTest, run, succeeds, withNamespaces } from "./_helpers.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import {
  emptyDnatState,
  enableRouteLocalnet,
  parseDnatState,
  publishDnatBatch,
  publishPortsDnat,
  readDnatState,
  unpublishDnatBatch,
  unpublishPortsDnat,
} from "../lib/ports/nftables_dnat.ts";
import { probeHostPorts } from "../lib/ports/probe.ts";
import type { PortMapping } from "../lib/ports/spec.ts";
import { ask, tagServer } from "./_fixtures/tcp.ts";
import { unwire, wire } from "./_fixtures/veth.ts";

const HAVE_NFT = succeeds("nft", "--version");

function tableName(): string {
  return `nsnet_ports_t${Deno.pid}_${Math.floor(Math.random() * 1e6)}`;
}

function dropTable(table: string): void {
  if (succeeds("nft", "list", "table", "ip", table)) {
    run("nft", "delete", "table", "ip", table);
  }
}

function published(
  hostIp: string | undefined,
  sandboxPort: number,
): PortMapping {
  return probeHostPorts([{
    protocol: "tcp",
    hostIp,
    hostPort: 0,
    sandboxPort,
  }])[0]!;
}

nsTest(
  "publishPortsDnat: a published port answers on the host's loopback",
  async () => {
    const table = tableName();
    await withNamespaces(1, async ([ns]) => {
      const net = wire(ns!, 1);
      const server = tagServer(ns!, "sandbox", net.sandbox);
      try {
        const onLoopback = published("127.0.0.1", server.port);
        const everywhere = published(undefined, server.port);
        await publishPortsDnat("web", net.sandbox, [onLoopback, everywhere], {
          table,
        });
        assertEquals(
          await ask(onLoopback.hostPort, "hi"),
          "sandbox:hi",
        );
        // Without a host address the port is published on every host address.
        assertEquals(
          await ask(everywhere.hostPort, "all"),
          "sandbox:all",
        );
        assertEquals(
          await ask(everywhere.hostPort, "veth", net.host),
          "sandbox:veth",
        );
        // Bound to 127.0.0.1 only: not on the host's other addresses.
        await assertRejects(() => ask(onLoopback.hostPort, "no", net.host));
        assertEquals([...(await readDnatState({ table })).sandboxes.keys()], [
          "web",
        ]);

        await unpublishPortsDnat("web", { table });
        assert(!succeeds("nft", "list", "table", "ip", table), "table removed");
        await assertRejects(
          () => ask(onLoopback.hostPort, "gone"),
          Deno.errors.ConnectionRefused,
        );
        await unpublishPortsDnat("web", { table });
      } finally {
        await server.close();
        dropTable(table);
        unwire(net.iface);
      }
    });
  },
  { ignore: !HAVE_NFT },
);

nsTest(
  "publishPortsDnat keeps sandboxes apart and replaces on republish",
  async () => {
    const table = tableName();
    await withNamespaces(2, async ([a, b]) => {
      const netA = wire(a!, 2);
      const netB = wire(b!, 3);
      const serverA = tagServer(a!, "a", netA.sandbox);
      const serverB = tagServer(b!, "b", netB.sandbox);
      try {
        const portA = published("127.0.0.1", serverA.port);
        const portB = published("127.0.0.1", serverB.port);
        await publishPortsDnat("a", netA.sandbox, [portA], { table });
        await publishPortsDnat("b", netB.sandbox, [portB], { table });
        assertEquals(await ask(portA.hostPort, "1"), "a:1");
        assertEquals(await ask(portB.hostPort, "2"), "b:2");

        // Republishing "a" replaces its rules: old port gone, new port works.
        const portA2 = published("127.0.0.1", serverA.port);
        await publishPortsDnat("a", netA.sandbox, [portA2], { table });
        assertEquals(await ask(portA2.hostPort, "3"), "a:3");
        await assertRejects(() => ask(portA.hostPort, "x"));
        const state = await readDnatState({ table });
        assertEquals(
          state.sandboxes.get("a")!.length,
          2,
          "one jump per base chain",
        );

        await unpublishPortsDnat("a", { table });
        assertEquals(await ask(portB.hostPort, "4"), "b:4");
        const listing = run("nft", "list", "table", "ip", table);
        assert(!listing.includes("sb_a_"), listing);
        await unpublishPortsDnat("b", { table });
        assert(!succeeds("nft", "list", "table", "ip", table), "table removed");
      } finally {
        await serverA.close();
        await serverB.close();
        dropTable(table);
        unwire(netA.iface);
        unwire(netB.iface);
      }
    });
  },
  { ignore: !HAVE_NFT },
);

nsTest("publishDnatBatch writes one atomic batch nft accepts", async () => {
  const batch = publishDnatBatch(
    "web.1",
    "10.88.0.2",
    [
      { protocol: "tcp", hostIp: "127.0.0.1", hostPort: 8080, sandboxPort: 80 },
      { protocol: "udp", hostIp: undefined, hostPort: 5353, sandboxPort: 53 },
    ],
    emptyDnatState(),
    { table: "nsnet_ports_check" },
  );
  assertStringIncludes(
    batch,
    "add rule ip nsnet_ports_check sb_web.1_dnat ip daddr 127.0.0.1 tcp dport 8080 dnat to 10.88.0.2:80\n",
  );
  assertStringIncludes(
    batch,
    "sb_web.1_dnat udp dport 5353 dnat to 10.88.0.2:53\n",
  );
  assertStringIncludes(
    batch,
    "sb_web.1_snat ip saddr 127.0.0.0/8 ip daddr 10.88.0.2 masquerade\n",
  );
  if (!HAVE_NFT) return;
  const check = new Deno.Command("nft", {
    args: ["-c", "-f", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = check.stdin.getWriter();
  await writer.write(new TextEncoder().encode(batch));
  await writer.close();
  const out = await check.output();
  assert(out.success, new TextDecoder().decode(out.stderr));
});

nsTest(
  "unpublishDnatBatch removes one sandbox, or the table with the last",
  () => {
    const state = parseDnatState(JSON.stringify({
      nftables: [
        { table: { family: "ip", name: "t" } },
        { rule: { chain: "publish", handle: 7, comment: "nsnet sandbox a" } },
        {
          rule: { chain: "postrouting", handle: 8, comment: "nsnet sandbox a" },
        },
        { rule: { chain: "publish", handle: 9, comment: "nsnet sandbox b" } },
        { rule: { chain: "output", handle: 2 } },
      ],
    }));
    assertEquals([...state.sandboxes.keys()], ["a", "b"]);
    assertEquals(
      unpublishDnatBatch("a", state, { table: "t" }),
      "delete rule ip t publish handle 7\ndelete rule ip t postrouting handle 8\n" +
        "delete chain ip t sb_a_dnat\ndelete chain ip t sb_a_snat\n",
    );
    assertEquals(unpublishDnatBatch("c", state, { table: "t" }), "");
    state.sandboxes.delete("b");
    assertEquals(
      unpublishDnatBatch("a", state, { table: "t" }),
      "delete table ip t\n",
    );
    assertEquals(unpublishDnatBatch("a", emptyDnatState(), { table: "t" }), "");
  },
);

nsTest("publishDnatBatch refuses what DNAT cannot publish", () => {
  const tcp: PortMapping = {
    protocol: "tcp",
    hostIp: undefined,
    hostPort: 8080,
    sandboxPort: 80,
  };
  const state = emptyDnatState();
  assertThrows(
    () => publishDnatBatch("a b", "10.0.0.2", [tcp], state),
    InvalidArgumentError,
    "sandbox id",
  );
  assertThrows(
    () => publishDnatBatch("a;x", "10.0.0.2", [tcp], state),
    InvalidArgumentError,
  );
  assertThrows(
    () => publishDnatBatch("a", "fd00::2", [tcp], state),
    InvalidArgumentError,
    "IPv4",
  );
  assertThrows(
    () => publishDnatBatch("a", "10.0.0.2", [{ ...tcp, hostIp: "::1" }], state),
    InvalidArgumentError,
    "IPv4 only",
  );
  assertThrows(
    () => publishDnatBatch("a", "10.0.0.2", [{ ...tcp, hostPort: 0 }], state),
    InvalidArgumentError,
    "no host port chosen",
  );
  assertThrows(
    () => publishDnatBatch("a", "10.0.0.2", [tcp], state, { table: "x y" }),
    InvalidArgumentError,
    "table name",
  );
  assertThrows(() => enableRouteLocalnet("../all"), InvalidArgumentError);
});
