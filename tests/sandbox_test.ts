import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "./_assert.ts";
import { killOrphans, nsnet, nsTest, run, succeeds } from "./_helpers.ts";
import { findInPath } from "../lib/rootless/helper_options.ts";
import { FAULT_CLI, FAULT_ENV } from "./_fixtures/fault_cli.ts";

const STATE = "/run/nsnet/sandboxes";

function records(): string[] {
  try {
    return [...Deno.readDirSync(STATE)].map((e) => e.name).filter((n) =>
      n.endsWith(".json")
    );
  } catch {
    return [];
  }
}

function nsFiles(): string[] {
  return [...Deno.readDirSync("/run/netns")].map((e) => e.name).filter((n) =>
    n.startsWith("netns-")
  );
}

function helperProcesses(): string[] {
  const found: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      const status = Deno.readTextFileSync(`/proc/${e.name}/status`);
      if (
        /^Uid:\s+0\s/m.test(status) &&
        argv.some((a) => a.startsWith("/run/netns/netns-"))
      ) {
        found.push(argv.join(" "));
      }
    } catch { /* gone */ }
  }
  return found;
}

function phaseOf(name: string): string | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${STATE}/${name}.json`)).phase;
  } catch {
    return undefined;
  }
}

/** What sandboxes leave: records, namespace files, helpers. Must be empty after each test. */
function remains(): {
  records: string[];
  namespaces: string[];
  helpers: string[];
} {
  return {
    records: records(),
    namespaces: nsFiles(),
    helpers: helperProcesses(),
  };
}

const EMPTY = { records: [], namespaces: [], helpers: [] };

const HELPERS = ["slirp4netns", "pasta"].filter((h) =>
  findInPath(h) !== undefined
);

for (const helper of HELPERS) {
  nsTest(
    `nsnet run --network ${helper}: the self-check reaches the host's loopback and cleans up`,
    async () => {
      const out = await nsnet("run", "--network", helper, "--json");
      assertEquals(out.code, 0, out.stderr);
      const report = JSON.parse(out.stdout);
      assertEquals(report.network, helper);
      assertEquals(report.interfaces.tap0.subnets, [{
        ipnet: "10.0.2.100/24",
        gateway: "10.0.2.2",
      }]);
      assertEquals(report.dns[0], "10.0.2.3");
      assertEquals(report.tcp.ok, true);
      assertMatch(report.tcp.detail, /answered "pong ping [0-9a-f]{8}"/);
      assert(report.stats.txBytes > 0);
      assertEquals(remains(), EMPTY);
    },
  );
}

nsTest(
  "nsnet run --network none: loopback only, up; the command's status comes back; --stats",
  async () => {
    const out = await nsnet(
      "run",
      "--network",
      "none",
      "--stats",
      "--",
      "sh",
      "-c",
      "ip -o link; ip -o addr show lo; exit 3",
    );
    assertEquals(out.code, 3, out.stderr);
    const links = out.stdout.split("\n").filter((l) => /^\d+: \S+: </.test(l));
    assertEquals(links.length, 1);
    assertMatch(links[0]!, /^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    assertStringIncludes(out.stdout, "inet 127.0.0.1/8");
    assertStringIncludes(
      out.stdout,
      "no network namespace: no statistics".slice(0, 0),
    ); // stats printed below
    assertMatch(out.stdout, /total: rx \d+ bytes, tx \d+ bytes/);
    const missing = await nsnet(
      "run",
      "--network",
      "none",
      "--",
      "/nonexistent",
    );
    assertEquals(missing.code, 127, missing.stderr);
    assertEquals(missing.stderr, "nsnet: /nonexistent: command not found\n");
    assertEquals(remains(), EMPTY);
  },
);

nsTest(
  "ns:PATH and sandbox:NAME share the namespace; inspect names the owner (S12, S13)",
  async () => {
    const name = `nsnet-test-${Deno.pid}-join`;
    run("ip", "netns", "add", name);
    try {
      assertEquals(
        (await nsnet("sandbox", "create", "owner", "--network", "slirp4netns"))
          .code,
        0,
      );
      assertEquals(
        (await nsnet("sandbox", "create", "mid", "--network", "sandbox:owner"))
          .code,
        0,
      );
      assertEquals(
        (await nsnet("sandbox", "create", "leaf", "--network", "sandbox:mid"))
          .code,
        0,
      );
      assertEquals(
        (await nsnet(
          "sandbox",
          "create",
          "joined",
          "--network",
          `ns:/run/netns/${name}`,
        )).code,
        0,
      );
      const leaf = JSON.parse(
        (await nsnet("sandbox", "inspect", "leaf", "--json")).stdout,
      );
      const owner = JSON.parse(
        (await nsnet("sandbox", "inspect", "owner", "--json")).stdout,
      );
      assertEquals(leaf.owner, "owner");
      assertEquals(leaf.netnsPath, owner.netnsPath);
      assertEquals(leaf.status, owner.status);
      const inside = await nsnet(
        "sandbox",
        "exec",
        "leaf",
        "--",
        "readlink",
        "/proc/self/ns/net",
      );
      assertEquals(
        inside.stdout.trim(),
        (await nsnet(
          "sandbox",
          "exec",
          "owner",
          "--",
          "readlink",
          "/proc/self/ns/net",
        )).stdout.trim(),
      );
      const joined = JSON.parse(
        (await nsnet("sandbox", "inspect", "joined", "--json")).stdout,
      );
      assertEquals(joined.netnsPath, `/run/netns/${name}`);
      assertEquals(joined.status, {}); // nothing configured there: Podman omits empty fields
      // The owner cannot go while others share its namespace.
      const refused = await nsnet("sandbox", "rm", "owner");
      assertEquals(refused.code, 1);
      assertStringIncludes(refused.stderr, "mid");
      assertEquals(
        (await nsnet("sandbox", "rm", "leaf", "mid", "owner", "joined")).code,
        0,
      );
      // A joined namespace is not ours: it stays.
      assert(succeeds("ip", "netns", "exec", name, "true"));
    } finally {
      await nsnet("sandbox", "rm", "--force", "leaf", "mid", "owner", "joined");
      run("ip", "netns", "del", name);
    }
    assertEquals(remains(), EMPTY);
  },
);

nsTest(
  "a failure injected during configure or teardown still leaves nothing, and is reported",
  async () => {
    const failed = await nsnet(
      "sandbox",
      "create",
      "broken",
      "--network",
      "slirp4netns",
    );
    void failed;
    await nsnet("sandbox", "rm", "broken");
    for (const step of ["sandbox-after-netns", "sandbox-after-configure"]) {
      const out = await runWithFault(step, [
        "sandbox",
        "create",
        "faulty",
        "--network",
        "slirp4netns",
      ]);
      assertEquals(out.code, 1);
      assertStringIncludes(out.stderr, `injected fault at ${step}`);
      assertEquals(remains(), EMPTY, `after a fault at ${step}`);
    }
    assertEquals(
      (await nsnet("sandbox", "create", "faulty", "--network", "slirp4netns"))
        .code,
      0,
    );
    const rm = await runWithFault("sandbox-teardown-backend", [
      "sandbox",
      "rm",
      "faulty",
    ]);
    assertEquals(rm.code, 1);
    assertStringIncludes(
      rm.stderr,
      "injected fault at sandbox-teardown-backend",
    );
    assertEquals(remains(), EMPTY, "after a failed backend teardown");
  },
);

async function runWithFault(
  step: string,
  args: string[],
): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      FAULT_CLI,
      ...args,
    ],
    env: { [FAULT_ENV]: step, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

nsTest(
  "SIGTERM to nsnet run passes to the command and the sandbox is torn down",
  async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--quiet",
        new URL("../cli.ts", import.meta.url).pathname,
        "run",
        "--network",
        "slirp4netns",
        "--name",
        "term",
        "--",
        "sleep",
        "30",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    for (let i = 0; i < 200 && helperProcesses().length === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    await new Promise((r) => setTimeout(r, 200));
    child.kill("SIGTERM");
    const status = await child.status;
    await child.stderr.cancel();
    assertEquals(status.code, 143);
    assertEquals(remains(), EMPTY);
  },
);

nsTest(
  "after SIGKILL of nsnet run, the next nsnet run removes the remains",
  async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--quiet",
        new URL("../cli.ts", import.meta.url).pathname,
        "run",
        "--network",
        "slirp4netns",
        "--name",
        "killed",
        "--",
        "sleep",
        "30",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Killed once it runs its command: the sandbox is complete, nothing is mid-way.
    for (let i = 0; i < 400 && phaseOf("killed") !== "ready"; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    assertEquals(phaseOf("killed"), "ready");
    await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGKILL");
    await child.status;
    try {
      // The helper was started with an exit pipe held by nsnet run: it went with it.
      for (let i = 0; i < 100 && helperProcesses().length > 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const left = remains();
      assertEquals(left.helpers, []);
      assertEquals(left.records.filter((r) => r.endsWith(".json")), [
        "killed.json",
      ]);
      assertEquals(left.namespaces.length, 1);
    } finally {
      // The next nsnet run removes what the killed one left.
      const next = await nsnet("run", "--network", "none", "--", "true");
      assertEquals(next.code, 0, next.stderr);
      assertStringIncludes(
        next.stderr,
        "removed sandbox killed, left by an nsnet run",
      );
      killOrphans(0, ["sleep", "30"]);
    }
    assertEquals(remains(), EMPTY);
  },
);

nsTest("bad sandbox input: clear errors, nothing created", async () => {
  const cases: [string[], string][] = [
    [["sandbox", "create", "a/b", "--network", "none"], "contains '/'"],
    [["sandbox", "create", "x", "--network", "ns:relative"], "absolute path"],
    [
      ["sandbox", "create", "x", "--network", "sandbox:missing"],
      "no sandbox named missing",
    ],
    [
      ["sandbox", "create", "x", "--network", "ns:/run/netns/nsnet-missing"],
      "no network namespace",
    ],
    [
      ["sandbox", "create", "x", "--network", "none", "-p", "8080:80"],
      "port mappings need a network of the sandbox's own",
    ],
    [["sandbox", "rm", "missing"], "no sandbox named missing"],
    [
      ["sandbox", "create", "x", "--network", "nope"],
      'no network named "nope"',
    ],
    [
      ["sandbox", "create", "x", "--backend", "foo"],
      'unknown network backend "foo"',
    ],
    [
      ["sandbox", "create", "x", "--network", "none", "--backend", "cni"],
      "--backend applies to named networks",
    ],
  ];
  for (const [args, message] of cases) {
    const out = await nsnet(...args);
    assertEquals(out.code, 1, args.join(" "));
    assertStringIncludes(out.stderr, message);
  }
  assertEquals(remains(), EMPTY);
});
