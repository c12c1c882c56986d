import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { nsnet, nsTest } from "./_helpers.ts";

const NETNS = new URL("../lib/netns/mod.ts", import.meta.url).href;
const ROOTLESS = new URL("../lib/rootless/mod.ts", import.meta.url).href;

/** Runs a snippet in a fresh user namespace (mapped root, so rootless) and returns its output. */
async function inUserNamespace(
  code: string,
  env: Record<string, string>,
): Promise<string> {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(
      script,
      `import * as netns from "${NETNS}";\nimport { isRootless } from "${ROOTLESS}";\nconst m = { ...netns, isRootless };\n${code}`,
    );
    const out = await new Deno.Command("unshare", {
      args: [
        "--user",
        "--map-root-user",
        Deno.execPath(),
        "run",
        "--allow-all",
        script,
      ],
      env: { NO_COLOR: "1", ...env },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return decoder.decode(out.stdout) + decoder.decode(out.stderr);
  } finally {
    await Deno.remove(script);
  }
}

const HOME = Deno.env.get("HOME") ?? "/root";
const DENO_DIR = Deno.env.get("DENO_DIR") ?? `${HOME}/.cache/deno`;

nsTest(
  "as root the run dir is /run/netns; rootless it is $XDG_RUNTIME_DIR/netns",
  async () => {
    const { nsRunDir } = await import("../lib/netns/mod.ts");
    const { isRootless } = await import("../lib/rootless/mod.ts");
    assertEquals(isRootless(), false);
    assertEquals(nsRunDir(), "/run/netns");
    const out = await inUserNamespace(
      "console.log(m.isRootless(), m.nsRunDir(), m.nsPath('blue'), m.nsPath('/proc/1/ns/net'));",
      { XDG_RUNTIME_DIR: "/tmp/nsnet-xdg-test", DENO_DIR, HOME },
    );
    assertEquals(
      out.trim(),
      "true /tmp/nsnet-xdg-test/netns /tmp/nsnet-xdg-test/netns/blue /proc/1/ns/net",
    );
  },
);

nsTest(
  "rootless without XDG_RUNTIME_DIR is a clear error with the fix",
  async () => {
    const out = await inUserNamespace(
      "try { m.nsRunDir() } catch (e) { console.log(e.message, '|', e.hint) }",
      { DENO_DIR, HOME },
    );
    assertStringIncludes(out, "XDG_RUNTIME_DIR is not set");
    assertStringIncludes(out, "export XDG_RUNTIME_DIR=/run/user/$(id -u)");
  },
);

nsTest("--debug logs each namespace made and removed", async () => {
  const name = `nsnet-test-${Deno.pid}-debug`;
  const add = await nsnet("--debug", "add", name);
  assertEquals(add.code, 0);
  assertStringIncludes(
    add.stderr,
    `created namespace /run/netns/${name}`,
  );
  const del = await nsnet("--debug", "del", name);
  assertStringIncludes(
    del.stderr,
    `removed namespace /run/netns/${name}`,
  );
  const quiet = await nsnet("add", name);
  assertEquals(quiet.stderr, "");
  await nsnet("del", name);
});
