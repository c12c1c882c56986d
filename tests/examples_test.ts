/**
 * Every script in examples/ runs as README says: as root, and as an
 * unprivileged user inside `nsnet unshare`; and leaves no namespace,
 * sandbox record or veth behind.
 */
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { nsTest, run } from "./_helpers.ts";
import {
  asUser,
  cleanupRootless,
  nsnetAsUser,
  rootlessEnv,
} from "./_rootless.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const EXAMPLES = [...Deno.readDirSync(`${ROOT}examples`)]
  .map((e) => e.name).filter((n) => n.endsWith(".ts")).sort();

/** What a run may leave: namespace files, sandbox records, host-side veths. */
function leftovers(runDir: string, sandboxDir: string): string[] {
  const list = (dir: string): string[] => {
    try {
      return [...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`);
    } catch {
      return [];
    }
  };
  return [
    ...list(runDir),
    ...list(sandboxDir).filter((p) => p.endsWith(".json")),
  ];
}

function hostVeths(): string[] {
  return (JSON.parse(run("ip", "-j", "link", "show", "type", "veth")) as {
    ifname: string;
  }[]).map((l) => l.ifname);
}

/** `deno test` for the *_test.ts examples, `deno run` for the others. */
function argvFor(deno: string, example: string): string[] {
  const verb = example.endsWith("_test.ts") ? "test" : "run";
  // As from the checkout: its deno.json maps @nsnet/nsnet to this package.
  return [
    deno,
    verb,
    "--allow-all",
    "--quiet",
    `--config=${ROOT}deno.json`,
    `${ROOT}examples/${example}`,
  ];
}

Deno.test("examples/ holds the scripts README promises", () => {
  for (
    const name of ["http_server_test.ts", "lab_test.ts", "two_sandboxes.ts"]
  ) {
    assert(EXAMPLES.includes(name), `examples/${name} is missing`);
  }
});

for (const example of EXAMPLES) {
  nsTest(`example ${example} runs as root and leaves nothing`, async () => {
    const before = leftovers("/run/netns", "/run/nsnet/sandboxes");
    const veths = hostVeths();
    const [cmd, ...args] = argvFor(Deno.execPath(), example);
    const out = await new Deno.Command(cmd!, {
      args,
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, text);
    if (example === "two_sandboxes.ts") {
      assertMatch(text, /received "ping"/);
      assertMatch(text, /eth0@\S+\s+UP\s+10\.89\.0\.\d+\/24/);
    }
    assertEquals(leftovers("/run/netns", "/run/nsnet/sandboxes"), before);
    assertEquals(hostVeths(), veths);
  });

  nsTest(
    `example ${example} runs unprivileged inside nsnet unshare`,
    async () => {
      await cleanupRootless();
      const env = rootlessEnv();
      try {
        // The user reads the checkout and keeps Deno's cache in its home.
        const out = await nsnetAsUser([
          "unshare",
          "--",
          ...argvFor(env.deno, example),
        ]);
        assertEquals(out.code, 0, out.stdout + out.stderr);
        if (example === "two_sandboxes.ts") {
          assertMatch(out.stdout, /received "ping"/);
        }
        // Nothing left in the user's run dir or sandbox records.
        const left = await asUser([
          "sh",
          "-c",
          `ls ${env.runtimeDir}/nsnet/sandboxes 2>/dev/null | grep '\\.json$' || true`,
        ]);
        assertEquals(left.stdout.trim(), "");
      } finally {
        await cleanupRootless();
      }
    },
  );
}
