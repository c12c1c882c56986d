/**
 * The DNS codec and a network's responder (issue 15), on the host's
 * loopback only: the responder answers its names (A and AAAA, as they
 * appear and disappear), forwards other names to a test upstream of its own
 * on 127.0.0.1 (never the host's resolver), fails over from a dead upstream
 * within its short timeout, refuses to forward without upstreams, and
 * survives 1,000 queries a second for 5 s.
 */
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import * as dgram from "node:dgram";
import {
  DnsFormatError,
  encodeAnswer,
  encodeQuery,
  parseAnswer,
  parseQuery,
  RCODE,
  TYPE,
} from "../lib/dns/message.ts";
import { type NameAddresses, startDnsResponder } from "../lib/dns/responder.ts";
import {
  dnsEnabled,
  networkUpstreams,
  parseUpstream,
} from "../lib/dns/network_dns.ts";

Deno.test("DNS codec: a query and its answer round-trip", () => {
  const query = parseQuery(encodeQuery(0x1234, "Web.Example", TYPE.AAAA));
  assertEquals(
    [
      query.id,
      query.questions[0]!.name,
      query.questions[0]!.type,
      query.recursionDesired,
    ],
    [0x1234, "web.example", TYPE.AAAA, true],
  );
  const answer = parseAnswer(encodeAnswer(query, {
    rcode: RCODE.NOERROR,
    records: [
      { type: TYPE.AAAA, ttl: 60, address: "fd00:7b5a::2" },
      { type: TYPE.A, ttl: 60, address: "10.89.0.2" },
    ],
  }));
  assertEquals(answer, {
    id: 0x1234,
    rcode: 0,
    addresses: ["fd00:7b5a::2", "10.89.0.2"],
  });
  assertEquals(
    parseAnswer(encodeAnswer(query, { rcode: RCODE.NXDOMAIN })).rcode,
    3,
  );
});

Deno.test("DNS codec: malformed messages are refused, not looped on", () => {
  assertThrows(() => parseQuery(new Uint8Array(5)), DnsFormatError);
  const loop = new Uint8Array([
    0,
    1,
    1,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    0xc0,
    12,
    0,
    1,
    0,
    1,
  ]);
  assertThrows(() => parseQuery(loop), DnsFormatError, "compression loop");
  const cut = encodeQuery(1, "abc.example", TYPE.A).subarray(0, 20);
  assertThrows(() => parseQuery(cut), DnsFormatError);
  assertThrows(
    () => encodeQuery(1, `${"x".repeat(64)}.example`, TYPE.A),
    DnsFormatError,
  );
});

/** A client socket on loopback that sends queries and collects answers by id. */
async function client(): Promise<{
  ask(
    port: number,
    name: string,
    type: number,
    ms?: number,
  ): Promise<ReturnType<typeof parseAnswer> | undefined>;
  socket: dgram.Socket;
  close(): Promise<void>;
}> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) =>
    socket.bind({ port: 0, address: "127.0.0.1" }, () => r())
  );
  const waiting = new Map<
    number,
    (a: ReturnType<typeof parseAnswer>) => void
  >();
  socket.on("message", (data: Uint8Array) => {
    const answer = parseAnswer(data);
    waiting.get(answer.id)?.(answer);
    waiting.delete(answer.id);
  });
  let id = 0;
  return {
    socket,
    ask(
      port: number,
      name: string,
      type: number,
      ms = 3000,
    ): Promise<ReturnType<typeof parseAnswer> | undefined> {
      const mine = ++id & 0xffff;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(mine);
          resolve(undefined);
        }, ms);
        waiting.set(mine, (a) => {
          clearTimeout(timer);
          resolve(a);
        });
        socket.send(encodeQuery(mine, name, type), port, "127.0.0.1");
      });
    },
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

/** The test's own upstream on loopback: example.test is 192.0.2.7, every other name NXDOMAIN. */
async function upstream(): Promise<
  { port: number; queries: string[]; close(): Promise<void> }
> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) =>
    socket.bind({ port: 0, address: "127.0.0.1" }, () => r())
  );
  const queries: string[] = [];
  socket.on("message", (data: Uint8Array, from: dgram.RemoteInfo) => {
    const query = parseQuery(data);
    const name = query.questions[0]!.name;
    queries.push(name);
    const answer = name === "example.test"
      ? encodeAnswer(query, {
        rcode: 0,
        records: [{ type: TYPE.A, ttl: 5, address: "192.0.2.7" }],
      })
      : encodeAnswer(query, { rcode: RCODE.NXDOMAIN });
    socket.send(answer, from.port, from.address);
  });
  return {
    port: socket.address().port,
    queries,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

Deno.test("responder: its names appear and go at once; other names go to the upstream", async () => {
  const names = new Map<string, NameAddresses>([["web", {
    v4: ["10.89.0.2"],
    v6: ["fd00:7b5a::2"],
  }]]);
  const up = await upstream();
  const responder = await startDnsResponder({
    address: "127.0.0.1",
    port: 0,
    lookup: (name) => names.get(name),
    upstreams: [{ host: "127.0.0.1", port: up.port }],
  });
  const c = await client();
  try {
    assertEquals((await c.ask(responder.port, "WEB", TYPE.A))?.addresses, [
      "10.89.0.2",
    ]);
    assertEquals((await c.ask(responder.port, "web", TYPE.AAAA))?.addresses, [
      "fd00:7b5a::2",
    ]);
    names.set("db", { v4: ["10.89.0.3"], v6: [] });
    assertEquals((await c.ask(responder.port, "db", TYPE.A))?.addresses, [
      "10.89.0.3",
    ]);
    // A known name without IPv6: no answer, and not forwarded either.
    assertEquals(await c.ask(responder.port, "db", TYPE.AAAA), {
      id: 4,
      rcode: 0,
      addresses: [],
    });
    names.delete("db");
    const gone = await c.ask(responder.port, "db", TYPE.A);
    assertEquals(gone?.rcode, RCODE.NXDOMAIN); // forwarded now, and unknown upstream
    assertEquals(
      (await c.ask(responder.port, "example.test", TYPE.A))?.addresses,
      ["192.0.2.7"],
    );
    assertEquals(up.queries, ["db", "example.test"]);
  } finally {
    await c.close();
    await responder.close();
    await up.close();
  }
});

Deno.test("responder: a dead upstream is given up within the short timeout, then the next is asked", async () => {
  const dead = dgram.createSocket("udp4"); // bound, never answers
  await new Promise<void>((r) =>
    dead.bind({ port: 0, address: "127.0.0.1" }, () => r())
  );
  const up = await upstream();
  const responder = await startDnsResponder({
    address: "127.0.0.1",
    port: 0,
    lookup: () => undefined,
    upstreams: [{ host: "127.0.0.1", port: dead.address().port }, {
      host: "127.0.0.1",
      port: up.port,
    }],
    forwardTimeoutMs: 300,
  });
  const only = await startDnsResponder({
    address: "127.0.0.1",
    port: 0,
    lookup: () => undefined,
    upstreams: [{ host: "127.0.0.1", port: dead.address().port }],
    forwardTimeoutMs: 300,
  });
  const internal = await startDnsResponder({
    address: "127.0.0.1",
    port: 0,
    lookup: () => undefined,
    upstreams: [],
  });
  const c = await client();
  try {
    const started = Date.now();
    assertEquals(
      (await c.ask(responder.port, "example.test", TYPE.A))?.addresses,
      ["192.0.2.7"],
    );
    assert(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    assertEquals(
      (await c.ask(only.port, "example.test", TYPE.A))?.rcode,
      RCODE.SERVFAIL,
    );
    assertEquals(
      (await c.ask(internal.port, "example.test", TYPE.A))?.rcode,
      RCODE.REFUSED,
    );
  } finally {
    await c.close();
    await Promise.all([responder.close(), only.close(), internal.close()]);
    await up.close();
    await new Promise<void>((r) => dead.close(() => r()));
  }
});

Deno.test("responder: 1,000 queries a second for 5 s, every one answered", async () => {
  const names = new Map<string, NameAddresses>();
  for (let i = 2; i < 200; i++) {
    names.set(`sb${i}`, { v4: [`10.89.0.${i}`], v6: [] });
  }
  const responder = await startDnsResponder({
    address: "127.0.0.1",
    port: 0,
    lookup: (name) => names.get(name),
    upstreams: [],
  });
  const c = await client();
  try {
    const asked: Promise<ReturnType<typeof parseAnswer> | undefined>[] = [];
    const started = performance.now();
    for (let tick = 0; tick < 500; tick++) {
      // 10 queries every 10 ms.
      for (let i = 0; i < 10; i++) {
        const n = 2 + ((tick * 10 + i) % 198);
        asked.push(c.ask(responder.port, `sb${n}`, TYPE.A, 5000));
      }
      const due = started + (tick + 1) * 10;
      await new Promise((r) =>
        setTimeout(r, Math.max(0, due - performance.now()))
      );
    }
    const answers = await Promise.all(asked);
    const seconds = (performance.now() - started) / 1000;
    const good = answers.filter((a, i) =>
      a?.addresses[0] === `10.89.0.${2 + (i % 198)}`
    ).length;
    console.log(
      `${answers.length} queries in ${
        seconds.toFixed(2)
      } s, ${good} answered right`,
    );
    assertEquals(good, 5000);
    assert(seconds < 6.5, `${seconds} s`);
    assertEquals(responder.stats.answered, 5000);
    assertEquals((await c.ask(responder.port, "sb2", TYPE.A))?.addresses, [
      "10.89.0.2",
    ]);
  } finally {
    await c.close();
    await responder.close();
  }
});

Deno.test("network upstreams: --dns-upstream parsed, --internal forwards nothing, loopback never from the host's file", () => {
  assertEquals(parseUpstream("127.0.0.1:5353"), {
    host: "127.0.0.1",
    port: 5353,
  });
  assertEquals(parseUpstream("192.0.2.1"), { host: "192.0.2.1", port: 53 });
  assertEquals(parseUpstream("[::1]:5353"), { host: "::1", port: 5353 });
  assertEquals(parseUpstream("fd00::53"), { host: "fd00::53", port: 53 });
  assertThrows(
    () => parseUpstream("dns.example:53"),
    Error,
    "invalid DNS upstream",
  );
  const network = {
    name: "n",
    bridge: "n0",
    subnet: "10.5.0.0/24",
    gateway: "10.5.0.1",
    dnsUpstreams: ["127.0.0.1:5353"],
  };
  assertEquals(networkUpstreams(network), [{ host: "127.0.0.1", port: 5353 }]);
  assertEquals(networkUpstreams({ ...network, internal: true }), []);
  for (
    const upstream of networkUpstreams({ ...network, dnsUpstreams: undefined })
  ) {
    assert(
      !upstream.host.startsWith("127.") && upstream.host !== "::1",
      upstream.host,
    );
  }
  assertEquals(dnsEnabled(network), true);
  assertEquals(dnsEnabled({ ...network, disableDns: true }), false);
  assertEquals(dnsEnabled({ ...network, name: "bridge" }), false);
});
