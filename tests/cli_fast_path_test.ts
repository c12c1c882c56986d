/**
 * The commands `cli.ts` runs without commander (`list`, `sandbox ls`,
 * `inspect`, `--help`, `--version`) print exactly what the full CLI prints
 * for the same arguments, and every other form of them (bad usage, a
 * subcommand's `--help`) still reaches the full CLI.
 */
import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { nsnet, nsTest, run, uniqueName } from "./_helpers.ts";

const root = new URL("../", import.meta.url);

/** What lib/cli/main.ts (commander, no fast path) does with `args`. */
async function fullCli(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { main } from "./lib/cli/main.ts"; Deno.exit(await main(${
        JSON.stringify(args)
      }));`,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

nsTest(
  "list, sandbox ls, inspect, --help, --version: the fast path prints what commander's CLI prints",
  async () => {
    const name = uniqueName("fast");
    run("ip", "netns", "add", name);
    try {
      run(
        "ip",
        "-n",
        name,
        "link",
        "add",
        "eth0",
        "type",
        "veth",
        "peer",
        "name",
        "eth1",
      );
      run("ip", "-n", name, "addr", "add", "10.99.0.2/24", "dev", "eth0");
      run("ip", "-n", name, "link", "set", "eth0", "up");
      const invocations = [
        ["--help"],
        ["-h"],
        ["help"],
        ["--version"],
        ["-V"],
        ["list"],
        ["ls", "--json"],
        ["--debug", "list"],
        ["sandbox", "ls"],
        ["sandbox", "list", "--json"],
        ["inspect", name],
        ["inspect", `/run/netns/${name}`, "--json"],
        ["inspect", "--json", "--pid", String(Deno.pid)],
        ["inspect", `--pid=${Deno.pid}`],
        ["inspect", "nsnet-test-no-such-namespace"],
        ["inspect", "--pid", "0"],
      ];
      for (const args of invocations) {
        const [fast, full] = await Promise.all([
          nsnet(...args),
          fullCli(...args),
        ]);
        assertEquals(fast, full, `nsnet ${args.join(" ")}`);
      }
      assertStringIncludes(
        (await nsnet("inspect", name)).stdout,
        "10.99.0.2/24",
      );
    } finally {
      run("ip", "netns", "del", name);
    }
  },
);

nsTest(
  "forms the fast path does not take still reach the full CLI: usage errors and subcommand help",
  async () => {
    const cases: [string[], number, string][] = [
      [["list", "extra"], 2, "too many arguments"],
      [["list", "--bogus"], 2, "unknown option '--bogus'"],
      [["inspect"], 2, "give either a namespace NAME|PATH or --pid PID"],
      [["inspect", "a", "--pid", "1"], 2, "give either"],
      [["inspect", "--pid"], 2, "argument missing"],
      [["list", "--help"], 0, "Usage: nsnet list"],
      [["sandbox", "ls", "--help"], 0, "Usage: nsnet sandbox ls"],
    ];
    for (const [args, code, text] of cases) {
      const result = await nsnet(...args);
      assertEquals(
        result.code,
        code,
        `nsnet ${args.join(" ")}: ${result.stderr}`,
      );
      assertStringIncludes(result.stdout + result.stderr, text);
    }
  },
);
