import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import { cleanupRootless, nsnetAsUser, rootlessEnv } from "./_rootless.ts";

function pausePid(): number | undefined {
  try {
    return Number(
      Deno.readTextFileSync(`${rootlessEnv().runtimeDir}/nsnet/pause.pid`)
        .trim(),
    );
  } catch {
    return undefined;
  }
}

nsTest(
  "nsnet unshare runs a command as root in the user's own user namespace",
  async () => {
    await cleanupRootless();
    try {
      const env = rootlessEnv();
      const out = await nsnetAsUser([
        "unshare",
        "--",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map",
      ]);
      assertEquals(out.code, 0, out.stderr);
      const [uid, ...map] = out.stdout.trim().split("\n");
      assertEquals(uid, "0");
      // Root inside is the user outside; the subordinate range is mapped too (--map-auto).
      assertMatch(map[0]!, new RegExp(`^\\s*0\\s+${env.uid}\\s+1$`));
      assertEquals(map.length, 2);
      assertEquals(
        (await nsnetAsUser(["unshare", "--", "sh", "-c", "exit 5"])).code,
        5,
      );
      const pid = pausePid();
      assert(pid !== undefined);
      assertEquals(
        Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")[0],
        "nsnet-pause",
      );
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "rootless add, list, exec and del work in $XDG_RUNTIME_DIR/netns",
  async () => {
    await cleanupRootless();
    try {
      const env = rootlessEnv();
      assertEquals((await nsnetAsUser(["add", "blue", "--json"])).code, 0);
      const list = JSON.parse((await nsnetAsUser(["list", "--json"])).stdout);
      assertEquals(
        list.map((
          e: { name: string; path: string; status: string },
        ) => [e.name, e.path, e.status]),
        [
          ["blue", `${env.runtimeDir}/netns/blue`, "ok"],
        ],
      );
      const links = await nsnetAsUser([
        "exec",
        "blue",
        "--",
        "ip",
        "-o",
        "link",
      ]);
      assertEquals(links.code, 0, links.stderr);
      assertEquals(
        links.stdout.trim().split("\n").length,
        1,
        "a new namespace has only lo",
      );
      assertEquals(
        (await nsnetAsUser(["exec", "blue", "--", "sh", "-c", "exit 9"])).code,
        9,
      );
      assertEquals(
        (await nsnetAsUser(["exec", "blue", "--", "no-such-cmd"])).code,
        127,
      );
      const again = await nsnetAsUser(["add", "blue"]);
      assertEquals(again.code, 1);
      assertStringIncludes(again.stderr, "already exists");
      assertEquals((await nsnetAsUser(["del", "blue"])).code, 0);
      assertEquals(
        JSON.parse((await nsnetAsUser(["list", "--json"])).stdout),
        [],
      );
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "concurrent first runs share one pause process; a stale pid file is replaced",
  async () => {
    await cleanupRootless();
    try {
      const results = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            nsnetAsUser(["unshare", "--", "readlink", "/proc/self/ns/user"]),
        ),
      );
      for (const r of results) assertEquals(r.code, 0, r.stderr);
      assertEquals(
        new Set(results.map((r) => r.stdout.trim())).size,
        1,
        "more than one user namespace",
      );
      const first = pausePid()!;
      // The pause process dies; its pid file stays behind, stale.
      await new Deno.Command("kill", { args: ["-KILL", String(first)] })
        .output();
      await new Promise((r) => setTimeout(r, 50));
      const out = await nsnetAsUser(["unshare", "--", "true"]);
      assertEquals(out.code, 0, out.stderr);
      assertStringIncludes(out.stderr, "replacing a stale pause pid file");
      assert(pausePid() !== first);
      // A pid file naming someone else's process is not trusted either.
      Deno.writeTextFileSync(
        `${rootlessEnv().runtimeDir}/nsnet/pause.pid`,
        "1\n",
      );
      assertEquals((await nsnetAsUser(["unshare", "--", "true"])).code, 0);
      assert(pausePid() !== 1);
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "a bad XDG_RUNTIME_DIR is a clear error naming the fix, and nothing is created",
  async () => {
    const env = rootlessEnv();
    const unset = await nsnetAsUser(["list"], { XDG_RUNTIME_DIR: "" });
    assertEquals(unset.code, 1);
    assertStringIncludes(unset.stderr, "XDG_RUNTIME_DIR is not set");
    assertStringIncludes(
      unset.stderr,
      `export XDG_RUNTIME_DIR=/run/user/${env.uid}`,
    );

    const foreign = await nsnetAsUser(["list"], { XDG_RUNTIME_DIR: "/tmp" });
    assertEquals(foreign.code, 1);
    assertStringIncludes(foreign.stderr, "belongs to uid 0");

    const link = `/tmp/nsnet-xdg-link-${Deno.pid}`;
    Deno.symlinkSync(env.runtimeDir, link);
    try {
      const viaLink = await nsnetAsUser(["list"], { XDG_RUNTIME_DIR: link });
      assertEquals(viaLink.code, 1);
      assertStringIncludes(viaLink.stderr, "reached through a symbolic link");
      assertStringIncludes(
        viaLink.stderr,
        `export XDG_RUNTIME_DIR=${env.runtimeDir}`,
      );
    } finally {
      Deno.removeSync(link);
    }
    let leftovers: string[] = [];
    try {
      leftovers = [...Deno.readDirSync(`${env.runtimeDir}`)].map((e) => e.name);
    } catch { /* none */ }
    assertEquals(leftovers.filter((n) => n === "nsnet" || n === "netns"), []);
  },
);
