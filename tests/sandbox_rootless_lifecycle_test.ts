import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { killOrphans, nsTest } from "./_helpers.ts";
import {
  cleanupRootless,
  nsnetAsUser,
  nsnetAsUserWithFaults,
  rootlessEnv,
  spawnNsnetAsUser,
} from "./_rootless.ts";

function recordsOfUser(): string[] {
  try {
    return [...Deno.readDirSync(`${rootlessEnv().runtimeDir}/nsnet/sandboxes`)]
      .map((e) => e.name).filter((n) => n.endsWith(".json")).sort();
  } catch {
    return [];
  }
}

function namespacesOfUser(): string[] {
  try {
    return [...Deno.readDirSync(`${rootlessEnv().runtimeDir}/netns`)].map((e) =>
      e.name
    );
  } catch {
    return [];
  }
}

/** The user's slirp4netns and pasta processes serving sandbox namespaces. */
function sandboxHelpers(): number[] {
  const env = rootlessEnv();
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (argv.some((a) => a.startsWith(`${env.runtimeDir}/netns/netns-`))) {
        pids.push(Number(e.name));
      }
    } catch { /* gone */ }
  }
  return pids;
}

function childrenOf(pid: number): number[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim()
      .split(/\s+/).filter((p) => p)
      .map(Number);
  } catch {
    return [];
  }
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

nsTest(
  "rootless ns: and sandbox: share the namespace; inspect names the owner; an owner stays while shared",
  async () => {
    await cleanupRootless();
    try {
      assertEquals(
        (await nsnetAsUser([
          "sandbox",
          "create",
          "owner",
          "--network",
          "slirp4netns",
        ])).code,
        0,
      );
      assertEquals(
        (await nsnetAsUser([
          "sandbox",
          "create",
          "leaf",
          "--network",
          "sandbox:owner",
        ])).code,
        0,
      );
      const owner = JSON.parse(
        (await nsnetAsUser(["sandbox", "inspect", "owner", "--json"])).stdout,
      );
      assertEquals(
        (await nsnetAsUser([
          "sandbox",
          "create",
          "joined",
          "--network",
          `ns:${owner.netnsPath}`,
        ])).code,
        0,
      );
      const leaf = JSON.parse(
        (await nsnetAsUser(["sandbox", "inspect", "leaf", "--json"])).stdout,
      );
      assertEquals([leaf.owner, leaf.netnsPath], ["owner", owner.netnsPath]);
      assertEquals(leaf.status, owner.status);
      const netOf = async (name: string): Promise<string> =>
        (await nsnetAsUser([
          "sandbox",
          "exec",
          name,
          "--",
          "readlink",
          "/proc/self/ns/net",
        ])).stdout.trim();
      const net = await netOf("owner");
      assertEquals(await netOf("leaf"), net);
      assertEquals(await netOf("joined"), net);
      assertEquals((await nsnetAsUser(["sandbox", "rm", "owner"])).code, 1);
      assertEquals(
        (await nsnetAsUser(["sandbox", "rm", "joined", "leaf", "owner"])).code,
        0,
      );
      assertEquals([recordsOfUser(), namespacesOfUser(), sandboxHelpers()], [
        [],
        [],
        [],
      ]);
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "rootless: a failure injected during configure or teardown leaves nothing and is reported",
  async () => {
    await cleanupRootless();
    try {
      for (const step of ["sandbox-after-netns", "sandbox-after-configure"]) {
        const out = await nsnetAsUserWithFaults(step, [
          "sandbox",
          "create",
          "faulty",
          "--network",
          "slirp4netns",
        ]);
        assertEquals(out.code, 1);
        assertStringIncludes(out.stderr, `injected fault at ${step}`);
        assertEquals([recordsOfUser(), namespacesOfUser(), sandboxHelpers()], [
          [],
          [],
          [],
        ], step);
      }
      assertEquals(
        (await nsnetAsUser(["sandbox", "create", "faulty"])).code,
        0,
      );
      const rm = await nsnetAsUserWithFaults("sandbox-teardown-backend", [
        "sandbox",
        "rm",
        "faulty",
      ]);
      assertEquals(rm.code, 1);
      assertStringIncludes(
        rm.stderr,
        "injected fault at sandbox-teardown-backend",
      );
      assertEquals([recordsOfUser(), namespacesOfUser(), sandboxHelpers()], [
        [],
        [],
        [],
      ]);
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "rootless: SIGTERM to nsnet run reaches the command and everything is torn down",
  async () => {
    await cleanupRootless();
    try {
      const run = spawnNsnetAsUser([
        "run",
        "--network",
        "slirp4netns",
        "--name",
        "term",
        "--",
        "sleep",
        "30",
      ]);
      await waitFor(
        () =>
          recordsOfUser().includes("term.json") &&
          sandboxHelpers().length === 1,
        "the sandbox",
      );
      await new Promise((r) => setTimeout(r, 300));
      run.kill("SIGTERM");
      const status = await run.status;
      await run.stderr.cancel();
      assertEquals(status.code, 143);
      assertEquals([recordsOfUser(), namespacesOfUser(), sandboxHelpers()], [
        [],
        [],
        [],
      ]);
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "rootless: after SIGKILL of nsnet run (both its processes), sandbox rm removes the remains",
  async () => {
    await cleanupRootless();
    try {
      const run = spawnNsnetAsUser([
        "run",
        "--network",
        "slirp4netns",
        "--name",
        "killed",
        "--",
        "sleep",
        "30",
      ]);
      await waitFor(
        () =>
          recordsOfUser().includes("killed.json") &&
          sandboxHelpers().length === 1,
        "the sandbox",
      );
      await new Promise((r) => setTimeout(r, 300));
      // Unprivileged, nsnet runs as two processes: itself, and itself again inside its user namespace.
      const inner = childrenOf(run.pid);
      run.kill("SIGKILL");
      for (const pid of inner) Deno.kill(pid, "SIGKILL");
      await run.status;
      await run.stderr.cancel();
      await waitFor(
        () => sandboxHelpers().length === 0,
        "the helper to follow its runner",
      );
      assertEquals(recordsOfUser(), ["killed.json"]);
      assertEquals(namespacesOfUser().length, 1);
      const rm = await nsnetAsUser(["sandbox", "rm", "killed"]);
      assertEquals(rm.code, 0, rm.stderr);
      assertEquals([recordsOfUser(), namespacesOfUser(), sandboxHelpers()], [
        [],
        [],
        [],
      ]);
    } finally {
      await cleanupRootless();
      killOrphans(rootlessEnv().uid, ["sleep", "30"]);
    }
  },
);
