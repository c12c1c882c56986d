import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "./_assert.ts";
import { nsnet, nsTest, run, succeeds, uniqueName } from "./_helpers.ts";

nsTest(
  "nsnet add, list --json, exec, pids, identify, del: a namespace's whole life",
  async () => {
    const name = uniqueName("cli");
    const add = await nsnet("add", name, "--json");
    assertEquals(add.code, 0, add.stderr);
    const created = JSON.parse(add.stdout);
    assertEquals(created.name, name);
    assertEquals(created.path, `/run/netns/${name}`);
    try {
      const list = await nsnet("list", "--json");
      assertEquals(list.code, 0);
      const entry = JSON.parse(list.stdout).find((e: { name: string }) =>
        e.name === name
      );
      assertEquals(entry, {
        name,
        path: `/run/netns/${name}`,
        status: "ok",
        inode: created.inode,
      });

      const table = await nsnet("list");
      assertMatch(table.stdout, /^NAME\s+STATUS\s+INODE\n/);
      assertMatch(
        table.stdout,
        new RegExp(`\\n${name}\\s+ok\\s+${created.inode}\\n`),
      );

      const inside = await nsnet(
        "exec",
        name,
        "--",
        "readlink",
        "/proc/self/ns/net",
      );
      assertEquals(inside.code, 0);
      assertEquals(inside.stdout.trim(), `net:[${created.inode}]`);

      // A path works as well as a name, and options after -- belong to the command.
      const byPath = await nsnet(
        "exec",
        `/run/netns/${name}`,
        "--",
        "ip",
        "-br",
        "link",
        "show",
        "lo",
      );
      assertEquals(byPath.code, 0, byPath.stderr);
      assertMatch(byPath.stdout, /^lo\s/);

      const sleeper = new Deno.Command("ip", {
        args: ["netns", "exec", name, "sleep", "30"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        let pids: number[] = [];
        for (let i = 0; i < 100 && pids.length === 0; i++) {
          pids = JSON.parse((await nsnet("pids", name, "--json")).stdout);
          if (pids.length === 0) await new Promise((r) => setTimeout(r, 20));
        }
        assertEquals(pids.length, 1);
        const identify = await nsnet("identify", String(pids[0]));
        assertEquals(identify.stdout.trim(), name);
      } finally {
        sleeper.kill("SIGKILL");
        await sleeper.status;
      }
    } finally {
      const del = await nsnet("del", name);
      assertEquals(del.code, 0, del.stderr);
    }
    assert(!run("ip", "netns", "list").includes(name));
  },
);

nsTest("nsnet exec passes the exit status and signals through", async () => {
  const name = uniqueName("status");
  assertEquals((await nsnet("add", name)).code, 0);
  try {
    assertEquals(
      (await nsnet("exec", name, "--", "sh", "-c", "exit 7")).code,
      7,
    );
    assertEquals(
      (await nsnet("exec", name, "--", "sh", "-c", "kill -TERM $$")).code,
      143,
    );
    const missing = await nsnet("exec", name, "--", "no-such-command-nsnet");
    assertEquals(missing.code, 127);
    assertStringIncludes(
      missing.stderr,
      "no-such-command-nsnet: command not found",
    );
    const plain = await Deno.makeTempFile();
    try {
      await Deno.chmod(plain, 0o600);
      assertEquals((await nsnet("exec", name, "--", plain)).code, 126);
    } finally {
      await Deno.remove(plain);
    }
  } finally {
    await nsnet("del", name);
  }
});

nsTest(
  "nsnet errors are one line with cause and hint, and exit codes mean something",
  async () => {
    const missing = uniqueName("missing");
    const del = await nsnet("del", missing);
    assertEquals(del.code, 1);
    assertEquals(
      del.stderr,
      `nsnet: no network namespace at /run/netns/${missing} (see \`nsnet list\` for the namespaces that exist)\n`,
    );
    const exec = await nsnet("exec", missing, "--", "true");
    assertEquals(exec.code, 1);
    assertEquals(exec.stderr.split("\n").length, 2);

    const bad = await nsnet("add", "a/b");
    assertEquals(bad.code, 1);
    assertStringIncludes(
      bad.stderr,
      `invalid namespace name "a/b": it contains '/'`,
    );

    const name = uniqueName("twice");
    assertEquals((await nsnet("add", name)).code, 0);
    try {
      const twice = await nsnet("add", name);
      assertEquals(twice.code, 1);
      assertStringIncludes(twice.stderr, "already exists");
    } finally {
      await nsnet("del", name);
    }

    const usage = await nsnet("add");
    assertEquals(usage.code, 2);
    assertStringIncludes(usage.stderr, "missing required argument 'name'");
    assertEquals((await nsnet("frobnicate")).code, 2);
  },
);

nsTest(
  "nsnet --help and every subcommand's --help read well and exit 0",
  async () => {
    const help = await nsnet("--help");
    assertEquals(help.code, 0);
    for (const cmd of ["add", "del", "list", "exec", "pids", "identify"]) {
      assertStringIncludes(help.stdout, `\n  ${cmd}`);
      const sub = await nsnet(cmd, "--help");
      assertEquals(sub.code, 0, `${cmd} --help`);
      assertMatch(sub.stdout, new RegExp(`^Usage: nsnet ${cmd}`));
    }
    assertStringIncludes(help.stdout, "Exit status:");
    assertEquals((await nsnet("--version")).stdout.trim(), "0.1.0");
  },
);

nsTest(
  "nsnet add --pid names a running process's namespace; del removes a stale file",
  async () => {
    const child = new Deno.Command("unshare", {
      args: ["--net", "sleep", "30"],
      stdout: "null",
    }).spawn();
    const name = uniqueName("adopt");
    try {
      const host = Deno.readLinkSync("/proc/self/ns/net");
      for (
        let i = 0;
        i < 100 && Deno.readLinkSync(`/proc/${child.pid}/ns/net`) === host;
        i++
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const add = await nsnet("add", name, "--pid", String(child.pid));
      assertEquals(add.code, 0, add.stderr);
      assertEquals(
        run("ip", "netns", "exec", name, "readlink", "/proc/self/ns/net"),
        Deno.readLinkSync(`/proc/${child.pid}/ns/net`),
      );
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await nsnet("del", name);
    }
    const stale = uniqueName("stale");
    Deno.writeTextFileSync(`/run/netns/${stale}`, "");
    const list = JSON.parse((await nsnet("list", "--json")).stdout);
    assertEquals(
      list.find((e: { name: string }) => e.name === stale)?.status,
      "stale",
    );
    assertEquals((await nsnet("del", stale)).code, 0);
    assert(!succeeds("test", "-e", `/run/netns/${stale}`));
  },
);
