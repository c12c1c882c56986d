/**
 * The rootless namespace's teardown tries every step and then raises the
 * first error, rather than only logging it: a state dir that cannot be
 * removed fails `nsnet rootless down`, and the helper and the namespace file
 * are gone all the same. Runs nsnet as the unprivileged test user.
 */
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  cleanupRootless,
  nsnetAsUser,
  rootlessEnv,
  type UserResult,
} from "./_rootless.ts";

function ok(out: UserResult, what: string): UserResult {
  assertEquals(out.code, 0, `${what}: ${out.stderr}`);
  return out;
}

/** Whether `pid` still runs (a zombie counts as gone). */
function running(pid: number): boolean {
  try {
    return !/^State:\s+[ZX]/m.test(
      Deno.readTextFileSync(`/proc/${pid}/status`),
    );
  } catch {
    return false;
  }
}

nsTest(
  "a teardown step that fails is raised after the other steps ran: helper stopped, namespace file removed",
  async () => {
    await cleanupRootless();
    const env = rootlessEnv();
    // A mount point inside the state dir (in nsnet's mount namespace) cannot be removed.
    const busy = `${env.runtimeDir}/nsnet/rootless-netns/var/lib/cni`;
    try {
      ok(await nsnetAsUser(["rootless", "up"]), "up");
      const status = JSON.parse(
        ok(await nsnetAsUser(["rootless", "status", "--json"]), "status")
          .stdout,
      );
      assert(running(status.helperPid), "the helper runs after up");
      ok(
        await nsnetAsUser([
          "unshare",
          "--",
          "mount",
          "-t",
          "tmpfs",
          "tmpfs",
          busy,
        ]),
        "mount",
      );
      const down = await nsnetAsUser(["rootless", "down"]);
      assertEquals(down.code, 1, down.stdout + down.stderr);
      assertStringIncludes(down.stderr, "busy");
      for (let i = 0; i < 100 && running(status.helperPid); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert(!running(status.helperPid), "the helper was left running");
      const after = JSON.parse(
        ok(await nsnetAsUser(["rootless", "status", "--json"]), "status")
          .stdout,
      );
      assertEquals(after.exists, false);
    } finally {
      await nsnetAsUser(["unshare", "--", "umount", busy]);
      await cleanupRootless();
    }
  },
);
