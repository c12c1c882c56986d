/**
 * `nsnet gc` against the kernel, as root: each kind of leftover made by hand
 * (a record naming a namespace that is gone, a record that is not JSON, an
 * `nsnet run` killed with SIGKILL, DNAT chains of no sandbox, a lease of no
 * sandbox, a forwarder of no sandbox, a lock file of no sandbox, a helper
 * whose sandbox record went), listed by `gc --dry-run` without a change,
 * removed by `gc`; a namespace made by `ip netns add` and a foreign nftables
 * table survive both.
 */
import { assert, assertEquals } from "./_assert.ts";
import { killOrphans, nsnet, run, succeeds } from "./_helpers.ts";
import { cleanupRootless, nsnetAsUser, rootlessEnv } from "./_rootless.ts";
import { DEFAULT_NETWORK } from "../lib/bridge/network.ts";
import { Ipam } from "../lib/bridge/ipam.ts";
import { publishPortsDnat } from "../lib/ports/nftables_dnat.ts";
import { randomNSName } from "../lib/netns/name.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import type { GcEntry } from "../lib/gc/types.ts";
import { dnatSandboxes, removeSandboxDnatBatch } from "../lib/gc/ports.ts";
import { forwarderSandbox } from "../lib/gc/processes.ts";
import { ownedNamespaceIn } from "../lib/gc/sandboxes.ts";
import { processStartTime } from "../lib/process_identity.ts";

const STATE = "/run/nsnet";
const SANDBOXES = `${STATE}/sandboxes`;
const IPAM = `${STATE}/bridge/ipam`;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const tag = `gc${Deno.pid}`;

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return !/^State:\s+[ZX]/m.test(status);
  } catch {
    return false;
  }
}

function portsTable(): string {
  const out = new Deno.Command("nft", {
    args: ["list", "table", "ip", "nsnet_ports"],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return new TextDecoder().decode(out.stdout);
}

function leasesOf(id: string): string[] {
  try {
    const file = JSON.parse(Deno.readTextFileSync(`${IPAM}/bridge.json`)) as {
      allocations: Record<string, string>;
    };
    return Object.entries(file.allocations).filter(([, o]) => o === id).map((
      [a],
    ) => a);
  } catch {
    return [];
  }
}

async function gc(...args: string[]): Promise<GcEntry[]> {
  const out = await nsnet("gc", "--json", ...args);
  assertEquals(out.code, 0, out.stderr + out.stdout);
  return JSON.parse(out.stdout) as GcEntry[];
}

function entry(
  entries: readonly GcEntry[],
  kind: string,
  name: string | RegExp,
): GcEntry {
  const found = entries.find((e) =>
    e.kind === kind &&
    (typeof name === "string" ? e.name === name : name.test(e.name))
  );
  assert(
    found !== undefined,
    `no ${kind} ${name} in ${JSON.stringify(entries, null, 1)}`,
  );
  return found;
}

async function waitFor(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !ok(); i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert(ok(), `timed out waiting for ${what}`);
}

function phaseOf(name: string): string | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${SANDBOXES}/${name}.json`))
      .phase;
  } catch {
    return undefined;
  }
}

Deno.test("gc: --dry-run lists every leftover and removes nothing, gc removes them, foreign things survive", async () => {
  const foreignNS = `${tag}-foreign`;
  const foreignTable = `${tag}foreign`;
  const killed = `${tag}-killed`;
  const stale = `${tag}-stale`;
  const damaged = `${tag}-damaged`;
  const leased = `${tag}-lease`;
  const orphan = `${tag}-orphan`;
  const nojump = `${tag}-nojump`;
  const forwarded = `${tag}-fwd`;
  const locked = `${tag}-lock`;
  const staleNS = `/run/netns/${randomNSName()}`;
  const sleep = ["sleep", `300.${Deno.pid}`];
  const work = Deno.makeTempDirSync({ prefix: "nsnet-gc-" });
  let runner: Deno.ChildProcess | undefined;
  let fakeForwarder: Deno.ChildProcess | undefined;
  try {
    // What is not nsnet's.
    run("ip", "netns", "add", foreignNS);
    run("nft", "add", "table", "ip", foreignTable);
    run("nft", "add", "chain", "ip", foreignTable, `sb_${tag}-gone_dnat`);
    // An nsnet run killed with SIGKILL, with a published port (DNAT, lease, veth).
    runner = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--quiet",
        CLI,
        "run",
        "--name",
        killed,
        "-p",
        `127.0.0.1:${20000 + Deno.pid % 10000}:80`,
        "--",
        ...sleep,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor("the killed sandbox", () => phaseOf(killed) === "ready");
    runner.kill("SIGKILL");
    await runner.status;
    runner = undefined;
    const killedRecord = JSON.parse(
      Deno.readTextFileSync(`${SANDBOXES}/${killed}.json`),
    );
    // A record naming a namespace that is gone: its file holds none.
    Deno.writeTextFileSync(staleNS, "");
    Deno.writeTextFileSync(
      `${SANDBOXES}/${stale}.json`,
      JSON.stringify({
        version: 1,
        name: stale,
        mode: { kind: "none" },
        ports: [],
        dns: [],
        created: new Date().toISOString(),
        phase: "ready",
        rootless: false,
        netnsPath: staleNS,
        ownsNetns: true,
      }),
      { mode: 0o600 },
    );
    // A record that is not JSON, a lock file of no sandbox.
    Deno.writeTextFileSync(
      `${SANDBOXES}/${damaged}.json`,
      '{"version": 1, "na',
    );
    Deno.writeTextFileSync(`${SANDBOXES}/.${locked}.lock`, "");
    // A lease of no sandbox, DNAT chains of no sandbox (with its jumps, and a chain alone).
    {
      using ipam = Ipam.open(IPAM, { ...DEFAULT_NETWORK });
      ipam.allocate(leased);
    }
    await publishPortsDnat(orphan, "10.89.0.250", [{
      hostIp: "127.0.0.1",
      hostPort: 20000 + (Deno.pid + 1) % 10000,
      sandboxPort: 80,
      protocol: "tcp",
    }]);
    run("nft", "add", "chain", "ip", "nsnet_ports", `sb_${nojump}_dnat`);
    // A port forwarder of no sandbox (the shape of `nsnet sandbox forward NAME`).
    Deno.writeTextFileSync(
      `${work}/cli.ts`,
      "setInterval(() => {}, 1000);\n",
    );
    fakeForwarder = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        `${work}/cli.ts`,
        "sandbox",
        "forward",
        forwarded,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const forwarderPid = fakeForwarder.pid;
    await waitFor(
      "the forwarder to run",
      () =>
        Deno.readTextFileSync(`/proc/${forwarderPid}/cmdline`).includes(
          forwarded,
        ),
    );

    const listed = await gc("--dry-run");
    for (const e of listed) assertEquals(e.status, "would remove", e.name);
    assert(entry(listed, "sandbox", killed).detail.includes("is gone"));
    assert(entry(listed, "sandbox", stale).detail.includes(staleNS));
    assert(entry(listed, "record", damaged).detail.includes("not JSON"));
    entry(listed, "lease", /^bridge\//);
    assert(
      listed.some((e) => e.kind === "lease" && e.detail.includes(leased)),
    );
    entry(listed, "nftables", `table ip nsnet_ports: sb_${orphan}_dnat`);
    entry(listed, "nftables", `table ip nsnet_ports: sb_${nojump}_dnat`);
    entry(listed, "forwarder", String(forwarderPid));
    entry(listed, "file", `${SANDBOXES}/.${locked}.lock`);
    // The killed sandbox's own chain has a record: its teardown takes it, not the chain group.
    assert(!listed.some((e) => e.name.includes(`sb_${killed}_`)));
    // Nothing changed.
    for (const name of [killed, stale, damaged]) {
      assert(exists(`${SANDBOXES}/${name}.json`), name);
    }
    assert(exists(staleNS) && exists(killedRecord.netnsPath));
    assert(alive(forwarderPid));
    assertEquals(leasesOf(leased).length, 1);
    assert(portsTable().includes(`sb_${orphan}_dnat`));
    assert(portsTable().includes(`sb_${nojump}_dnat`));
    assert(portsTable().includes(`sb_${killed}_dnat`));

    const removed = await gc();
    for (const e of removed) {
      assertEquals(e.status, "removed", JSON.stringify(e));
    }
    entry(removed, "sandbox", killed);
    entry(removed, "sandbox", stale);
    entry(removed, "record", damaged);
    entry(removed, "forwarder", String(forwarderPid));
    await fakeForwarder.status;
    fakeForwarder = undefined;
    for (const name of [killed, stale, damaged]) {
      assert(!exists(`${SANDBOXES}/${name}.json`), name);
    }
    assert(!exists(`${SANDBOXES}/.${locked}.lock`));
    assert(!exists(staleNS), "the stale namespace file");
    assert(!exists(killedRecord.netnsPath), "the killed sandbox's namespace");
    assertEquals(leasesOf(leased), []);
    assertEquals(leasesOf(killed), []);
    const table = portsTable();
    for (const id of [orphan, nojump, killed]) {
      assert(!table.includes(`sb_${id}_`), `${id} in ${table}`);
    }
    // Not nsnet's: untouched.
    assert(
      run("ip", "netns", "list").split("\n").some((l) =>
        l.split(" ")[0] === foreignNS
      ),
    );
    assert(
      run("nft", "list", "table", "ip", foreignTable).includes(
        `sb_${tag}-gone_dnat`,
      ),
    );
    // Nothing is left to find.
    const again = await gc("--dry-run");
    assertEquals(
      again.filter((e) => e.name.includes(tag) || e.detail.includes(tag)),
      [],
    );
  } finally {
    runner?.kill("SIGKILL");
    await runner?.status;
    fakeForwarder?.kill("SIGKILL");
    await fakeForwarder?.status;
    killOrphans(0, sleep, { anyParent: true });
    succeeds("ip", "netns", "del", foreignNS);
    succeeds("nft", "delete", "table", "ip", foreignTable);
    for (const name of [killed, stale, damaged, leased, locked]) {
      for (
        const f of [`${name}.json`, `.${name}.lock`, `${name}.resolv.conf`]
      ) {
        try {
          Deno.removeSync(`${SANDBOXES}/${f}`);
        } catch { /* removed by gc */ }
      }
    }
    if (exists(staleNS)) unmountNS(staleNS);
    Deno.removeSync(work, { recursive: true });
    // What gc did not get to, if it failed: through nsnet's own paths.
    await nsnet("gc");
  }
});

Deno.test("gc: a helper whose sandbox record went is stopped, and its namespace goes", async () => {
  const name = `${tag}-helper`;
  const made = await nsnet(
    "sandbox",
    "create",
    name,
    "--network",
    "slirp4netns",
    "--json",
  );
  assertEquals(made.code, 0, made.stderr);
  const record = JSON.parse(
    Deno.readTextFileSync(`${SANDBOXES}/${name}.json`),
  );
  const pid: number = record.helper.pid;
  try {
    assert(alive(pid));
    // The record goes (a crash in the middle of its removal), the helper lives on.
    Deno.removeSync(`${SANDBOXES}/${name}.json`);
    const listed = await gc("--dry-run");
    const helper = entry(listed, "helper", String(pid));
    assert(helper.detail.includes("slirp4netns"), helper.detail);
    assert(alive(pid));
    const removed = await gc();
    assertEquals(entry(removed, "helper", String(pid)).status, "removed");
    assert(!alive(pid), "the helper");
    assert(!exists(record.netnsPath), "its namespace");
    assert(!exists(`${SANDBOXES}/.${name}.helper`), "its helper dir");
    assert(!exists(`${SANDBOXES}/${name}.resolv.conf`), "its resolv.conf");
  } finally {
    if (alive(pid)) Deno.kill(pid, "SIGKILL");
    if (exists(record.netnsPath)) unmountNS(record.netnsPath);
    await nsnet("gc");
  }
});

Deno.test("gc: the name responder of a network without sandboxes is stopped", async () => {
  const dir = `${STATE}/bridge`;
  const pidFile = `${dir}/dns-${tag}net.pid`;
  // Stands in for `nsnet network dns-serve`: gc goes by the pid file, as the teardown does.
  const responder = new Deno.Command("sleep", {
    args: ["60"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.writeTextFileSync(
      pidFile,
      `${responder.pid} ${processStartTime(responder.pid)}\n`,
    );
    const listed = await gc("--dry-run");
    assert(entry(listed, "helper", pidFile).detail.includes(`${tag}net`));
    assert(alive(responder.pid));
    assertEquals(entry(await gc(), "helper", pidFile).status, "removed");
    assertEquals((await responder.status).signal, "SIGTERM");
    assert(!exists(pidFile));
  } finally {
    try {
      responder.kill("SIGKILL");
    } catch { /* ended */ }
    await responder.status;
    try {
      Deno.removeSync(pidFile);
    } catch { /* removed by gc */ }
    await nsnet("gc");
  }
});

Deno.test("gc rootless: a forwarder and a lease of a sandbox whose record went, a stale record; root's gc leaves the user's state alone", async () => {
  const env = rootlessEnv();
  await cleanupRootless();
  const state = `${env.runtimeDir}/nsnet`;
  const records = `${state}/sandboxes`;
  const name = `${tag}-r`;
  const stale = `${tag}-rstale`;
  const port = 20000 + (Deno.pid + 2) % 10000;
  try {
    const made = await nsnetAsUser([
      "sandbox",
      "create",
      name,
      "-p",
      `127.0.0.1:${port}:80`,
    ]);
    assertEquals(made.code, 0, made.stderr);
    const record = JSON.parse(
      Deno.readTextFileSync(`${records}/${name}.json`),
    );
    const forwarder: number = record.forwarder.pid;
    assert(alive(forwarder));
    // The record goes (as after a crash in the middle of its removal).
    Deno.removeSync(`${records}/${name}.json`);
    const staleRecord = `${records}/${stale}.json`;
    Deno.writeTextFileSync(
      staleRecord,
      JSON.stringify({
        version: 1,
        name: stale,
        mode: { kind: "none" },
        ports: [],
        dns: [],
        created: new Date().toISOString(),
        phase: "ready",
        rootless: true,
        netnsPath: `${env.runtimeDir}/netns/${randomNSName()}`,
        ownsNetns: true,
      }),
      { mode: 0o600 },
    );
    Deno.chownSync(staleRecord, env.uid, env.gid);
    // Root's gc has its own state: the user's is not its to judge.
    const rootGc = await gc("--dry-run");
    assertEquals(
      rootGc.filter((e) =>
        e.name.includes(env.runtimeDir) || e.detail.includes(tag) ||
        e.name === String(forwarder)
      ),
      [],
    );
    const dry = await nsnetAsUser(["gc", "--dry-run", "--json"]);
    assertEquals(dry.code, 0, dry.stderr);
    const listed = JSON.parse(dry.stdout) as GcEntry[];
    entry(listed, "forwarder", String(forwarder));
    assert(listed.some((e) => e.kind === "lease" && e.detail.includes(name)));
    assert(entry(listed, "sandbox", stale).detail.includes("gone"));
    assert(alive(forwarder) && exists(staleRecord));
    const out = await nsnetAsUser(["gc", "--json"]);
    assertEquals(out.code, 0, out.stderr + out.stdout);
    const removed = JSON.parse(out.stdout) as GcEntry[];
    for (const e of removed) assertEquals(e.status, "removed", e.name);
    entry(removed, "forwarder", String(forwarder));
    await waitFor("the forwarder to end", () => !alive(forwarder));
    assert(!exists(staleRecord));
    const leases = `${state}/rootless-netns/bridge/ipam/bridge.json`;
    assert(
      !exists(leases) || !Deno.readTextFileSync(leases).includes(name),
      "the lease",
    );
  } finally {
    await cleanupRootless();
  }
});

Deno.test("gc's pure parts: forwarder command lines, DNAT listings, damaged records", () => {
  assertEquals(
    forwarderSandbox(["/usr/bin/nsnet", "sandbox", "forward", "web"]),
    "web",
  );
  assertEquals(
    forwarderSandbox([
      "/x/deno",
      "run",
      "--allow-all",
      "/o/cli.js",
      "sandbox",
      "forward",
      "web",
    ]),
    "web",
  );
  assertEquals(
    forwarderSandbox(["/usr/bin/python3", "sandbox", "forward", "web"]),
    undefined,
  );
  assertEquals(
    forwarderSandbox(["/usr/bin/nsnet", "sandbox", "ls"]),
    undefined,
  );
  const listing = JSON.stringify({
    nftables: [
      { chain: { name: "publish" } },
      { chain: { name: "sb_a_dnat" } },
      { chain: { name: "sb_a_snat" } },
      { chain: { name: "sb_b_dnat" } },
      {
        rule: {
          chain: "publish",
          handle: 7,
          comment: "nsnet sandbox a",
        },
      },
    ],
  });
  const state = dnatSandboxes(listing);
  assertEquals([...state.chains.keys()].sort(), ["a", "b"]);
  assertEquals(
    removeSandboxDnatBatch("a", state),
    "delete rule ip nsnet_ports publish handle 7\ndelete chain ip nsnet_ports sb_a_dnat\ndelete chain ip nsnet_ports sb_a_snat\n",
  );
  assertEquals(
    removeSandboxDnatBatch(
      "b",
      dnatSandboxes(JSON.stringify({
        nftables: [{ chain: { name: "sb_b_dnat" } }],
      })),
    ),
    "delete table ip nsnet_ports\n",
  );
  assertEquals(
    ownedNamespaceIn(
      '{"netnsPath": "/run/netns/netns-1", "ownsNetns": true, "na',
    ),
    "/run/netns/netns-1",
  );
  assertEquals(
    ownedNamespaceIn('{"netnsPath": "/run/netns/x", "ownsNetns": false'),
    undefined,
  );
});
