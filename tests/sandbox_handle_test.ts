/**
 * The `Sandbox` handle against the real kernel: as root, two bridge
 * sandboxes talking TCP with `await using` and nothing left afterwards, also
 * when the block throws; errors by class; and, as the unprivileged test
 * user, a script inside `nsnet unshare` that creates, enters and removes
 * sandboxes, and the one clear error outside it.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./_assert.ts";
import { nsTest, run, uniqueName } from "./_helpers.ts";
import {
  asUser,
  bundleForUser,
  cleanupRootless,
  rootlessEnv,
} from "./_rootless.ts";
import { Sandbox } from "../lib/sandbox/sandbox.ts";
import {
  ErrnoError,
  NetworkNotFoundError,
  NsnetError,
  SandboxExistsError,
  SandboxNotFoundError,
  SyscallError,
} from "../lib/errors.ts";
import { listRecords } from "../lib/sandbox/store.ts";

/** What a sandbox could leave on the host: namespaces, records, veths. */
function remains(): { netns: string[]; records: string[]; veths: string[] } {
  let netns: string[] = [];
  try {
    netns = [...Deno.readDirSync("/run/netns")].map((e) => e.name).sort();
  } catch { /* none */ }
  const veths =
    (JSON.parse(run("ip", "-j", "link", "show", "type", "veth")) as {
      ifname: string;
    }[]).map((l) => l.ifname).sort();
  return { netns, records: listRecords().map((r) => r.name), veths };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function readFully(conn: Deno.Conn): Promise<number> {
  let total = 0;
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) return total;
    total += n;
  }
}

nsTest(
  "Sandbox: two bridge sandboxes with await using talk TCP, run ip inside, count the bytes, and leave nothing",
  async () => {
    const before = remains();
    let paths: string[] = [];
    {
      await using server = await Sandbox.create({ name: uniqueName("srv") });
      await using client = await Sandbox.create();
      paths = [server.path, client.path];
      assert(paths.every(exists), "namespace files exist while in use");
      for (const sb of [server, client]) {
        assertEquals(sb.addresses.length, 1);
        assertMatch(sb.addresses[0]!, /^10\.89\.0\.\d+\/24$/);
        assertEquals(sb.gateway, "10.89.0.1");
      }
      assertEquals(Sandbox.open(server.name).path, server.path);
      const listed = Sandbox.list().map((s) => s.name);
      assert(listed.includes(server.name) && listed.includes(client.name));
      assertEquals(
        server.inspect().interfaces?.eth0?.subnets?.[0]?.ipnet,
        server.addresses[0],
      );

      const address = server.addresses[0]!.split("/")[0]!;
      using listener = server.listen({ port: 0 });
      const port = listener.addr.port;
      const rxBefore = server.stats().rxBytes;
      const payload = new Uint8Array(200_000).fill(7);
      const [accepted, conn] = await Promise.all([
        listener.accept(),
        client.connect({ hostname: address, port }),
      ]);
      assertEquals(conn.remoteAddr.hostname, address);
      const received = readFully(accepted);
      let written = 0;
      while (written < payload.length) {
        written += await conn.write(payload.subarray(written));
      }
      conn.close();
      assertEquals(await received, payload.length);
      accepted.close();
      const stats = server.stats();
      assert(
        stats.rxBytes - rxBefore >= payload.length,
        `rx grew by ${stats.rxBytes - rxBefore}, sent ${payload.length}`,
      );
      assert(stats.interfaces.eth0 !== undefined, "eth0 counted");

      const out = await server.output("ip", { args: ["-j", "addr"] });
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      const links = JSON.parse(new TextDecoder().decode(out.stdout)) as {
        ifname: string;
        addr_info: { local: string; prefixlen: number }[];
      }[];
      const eth0 = links.find((l) => l.ifname === "eth0");
      assertEquals(
        eth0?.addr_info.some((a) =>
          `${a.local}/${a.prefixlen}` === server.addresses[0]
        ),
        true,
      );
      // run(fn): the calling thread inside, and back (nsTest checks the way back).
      assertEquals(
        server.run(() => Deno.readLinkSync("/proc/thread-self/ns/net")),
        `net:[${Deno.statSync(server.path).ino}]`,
      );
    }
    assertEquals(paths.filter(exists), [], "namespace files left");
    assertEquals(remains(), before);
  },
);

nsTest(
  "Sandbox: await using removes the sandbox when the block throws",
  async () => {
    const before = remains();
    let path = "";
    let name = "";
    await assertRejects(
      async () => {
        await using sb = await Sandbox.create({ network: "bridge" });
        path = sb.path;
        name = sb.name;
        throw new Error("the block failed");
      },
      Error,
      "the block failed",
    );
    assert(path !== "" && !exists(path), `${path} left`);
    assertThrows(() => Sandbox.open(name), SandboxNotFoundError);
    assertEquals(remains(), before);
  },
);

nsTest(
  "Sandbox: spawn and output run inside with its resolv.conf; options as Deno.Command's",
  async () => {
    await using sb = await Sandbox.create({
      network: "none",
      dns: ["192.0.2.53"],
    });
    const decoder = new TextDecoder();
    const resolv = await sb.output("cat", { args: ["/etc/resolv.conf"] });
    assertMatch(decoder.decode(resolv.stdout), /^nameserver 192\.0\.2\.53$/m);
    const links = await sb.output("ip", { args: ["-o", "link"] });
    assertEquals(
      decoder.decode(links.stdout).trim().split("\n").map((l) =>
        l.split(":")[1]!.trim()
      ),
      ["lo"],
    );
    const env = await sb.output("sh", {
      args: ["-c", 'echo "$GREETING $(pwd)"'],
      env: { GREETING: "hi" },
      cwd: "/tmp",
    });
    assertEquals(decoder.decode(env.stdout), "hi /tmp\n");
    const child = sb.spawn("sh", { args: ["-c", "exit 3"] });
    assertEquals((await child.status).code, 3);
    const missing = await sb.output("nsnet-no-such-command");
    assertEquals(missing.code, 127);
    assertEquals(
      decoder.decode(missing.stderr),
      "nsnet: nsnet-no-such-command: command not found\n",
    );
    const absent = await sb.output("/nonexistent");
    assertEquals(absent.code, 127);
    assertEquals(
      decoder.decode(absent.stderr),
      "nsnet: /nonexistent: command not found\n",
    );
    const plainFile = await Deno.makeTempFile({ prefix: "nsnet-not-exec-" });
    try {
      await Deno.chmod(plainFile, 0o644);
      const notExecutable = await sb.output(plainFile);
      assertEquals(notExecutable.code, 126);
      assertEquals(
        decoder.decode(notExecutable.stderr),
        `nsnet: ${plainFile}: permission denied\n`,
      );
    } finally {
      await Deno.remove(plainFile);
    }
    assertThrows(
      () => sb.spawn("true", { uid: 1 }),
      NsnetError,
      "does not support the uid option",
    );
  },
);

nsTest(
  "Sandbox: errors by class; remove() is idempotent; a removed handle refuses work",
  async () => {
    const before = remains();
    assertThrows(
      () => Sandbox.open("nsnet-no-such-sandbox"),
      SandboxNotFoundError,
    );
    const missing = await assertRejects(
      () => Sandbox.create({ network: "nsnet-no-such-network" }),
      NetworkNotFoundError,
    );
    assertEquals([missing.network, missing.backend], [
      "nsnet-no-such-network",
      "builtin",
    ]);
    const sb = await Sandbox.create({
      name: uniqueName("dup"),
      network: "none",
    });
    try {
      const taken = await assertRejects(
        () => Sandbox.create({ name: sb.name, network: "none" }),
        SandboxExistsError,
      );
      assertEquals(taken.sandbox, sb.name);
      const joined = await assertRejects(
        () => Sandbox.create({ network: "sandbox:nsnet-no-such-sandbox" }),
        SandboxNotFoundError,
      );
      assertStringIncludes(
        joined.message,
        "no sandbox named nsnet-no-such-sandbox",
      );
    } finally {
      await sb.remove();
    }
    await sb.remove(); // again: nothing to do
    assertThrows(() => sb.spawn("true"), SandboxNotFoundError);
    // Another handle on a sandbox someone else removed: remove() is still fine.
    const other = await Sandbox.create({ network: "none" });
    const same = Sandbox.open(other.name);
    await other.remove();
    await same.remove();
    // The errno-carrying errors share one base.
    assert(new SyscallError("setns", 1) instanceof ErrnoError);
    assertEquals(new SyscallError("setns", 1).code, "EPERM");
    assertEquals(remains(), before);
  },
);

nsTest(
  "Sandbox: creations side by side in one process wait for each other's locks: one name taken once, two names both made",
  async () => {
    const before = remains();
    const name = uniqueName("race");
    const results = await Promise.allSettled([
      Sandbox.create({ name, network: "none" }),
      Sandbox.create({ name, network: "none" }),
    ]);
    const made = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    assertEquals(made.length, 1, JSON.stringify(results));
    assert(
      (refused[0] as PromiseRejectedResult).reason instanceof
        SandboxExistsError,
      String((refused[0] as PromiseRejectedResult).reason),
    );
    const two = await Promise.all([
      Sandbox.create(),
      Sandbox.create(),
    ]);
    assertEquals(new Set(two.map((sb) => sb.addresses[0])).size, 2);
    await Promise.all([
      ...two.map((sb) => sb.remove()),
      (made[0] as PromiseFulfilledResult<Sandbox>).value.remove(),
    ]);
    assertEquals(remains(), before);
  },
);

nsTest(
  "Sandbox: a published port answers on the host's loopback while a listener inside serves it",
  async () => {
    const before = remains();
    {
      await using sb = await Sandbox.create({
        ports: ["127.0.0.1:18931:7000"],
      });
      using listener = sb.listen({ port: 7000 });
      const [accepted, conn] = await Promise.all([
        listener.accept(),
        Deno.connect({ hostname: "127.0.0.1", port: 18931 }),
      ]);
      await accepted.write(new TextEncoder().encode("published"));
      accepted.close();
      const buffer = new Uint8Array(16);
      const n = await conn.read(buffer);
      conn.close();
      assertEquals(
        new TextDecoder().decode(buffer.subarray(0, n ?? 0)),
        "published",
      );
    }
    assertEquals(remains(), before);
  },
);

nsTest(
  "Sandbox without --allow-ffi: Deno's own NotCapable passes through untouched",
  async () => {
    const module = new URL("../lib/sandbox/sandbox.ts", import.meta.url).href;
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(
      script,
      `const { Sandbox } = await import(${JSON.stringify(module)});
      try {
        await (await Sandbox.create({ network: "none" })).remove();
        console.log("created");
      } catch (e) {
        console.log(e instanceof Deno.errors.NotCapable, e.message);
      }`,
    );
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", "--allow-read", "--allow-env", script],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assertMatch(
        text,
        /^true .*--allow-ffi/,
        new TextDecoder().decode(out.stderr),
      );
    } finally {
      await Deno.remove(script);
    }
  },
);

nsTest(
  "Sandbox unprivileged: inside `nsnet unshare` a script creates sandboxes (none, bridge), runs commands and TCP sockets in them and removes them; outside, one clear error",
  async () => {
    await cleanupRootless();
    const env = rootlessEnv();
    const program = bundleForUser(
      "handle-program",
      "./_sandbox_handle_program.ts",
    );
    try {
      const inside = await asUser([
        env.deno,
        "run",
        "--allow-all",
        "--quiet",
        env.cli,
        "unshare",
        "--",
        env.deno,
        "run",
        "--allow-all",
        "--quiet",
        program,
        "inside",
      ]);
      assertEquals(inside.code, 0, inside.stderr);
      const report = JSON.parse(inside.stdout.trim().split("\n").pop()!);
      assertEquals(report.none, {
        code: 0,
        links: ["lo"],
        listed: ["handle-none"],
        opened: true,
      });
      assertEquals(report.noneGone, true);
      assertEquals(report.bridge.answer, "hello-from-a");
      assertMatch(report.bridge.addresses[0][0], /^10\.89\.0\.\d+\/24$/);
      assertEquals(report.bridge.gateway, "10.89.0.1");
      assertEquals(report.bridge.rx, true);
      assertEquals(report.sockets, {
        server: "ping",
        client: "pong",
        peer: true,
        refused: "ECONNREFUSED",
      });
      assertEquals(report.published, "published");
      assertEquals(report.listAfter, []);

      const outside = await asUser([
        env.deno,
        "run",
        "--allow-all",
        "--quiet",
        program,
        "outside",
      ]);
      assertEquals(outside.code, 0, outside.stderr);
      const error = JSON.parse(outside.stdout.trim().split("\n").pop()!);
      assertEquals(error.error.name, "NeedsUserNamespaceError");
      assertEquals(error.error.isNeedsUserNamespace, true);
      assertStringIncludes(error.error.hint, "nsnet unshare");
      assertEquals(error.list, []);
    } finally {
      Deno.removeSync(program.slice(0, program.lastIndexOf("/")), {
        recursive: true,
      });
      await cleanupRootless();
    }
  },
);
