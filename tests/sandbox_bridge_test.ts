import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { nsnet, nsTest, readReply, run } from "./_helpers.ts";
import { Ipam } from "../lib/bridge/ipam.ts";
import { getNetwork } from "../lib/bridge/network.ts";
import { finish, serveInSandbox } from "./_fixtures/sandbox_server.ts";

function address(inspectJson: string): string {
  const status = JSON.parse(inspectJson).status;
  return status.interfaces.eth0.subnets[0].ipnet.split("/")[0];
}

/** What a bridge leaves: our veths and bridges, nsnet's nft tables, namespaces, state. */
function remains(): string[] {
  const left: string[] = [];
  for (const line of run("ip", "-br", "link").split("\n")) {
    const name = line.split(/\s+/)[0] ?? "";
    if (/^(nsv|nsnet0|nsnt)/.test(name)) left.push(name);
  }
  const tables = run("nft", "list", "tables");
  for (const t of tables.split("\n")) if (/nsnet/.test(t)) left.push(t);
  for (const e of Deno.readDirSync("/run/netns")) {
    if (e.name.startsWith("netns-")) left.push(e.name);
  }
  try {
    for (const e of Deno.readDirSync("/run/nsnet")) {
      left.push(`/run/nsnet/${e.name}`);
    }
  } catch { /* gone */ }
  return left;
}

nsTest(
  "nsnet run on the default bridge: self-check to the host's loopback through the bridge, then nothing left",
  async () => {
    const out = await nsnet("run", "--json");
    assertEquals(out.code, 0, out.stderr);
    const report = JSON.parse(out.stdout);
    assertEquals(report.network, "bridge");
    assertEquals(report.interfaces.eth0.subnets[0].gateway, "10.89.0.1");
    assertEquals(report.tcp.ok, true);
    assertEquals(remains(), []);
  },
);

nsTest(
  "two sandboxes on one bridge exchange TCP; a published port answers on the host's loopback",
  async () => {
    const port = (() => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const p = (l.addr as Deno.NetAddr).port;
      l.close();
      return p;
    })();
    assertEquals(
      (await nsnet("sandbox", "create", "web", "-p", `127.0.0.1:${port}:8080`))
        .code,
      0,
    );
    assertEquals((await nsnet("sandbox", "create", "client")).code, 0);
    try {
      const web = address(
        (await nsnet("sandbox", "inspect", "web", "--json")).stdout,
      );
      const server = await serveInSandbox("web", "hello over the bridge");
      const got = await nsnet(
        "sandbox",
        "exec",
        "client",
        "--",
        "timeout",
        "5",
        "bash",
        "-c",
        `exec 3<>/dev/tcp/${web}/8080; cat <&3`,
      );
      await finish(server);
      assertEquals(got.stdout.trim(), "hello over the bridge");

      const published = await serveInSandbox("web", "hello through DNAT");
      const text = await readReply(port);
      await finish(published);
      assertEquals(text, "hello through DNAT");
    } finally {
      assertEquals((await nsnet("sandbox", "rm", "web", "client")).code, 0);
    }
    assertEquals(remains(), []);
  },
);

nsTest("sandboxes on different networks do not reach each other", async () => {
  assertEquals(
    (await nsnet(
      "network",
      "create",
      "nsnt-other",
      "--subnet",
      "10.91.0.0/24",
      "--bridge",
      "nsnt-other0",
    )).code,
    0,
  );
  try {
    assertEquals((await nsnet("sandbox", "create", "left")).code, 0);
    assertEquals(
      (await nsnet("sandbox", "create", "right", "--network", "nsnt-other"))
        .code,
      0,
    );
    const right = address(
      (await nsnet("sandbox", "inspect", "right", "--json")).stdout,
    );
    assertEquals(right.startsWith("10.91.0."), true);
    const server = await serveInSandbox("right", "should not arrive");
    const got = await nsnet(
      "sandbox",
      "exec",
      "left",
      "--",
      "timeout",
      "2",
      "bash",
      "-c",
      `exec 3<>/dev/tcp/${right}/8080; cat <&3`,
    );
    await finish(server);
    assert(
      got.code !== 0 && !got.stdout.includes("should not arrive"),
      "crossed networks",
    );
  } finally {
    await nsnet("sandbox", "rm", "left", "right");
    await nsnet("network", "rm", "nsnt-other");
  }
  assertEquals(remains().filter((r) => !r.startsWith("/run/nsnet")), []);
});

nsTest(
  "addresses left by sandboxes that are gone (a failed teardown) are taken back, not lost",
  async () => {
    assertEquals(
      (await nsnet(
        "network",
        "create",
        "nsnt-tiny",
        "--subnet",
        "10.125.0.0/29",
        "--bridge",
        "nsnt-tiny0",
      )).code,
      0,
    );
    try {
      // A /29 has five addresses besides the gateway: all held by sandboxes whose records are gone.
      {
        using ipam = Ipam.open(
          "/run/nsnet/bridge/ipam",
          getNetwork("nsnt-tiny"),
        );
        for (let i = 0; i < 5; i++) ipam.allocate(`ghost-${i}`);
      }
      const tiny = await nsnet(
        "sandbox",
        "create",
        "tiny",
        "--network",
        "nsnt-tiny",
      );
      assertEquals(tiny.code, 0, tiny.stderr);
      assertStringIncludes(tiny.stderr, "its sandbox is gone");
      assertEquals((await nsnet("sandbox", "rm", "tiny")).code, 0);
    } finally {
      await nsnet("sandbox", "rm", "tiny");
      await nsnet("network", "rm", "nsnt-tiny");
    }
    assertEquals(remains().filter((r) => !r.startsWith("/run/nsnet")), []);
  },
);
