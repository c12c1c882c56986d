/**
 * Names between sandboxes (issue 15): on a network made with `nsnet network
 * create`, a sandbox resolves another's name through the network's DNS
 * responder (named first in its resolv.conf), a removed sandbox's name is
 * gone at once, other names are forwarded to the network's `--dns-upstream`
 * (a server of the test's own on the host's loopback: no query leaves the
 * machine), and the responder goes with the network's last sandbox. Root
 * and rootless.
 */
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import * as dgram from "node:dgram";
import { nsnet, nsTest } from "./_helpers.ts";
import { cleanupRootless, nsnetAsUser } from "./_rootless.ts";
import { encodeAnswer, parseQuery, RCODE, TYPE } from "../lib/dns/message.ts";

type Cli = (
  ...args: string[]
) => Promise<{ code: number; stdout: string; stderr: string }>;

const NET = "nsnt-dns";

/** The test's upstream on 127.0.0.1: example.test is 192.0.2.7, nothing else exists. */
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
    const q = query.questions[0]!;
    queries.push(q.name);
    const answer = q.name === "example.test" && q.type === TYPE.A
      ? encodeAnswer(query, {
        rcode: 0,
        records: [{ type: TYPE.A, ttl: 5, address: "192.0.2.7" }],
      })
      : encodeAnswer(query, {
        rcode: q.name === "example.test" ? 0 : RCODE.NXDOMAIN,
      });
    socket.send(answer, from.port, from.address);
  });
  return {
    port: socket.address().port,
    queries,
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

const RESOLVE =
  `import socket, sys\ntry:\n    print(socket.gethostbyname(sys.argv[1]))\nexcept OSError as e:\n    print("unresolved", e)`;

async function resolveIn(
  cli: Cli,
  sandbox: string,
  name: string,
): Promise<string> {
  const started = Date.now();
  const out = await cli(
    "sandbox",
    "exec",
    sandbox,
    "--",
    "python3",
    "-c",
    RESOLVE,
    name,
  );
  // A resolver that had to wait for a timeout would take 5 s.
  assert(
    Date.now() - started < 4000,
    `resolving ${name} took ${Date.now() - started} ms`,
  );
  return out.stdout.trim();
}

async function names(cli: Cli): Promise<void> {
  const up = await upstream();
  try {
    const made = await cli(
      "network",
      "create",
      NET,
      "--subnet",
      "10.123.91.0/24",
      "--dns-upstream",
      `127.0.0.1:${up.port}`,
    );
    assertEquals(made.code, 0, made.stderr);
    try {
      for (const name of ["dns-a", "dns-b"]) {
        const alias = name === "dns-b" ? ["--alias", "db"] : [];
        const out = await cli(
          "sandbox",
          "create",
          name,
          "--network",
          NET,
          ...alias,
        );
        assertEquals(out.code, 0, out.stderr);
      }
      const conf = await cli(
        "sandbox",
        "exec",
        "dns-a",
        "--",
        "cat",
        "/etc/resolv.conf",
      );
      assertEquals(
        conf.stdout.split("\n").filter((l) => l.startsWith("nameserver")),
        ["nameserver 10.123.91.1"], // only the responder: nothing else to fall back to
      );
      const b = JSON.parse(
        (await cli("sandbox", "inspect", "dns-b", "--json")).stdout,
      ).status;
      const bAddress = (Object.values(b.interfaces)[0] as {
        subnets: { ipnet: string }[];
      }).subnets[0]!.ipnet.split("/")[0]!;
      assertEquals(await resolveIn(cli, "dns-a", "dns-b"), bAddress);
      assertEquals(await resolveIn(cli, "dns-b", "DNS-A"), "10.123.91.2");
      assertEquals(await resolveIn(cli, "dns-a", "db"), bAddress); // its --alias
      assertEquals(await resolveIn(cli, "dns-a", "example.test"), "192.0.2.7");
      assert(up.queries.includes("example.test"), String(up.queries));
      assert(!up.queries.includes("dns-b"), "a sandbox's name went upstream");
      // Gone with its sandbox, at once, though another process removed it.
      assertEquals((await cli("sandbox", "rm", "dns-b")).code, 0);
      const before = up.queries.length;
      try {
        assertStringIncludes(
          await resolveIn(cli, "dns-a", "dns-b"),
          "unresolved",
        );
      } catch (e) {
        throw new Error(
          `${e}; upstream saw ${
            JSON.stringify(up.queries.slice(before))
          }; responders ${JSON.stringify(responders())}; all ${
            JSON.stringify(up.queries)
          }`,
        );
      }
      assertStringIncludes(await resolveIn(cli, "dns-a", "db"), "unresolved");
    } finally {
      await cli("sandbox", "rm", "dns-a", "dns-b");
      assertEquals((await cli("network", "rm", NET)).code, 0);
    }
  } finally {
    await up.close();
  }
}

function responders(): string[] {
  const out = new TextDecoder().decode(
    new Deno.Command("pgrep", { args: ["-af", "dns-serve"], stdout: "piped" })
      .outputSync().stdout,
  );
  return out.split("\n").filter((l) => l.includes(NET));
}

nsTest(
  "root: sandboxes resolve each other's names through the network's responder",
  async () => {
    await names(nsnet);
    assertEquals(responders(), []);
  },
);

nsTest(
  "rootless: sandboxes resolve each other's names through the network's responder",
  async () => {
    await cleanupRootless();
    try {
      await names((...args) => nsnetAsUser(args));
      assertEquals(responders(), []);
    } finally {
      await cleanupRootless();
    }
  },
);
