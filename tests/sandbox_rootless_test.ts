import { assertEquals, assertMatch } from "./_assert.ts";
import { nsTest, readReply } from "./_helpers.ts";
import {
  cleanupRootless,
  nsnetAsUser,
  rootlessEnv,
  spawnNsnetAsUser,
} from "./_rootless.ts";
import { findInPath } from "../lib/rootless/helper_options.ts";

function userRemains(): string[] {
  const env = rootlessEnv();
  const left: string[] = [];
  for (
    const dir of [
      `${env.runtimeDir}/netns`,
      `${env.runtimeDir}/nsnet/sandboxes`,
    ]
  ) {
    try {
      for (const e of Deno.readDirSync(dir)) left.push(`${dir}/${e.name}`);
    } catch { /* none */ }
  }
  return left;
}

for (
  const helper of ["slirp4netns", "pasta"].filter((h) =>
    findInPath(h) !== undefined
  )
) {
  nsTest(
    `rootless nsnet run --network ${helper}: self-check through the helper to the host's loopback`,
    async () => {
      await cleanupRootless();
      try {
        const out = await nsnetAsUser(["run", "--network", helper, "--json"]);
        assertEquals(out.code, 0, out.stderr);
        const report = JSON.parse(out.stdout);
        assertEquals(report.tcp.ok, true);
        assertMatch(
          report.netnsPath,
          new RegExp(`^${rootlessEnv().runtimeDir}/netns/netns-`),
        );
        assertEquals(userRemains(), []);
      } finally {
        await cleanupRootless();
      }
    },
  );
}

nsTest(
  "rootless sandboxes: none has only loopback; create, exec, inspect, rm",
  async () => {
    await cleanupRootless();
    try {
      const run = await nsnetAsUser([
        "run",
        "--network",
        "none",
        "--",
        "ip",
        "-o",
        "link",
      ]);
      assertEquals(run.code, 0, run.stderr);
      assertEquals(run.stdout.trim().split("\n").length, 1);
      assertEquals(
        (await nsnetAsUser([
          "sandbox",
          "create",
          "box",
          "--network",
          "slirp4netns",
        ])).code,
        0,
      );
      const inside = await nsnetAsUser([
        "sandbox",
        "exec",
        "box",
        "--",
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "tap0",
      ]);
      assertMatch(inside.stdout, /10\.0\.2\.100\/24/);
      const inspect = JSON.parse(
        (await nsnetAsUser(["sandbox", "inspect", "box", "--json"])).stdout,
      );
      assertEquals(
        inspect.status.interfaces.tap0.subnets[0].gateway,
        "10.0.2.2",
      );
      assertEquals((await nsnetAsUser(["sandbox", "rm", "box"])).code, 0);
      assertEquals(userRemains(), []);
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "rootless bridge: self-check through bridge, rootless namespace and helper; two sandboxes exchange TCP; all goes",
  async () => {
    await cleanupRootless();
    try {
      const run = await nsnetAsUser(["run", "--json"]);
      assertEquals(run.code, 0, run.stderr);
      const report = JSON.parse(run.stdout);
      assertEquals(report.network, "bridge");
      assertEquals(report.tcp.ok, true);
      assertEquals((await nsnetAsUser(["sandbox", "create", "one"])).code, 0);
      assertEquals((await nsnetAsUser(["sandbox", "create", "two"])).code, 0);
      const two = JSON.parse(
        (await nsnetAsUser(["sandbox", "inspect", "two", "--json"])).stdout,
      );
      const address = two.status.interfaces.eth0.subnets[0].ipnet.split("/")[0];
      const env = rootlessEnv();
      const serverCode =
        `Deno.unrefTimer(setTimeout(() => Deno.exit(0), 10000)); const l = Deno.listen({ port: 8080 }); console.log("ready"); const c = await l.accept();
      await c.write(new TextEncoder().encode("hello from two\\n")); c.close(); l.close();`;
      const server = spawnNsnetAsUser([
        "sandbox",
        "exec",
        "two",
        "--",
        env.deno,
        "eval",
        serverCode,
      ]);
      let got = "";
      for (let i = 0; i < 50 && got === ""; i++) {
        const client = await nsnetAsUser([
          "sandbox",
          "exec",
          "one",
          "--",
          "timeout",
          "3",
          "bash",
          "-c",
          `exec 3<>/dev/tcp/${address}/8080 && cat <&3`,
        ]);
        got = client.stdout.trim();
        if (got === "") await new Promise((r) => setTimeout(r, 100));
      }
      await server.status;
      await server.stderr.cancel();
      assertEquals(got, "hello from two");
      const status = JSON.parse(
        (await nsnetAsUser(["rootless", "status", "--json"])).stdout,
      );
      assertEquals([status.exists, status.refCount], [true, 2]);
      assertEquals(
        (await nsnetAsUser(["sandbox", "rm", "one", "two"])).code,
        0,
      );
      const after = JSON.parse(
        (await nsnetAsUser(["rootless", "status", "--json"])).stdout,
      );
      assertEquals(after.exists, false);
      assertEquals(userRemains(), []);
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "rootless bridge: nsnet run -p and sandbox create -p publish through a forwarder on the host's loopback",
  async () => {
    await cleanupRootless();
    const env = rootlessEnv();
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    try {
      const server =
        `Deno.unrefTimer(setTimeout(() => Deno.exit(0), 10000)); const l = Deno.listen({ port: 8080 }); const c = await l.accept();
      await c.write(new TextEncoder().encode("hello from a rootless bridge\\n")); c.close(); l.close();`;
      const running = nsnetAsUser([
        "run",
        "-p",
        `127.0.0.1:${port}:8080`,
        "--",
        env.deno,
        "eval",
        server,
      ]);
      let answer = "";
      for (let i = 0; i < 100 && answer === ""; i++) {
        answer = await readReply(port); // "" while not up yet
        if (answer === "") await new Promise((r) => setTimeout(r, 100));
      }
      const done = await running;
      assertEquals(done.code, 0, done.stderr);
      assertEquals(answer, "hello from a rootless bridge");
      // Detached, a forwarder process of its own does the same, and goes with the sandbox.
      const detached = await nsnetAsUser([
        "sandbox",
        "create",
        "web",
        "-p",
        `127.0.0.1:${port}:8080`,
      ]);
      assertEquals(detached.code, 0, detached.stderr);
      const inside = spawnNsnetAsUser([
        "sandbox",
        "exec",
        "web",
        "--",
        env.deno,
        "eval",
        server,
      ]);
      let again = "";
      for (let i = 0; i < 100 && again === ""; i++) {
        again = await readReply(port); // "" while not up yet
        if (again === "") await new Promise((r) => setTimeout(r, 100));
      }
      await inside.status;
      await inside.stderr.cancel();
      assertEquals(again, "hello from a rootless bridge");
      assertEquals((await nsnetAsUser(["sandbox", "rm", "web"])).code, 0);
      const free = Deno.listen({ hostname: "127.0.0.1", port }); // the forwarder let go of it
      free.close();
      assertEquals(userRemains(), []);
    } finally {
      await cleanupRootless();
    }
  },
);
