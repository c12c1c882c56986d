/**
 * Side by side in one run: how long nsnet's commands take to start and end,
 * against a Deno hello-world (from source, no config file beside it) and
 * `ip netns list` for reference. nsnet runs from source (`deno run
 * --allow-all cli.ts`, as JSR users run it) and from a bundle made for this
 * run (`deno task bundle`'s commands, into a temporary directory).
 *
 * Rows: `list`, `sandbox ls`, `--help`, `inspect NAME` (a namespace with a veth
 * pair and an address), and as root `run -- true` (bridge: the
 * bridge already up) and `run --network none -- true`. Each round runs every
 * row once, in an order that rotates; prints medians (wall time of the whole
 * command, in ms) and each row's ratio to the hello-world. Leaves nothing
 * behind. Run as root:
 *
 *   deno run --allow-all bench/compare_start.ts [ROUNDS]
 *
 * @module
 */

const rounds = Number(Deno.args[0] ?? 21);
const WARMUP = 3;
const root = new URL("../", import.meta.url).pathname;
const deno = Deno.execPath();

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function runOk(cmd: string, args: string[], cwd = root): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: exit ${out.code}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

async function timed(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<number> {
  const start = performance.now();
  await runOk(cmd, args, cwd);
  return performance.now() - start;
}

interface Row {
  label: string;
  cmd: string;
  args: string[];
  cwd: string;
  /** The hello-world row this one is divided by (its label). */
  base?: string;
}

const work = Deno.makeTempDirSync({ prefix: "nsnet-start-bench-" });
const hello = `${work}/hello/hello.ts`;
Deno.mkdirSync(`${work}/hello`);
Deno.writeTextFileSync(hello, 'console.log("hello");\n');
const bundle = `${work}/bundle`;
const ns = `nsnet-start-bench-${Deno.pid}`;

async function makeBundle(): Promise<void> {
  await runOk(deno, [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--code-splitting",
    "--outdir",
    bundle,
    "cli.ts",
  ]);
  for (
    const worker of [
      "lib/netns/_socket_worker.ts",
      "lib/ports/_forwarder_worker.ts",
      "lib/rootless/_thread_run_worker.ts",
    ]
  ) {
    await runOk(deno, [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "--outdir",
      bundle,
      worker,
    ]);
  }
}

try {
  await makeBundle();
  await runOk("ip", ["netns", "add", ns]);
  await runOk("ip", [
    "-n",
    ns,
    "link",
    "add",
    "eth0",
    "type",
    "veth",
    "peer",
    "name",
    "eth1",
  ]);
  await runOk("ip", ["-n", ns, "addr", "add", "10.99.0.2/24", "dev", "eth0"]);
  await runOk("ip", ["-n", ns, "link", "set", "eth0", "up"]);

  const commands: [string, string[]][] = [
    ["list", ["list"]],
    ["sandbox ls", ["sandbox", "ls"]],
    ["--help", ["--help"]],
    ["inspect NAME", ["inspect", ns]],
    ["run -- true (bridge)", ["run", "--", "true"]],
    ["run --network none -- true", ["run", "--network", "none", "--", "true"]],
  ];
  const rows: Row[] = [
    { label: "hello-world", cmd: deno, args: ["run", hello], cwd: work },
    { label: "`ip netns list`", cmd: "ip", args: ["netns", "list"], cwd: work },
  ];
  for (const [label, args] of commands) {
    rows.push({
      label: `nsnet ${label}, source`,
      cmd: deno,
      args: ["run", "--allow-all", "cli.ts", ...args],
      cwd: root,
      base: "hello-world",
    });
    rows.push({
      label: `nsnet ${label}, bundle`,
      cmd: deno,
      args: ["run", "--allow-all", `${bundle}/cli.js`, ...args],
      cwd: work,
      base: "hello-world",
    });
  }

  const times = new Map<string, number[]>(rows.map((r) => [r.label, []]));
  for (let round = 0; round < WARMUP + rounds; round++) {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[(i + round) % rows.length]!;
      const ms = await timed(row.cmd, row.args, row.cwd);
      if (round >= WARMUP) times.get(row.label)!.push(ms);
    }
  }

  const medians = new Map(
    [...times].map(([label, values]) => [label, median(values)]),
  );
  console.log(
    `start and end of a command, median of ${rounds} rounds (ms); ratio to a Deno hello-world`,
  );
  console.log();
  console.log("| command | ms | ÷ hello-world |");
  console.log("| --- | ---: | ---: |");
  for (const row of rows) {
    const ms = medians.get(row.label)!;
    const base = medians.get(row.base ?? row.label)!;
    console.log(
      `| ${row.label} | ${ms.toFixed(1)} | ${(ms / base).toFixed(2)}× |`,
    );
  }
} finally {
  await new Deno.Command("ip", { args: ["netns", "del", ns], stderr: "null" })
    .output();
  Deno.removeSync(work, { recursive: true });
}
