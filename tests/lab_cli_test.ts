/**
 * `nsnet lab …` against the kernel, as root: up, ls, show, exec, impair and
 * down in-process (the commander command itself); what needs a process of
 * its own (a lab that outlives `up`, a `lab run` ended by a signal, an `up`
 * killed midway, exit statuses) through `deno run cli.ts`. Every test
 * checks that nothing is left: no namespace of the lab, no record, no new
 * nftables table on the host.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "./_assert.ts";
import { cliOf } from "./_fixtures/cli.ts";
import { nftTables, nsnet, nsTest } from "./_helpers.ts";
import { cleanupRootless, nsnetAsUser, rootlessEnv } from "./_rootless.ts";
import { labCommand } from "../lib/cli/lab.ts";
import { ExitRequest } from "../lib/cli/output.ts";
import { Lab, type LabStatus } from "../lib/lab/lab.ts";
import { labNetnsPrefix } from "../lib/lab/plan.ts";
import { readLabRecord } from "../lib/lab/store.ts";
import type { LabSpec } from "../lib/lab/types.ts";

const lab = cliOf(() => [labCommand()]);
const CLI = new URL("../cli.ts", import.meta.url).pathname;

let counter = 0;
/** A lab name unique to this test process. */
function labName(tag: string): string {
  return `t${Deno.pid % 100000}${tag}${counter++}`;
}

/** Namespaces of lab `name` that exist now. */
function namespacesOf(name: string): string[] {
  const prefix = labNetnsPrefix(name);
  try {
    return [...Deno.readDirSync("/run/netns")].map((e) => e.name).filter((
      n,
    ) => n.startsWith(prefix));
  } catch {
    return [];
  }
}

/** Writes `spec` to a temporary file named `<name>.json`; returns its path. */
function specFile(dir: string, name: string, spec: unknown): string {
  const path = `${dir}/${name}.json`;
  Deno.writeTextFileSync(path, JSON.stringify(spec));
  return path;
}

const CHAIN: LabSpec = {
  nodes: { a: {}, r: { router: true }, b: {} },
  links: [
    { ends: ["a", "r"], rate: "20mbit" },
    { ends: ["r", "b"], loss: "20%" },
  ],
};

function bigChain(count: number): LabSpec {
  const nodes: LabSpec["nodes"] = {};
  for (let i = 0; i < count; i++) {
    nodes[`n${i}`] = i === 0 || i === count - 1 ? {} : { router: true };
  }
  const links: NonNullable<LabSpec["links"]> = [];
  for (let i = 0; i + 1 < count; i++) {
    links.push({ ends: [`n${i}`, `n${i + 1}`] });
  }
  return { nodes, links };
}

/** Asserts that lab `name` has left nothing: no record, no namespace, no new host nft table. */
function assertGone(name: string, tablesBefore: string[]): void {
  assertEquals(readLabRecord(name), undefined, `record of ${name} left`);
  assertEquals(namespacesOf(name), [], `namespaces of ${name} left`);
  assertEquals(nftTables(), tablesBefore, "nftables tables left on the host");
}

/** Runs `fn` with a temp dir; lab `name` is removed afterwards whatever happens. */
async function withLab(
  name: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "nsnet-lab-cli-" });
  const tables = nftTables();
  try {
    await fn(dir);
  } finally {
    await Lab.removeByName(name);
    Deno.removeSync(dir, { recursive: true });
  }
  assertGone(name, tables);
}

nsTest("lab up, ls, show --json, exec, impair, down", async () => {
  const name = labName("u");
  await withLab(name, async (dir) => {
    const file = specFile(dir, "chain", CHAIN);
    const status = JSON.parse(
      await lab("lab", "up", file, "--name", name, "--json"),
    ) as LabStatus;
    assertEquals(status.name, name);
    assertEquals(status.phase, "ready");
    assertEquals(status.nodes.map((n) => n.name), ["a", "r", "b"]);
    assertEquals(namespacesOf(name).length, 3);

    const listed = JSON.parse(await lab("lab", "ls", "--json")) as {
      name: string;
      phase: string;
      nodes: string[];
    }[];
    const mine = listed.find((l) => l.name === name);
    assert(mine !== undefined, "the lab is listed");
    assertEquals(mine.nodes, ["a", "r", "b"]);
    assertMatch(await lab("lab", "ls"), new RegExp(`^${name}\\s+ready`, "m"));

    const shown = JSON.parse(
      await lab("lab", "show", name, "--json"),
    ) as LabStatus;
    const b = shown.nodes.find((n) => n.name === "b")!;
    const bAddress = b.interfaces[0]!.addresses[0]!.split("/")[0]!;
    assertMatch(bAddress, /^10\.77\.\d+\.\d+$/);
    assertEquals(shown.links.map((l) => l.impairment), [
      { rate: "20mbit" },
      { loss: "20%" },
    ]);
    assert(
      shown.links.every((l) => l.ends?.every((e) => e.stats !== undefined)),
      "live counters of every end",
    );
    const table = await lab("lab", "show", name);
    assertStringIncludes(table, "rate 20mbit");
    assertStringIncludes(table, b.interfaces[0]!.addresses[0]!);

    // a reaches b through r (r–b loses 20% each way: one reply of ten is enough);
    // exec passes the command's status through.
    await lab(
      "lab",
      "exec",
      name,
      "a",
      "--",
      "ping",
      "-q",
      "-c",
      "10",
      "-i",
      "0.05",
      "-W",
      "2",
      bAddress,
    );
    const seven = await assertRejects(
      () => lab("lab", "exec", name, "a", "--", "sh", "-c", "exit 7"),
      ExitRequest,
    );
    assertEquals(seven.code, 7);

    // impair: the given field changes, the others stay; --from names one end.
    await lab(
      "lab",
      "impair",
      name,
      "r",
      "b",
      "--rate",
      "10mbit",
      "--from",
      "r",
    );
    let link =
      (JSON.parse(await lab("lab", "show", name, "--json")) as LabStatus)
        .links[1]!;
    assertEquals(link.impairment, { rate: "10mbit", loss: "20%" });
    assertEquals(link.from, "r");
    assertStringIncludes(
      await lab("lab", "impair", name, "r", "b"),
      "rate 10mbit, loss 20% (from r)",
    );
    await lab("lab", "impair", name, "r", "b", "--loss", "none");
    link = (JSON.parse(await lab("lab", "show", name, "--json")) as LabStatus)
      .links[1]!;
    assertEquals(link.impairment, { rate: "10mbit" });

    // A partition, and it heals.
    await lab("lab", "impair", name, "r", "b", "--down");
    const cut = await assertRejects(
      () =>
        lab(
          "lab",
          "exec",
          name,
          "a",
          "--",
          "ping",
          "-q",
          "-c",
          "1",
          "-W",
          "1",
          bAddress,
        ),
      ExitRequest,
    );
    assert(cut.code !== 0);
    assertStringIncludes(await lab("lab", "show", name), "down");
    await lab("lab", "impair", name, "r", "b", "--up", "--clear");
    await lab(
      "lab",
      "exec",
      name,
      "a",
      "--",
      "ping",
      "-q",
      "-c",
      "1",
      "-W",
      "2",
      bAddress,
    );
    link = (JSON.parse(await lab("lab", "show", name, "--json")) as LabStatus)
      .links[1]!;
    assertEquals([link.impairment, link.down, link.from], [
      {},
      false,
      undefined,
    ]);

    // down, twice: the second finds nothing and is fine.
    await lab("lab", "down", name);
    await lab("lab", "down", name);
    assertEquals(namespacesOf(name), []);
  });
});

nsTest(
  "lab up outlives its process; errors name the lab, the node, the link",
  async () => {
    const name = labName("d");
    await withLab(name, async (dir) => {
      const file = specFile(dir, name, CHAIN);
      const up = await nsnet("lab", "up", file); // the name from the file
      assertEquals([up.code, up.stdout.trim(), up.stderr], [0, name, ""]);
      assertEquals(namespacesOf(name).length, 3);
      assertEquals(readLabRecord(name)?.phase, "ready");

      const again = await nsnet("lab", "up", file);
      assertEquals(again.code, 1);
      assertMatch(
        again.stderr.trim(),
        /^nsnet: a lab named "[^"]+" exists already/,
      );

      const exec = await nsnet(
        "lab",
        "exec",
        name,
        "b",
        "--",
        "sh",
        "-c",
        "exit 3",
      );
      assertEquals(exec.code, 3);
      const missing = await nsnet(
        "lab",
        "exec",
        name,
        "b",
        "--",
        "no-such-cmd",
      );
      assertEquals(missing.code, 127);
      const node = await nsnet("lab", "exec", name, "zz", "--", "true");
      assertEquals(node.code, 1);
      assertEquals(node.stderr.trim().split("\n").length, 1);
      assertStringIncludes(node.stderr, `no node named "zz"`);
      const noLink = await nsnet(
        "lab",
        "impair",
        name,
        "a",
        "b",
        "--loss",
        "1%",
      );
      assertEquals(noLink.code, 1);
      assertStringIncludes(noLink.stderr, "no link between a and b");
      const badValue = await nsnet(
        "lab",
        "impair",
        name,
        "a",
        "r",
        "--loss",
        "120%",
      );
      assertEquals(badValue.code, 1);
      assertStringIncludes(badValue.stderr, "loss");
      const noLab = await nsnet("lab", "show", `${name}x`);
      assertEquals(noLab.code, 1);
      assertEquals(noLab.stderr.trim().split("\n").length, 1);
      assertStringIncludes(noLab.stderr, `no lab named "${name}x"`);

      const down = await nsnet("lab", "down", name);
      assertEquals([down.code, down.stderr], [0, ""]);
      assertEquals(namespacesOf(name), []);
      const downAgain = await nsnet("lab", "down", name);
      assertEquals(downAgain.code, 0);
    });
  },
);

nsTest("a bad spec file: exit 1, the field named, nothing made", async () => {
  const name = labName("b");
  await withLab(name, async (dir) => {
    const file = specFile(dir, name, {
      nodes: { a: {}, b: {} },
      links: [{ ends: ["a", "x"] }],
    });
    for (
      const args of [["lab", "up", file], ["lab", "run", file, "--", "true"]]
    ) {
      const out = await nsnet(...args);
      assertEquals(out.code, 1, args.join(" "));
      assertEquals(out.stderr.trim().split("\n").length, 1);
      assertStringIncludes(out.stderr, "links[0].ends[1]");
      assertEquals(readLabRecord(name), undefined);
      assertEquals(namespacesOf(name), []);
    }
    const rate = specFile(dir, `${name}r`, {
      nodes: { a: {}, b: {} },
      links: [{ ends: ["a", "b"], rate: "fast" }],
    });
    const out = await nsnet("lab", "up", rate);
    assertEquals(out.code, 1);
    assertStringIncludes(out.stderr, "links[0].rate");
    assertEquals(namespacesOf(`${name}r`), []);
    const gone = await nsnet("lab", "up", `${dir}/nope.json`);
    assertEquals(gone.code, 1);
    assertStringIncludes(gone.stderr, "nope.json");
  });
});

nsTest(
  "lab run: NSNET_LAB set, the status passed through, the lab removed",
  async () => {
    const name = labName("r");
    await withLab(name, async (dir) => {
      const file = specFile(dir, "run", CHAIN);
      const out = await nsnet(
        "lab",
        "run",
        file,
        "--name",
        name,
        "--",
        "sh",
        "-c",
        `echo "lab=$NSNET_LAB"; ls /run/netns | grep -c '^${
          labNetnsPrefix(name).replaceAll(".", "\\.")
        }'; exit 5`,
      );
      assertEquals(out.code, 5, out.stderr);
      assertEquals(out.stdout.trim().split("\n"), [`lab=${name}`, "3"]);
      assertEquals(namespacesOf(name), []);
      assertEquals(readLabRecord(name), undefined);

      const missing = await nsnet(
        "lab",
        "run",
        file,
        "--name",
        name,
        "--",
        "no-such-cmd",
      );
      assertEquals(missing.code, 127);
      assertEquals(namespacesOf(name), []);
    });
  },
);

nsTest(
  "lab run ended by SIGTERM: the command gets it, the lab goes",
  async () => {
    const name = labName("s");
    await withLab(name, async (dir) => {
      const file = specFile(dir, "sig", CHAIN);
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          CLI,
          "lab",
          "run",
          file,
          "--name",
          name,
          "--",
          "sleep",
          "30",
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const stderr = child.stderr.pipeThrough(new TextDecoderStream())
        .getReader();
      const deadline = Date.now() + 20_000;
      while (readLabRecord(name)?.phase !== "ready") {
        assert(Date.now() < deadline, "the lab did not come up");
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 200)); // sleep has started
      child.kill("SIGTERM");
      const status = await child.status;
      let text = "";
      for (
        let r = await stderr.read();
        !r.done;
        r = await stderr.read()
      ) text += r.value;
      assertEquals(status.code, 143, text);
      assertEquals(namespacesOf(name), []);
      assertEquals(readLabRecord(name), undefined);
    });
  },
);

/** Starts `nsnet lab up FILE --name NAME` and SIGKILLs it once some namespaces exist, before it is done. */
async function killedUp(file: string, name: string): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, "lab", "up", file, "--name", name],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 20_000;
  while (namespacesOf(name).length < 3) {
    assert(Date.now() < deadline, "lab up made no namespaces");
    await new Promise((r) => setTimeout(r, 2));
  }
  child.kill("SIGKILL");
  await child.status;
  assertEquals(readLabRecord(name)?.phase, "creating", "killed midway");
  assert(namespacesOf(name).length > 0, "remains left");
}

nsTest(
  "a killed lab up: removed by lab down, and by the next up of that name",
  async () => {
    const name = labName("k");
    await withLab(name, async (dir) => {
      const file = specFile(dir, "big", bigChain(80));
      await killedUp(file, name);
      const listed = await nsnet("lab", "ls");
      assertMatch(listed.stdout, new RegExp(`^${name}\\s+remains`, "m"));
      const down = await nsnet("lab", "down", name);
      assertEquals([down.code, down.stderr], [0, ""]);
      assertEquals(namespacesOf(name), []);
      assertEquals(readLabRecord(name), undefined);

      await killedUp(file, name);
      const up = await nsnet("lab", "up", file, "--name", name);
      assertEquals(up.code, 0, up.stderr);
      assertEquals(readLabRecord(name)?.phase, "ready");
      assertEquals(namespacesOf(name).length, 80);
      const last = await nsnet("lab", "down", name);
      assertEquals(last.code, 0);
    });
  },
);

nsTest(
  "unprivileged: lab up, exec, impair, show, down and run through nsnet's user namespace",
  async () => {
    await cleanupRootless();
    const env = rootlessEnv();
    const dir = Deno.makeTempDirSync({ prefix: "nsnet-lab-cli-" });
    Deno.chmodSync(dir, 0o755);
    const name = labName("u");
    const file = specFile(dir, name, CHAIN);
    Deno.chmodSync(file, 0o644);
    const userNamespaces = (): string[] => {
      try {
        return [...Deno.readDirSync(`${env.runtimeDir}/netns`)].map((e) =>
          e.name
        )
          .filter((n) => n.startsWith(labNetnsPrefix(name)));
      } catch {
        return [];
      }
    };
    try {
      const up = await nsnetAsUser(["lab", "up", file, "--json"]);
      assertEquals(up.code, 0, up.stderr);
      const status = JSON.parse(up.stdout) as LabStatus;
      assertEquals([status.name, status.rootless], [name, true]);
      assertEquals(userNamespaces().length, 3);
      const b = status.nodes.find((n) => n.name === "b")!;
      const bAddress = b.interfaces[0]!.addresses[0]!.split("/")[0]!;
      const ping = await nsnetAsUser([
        "lab",
        "exec",
        name,
        "a",
        "--",
        "ping",
        "-q",
        "-c",
        "10",
        "-i",
        "0.05",
        "-W",
        "2",
        bAddress,
      ]);
      assertEquals(ping.code, 0, ping.stderr);
      const three = await nsnetAsUser([
        "lab",
        "exec",
        name,
        "a",
        "--",
        "sh",
        "-c",
        "exit 3",
      ]);
      assertEquals(three.code, 3);
      const impair = await nsnetAsUser([
        "lab",
        "impair",
        name,
        "r",
        "b",
        "--rate",
        "5mbit",
        "--loss",
        "none",
      ]);
      assertEquals(impair.code, 0, impair.stderr);
      const shown = await nsnetAsUser(["lab", "show", name, "--json"]);
      assertEquals(
        (JSON.parse(shown.stdout) as LabStatus).links[1]!.impairment,
        { rate: "5mbit" },
      );
      const down = await nsnetAsUser(["lab", "down", name]);
      assertEquals([down.code, down.stderr], [0, ""]);
      assertEquals(userNamespaces(), []);

      const run = await nsnetAsUser([
        "lab",
        "run",
        file,
        "--",
        "sh",
        "-c",
        'echo "$NSNET_LAB"; exit 4',
      ]);
      assertEquals([run.code, run.stdout.trim()], [4, name], run.stderr);
      assertEquals(userNamespaces(), []);
    } finally {
      await nsnetAsUser(["lab", "down", name]);
      await cleanupRootless();
      Deno.removeSync(dir, { recursive: true });
    }
  },
);
