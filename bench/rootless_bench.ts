/**
 * `deno bench` for the rootless namespace, as the test user of
 * `tests/_rootless.ts`: `nsnet rootless exec -- true` against rootless
 * Podman's `podman unshare --rootless-netns true` (the baseline), cold (from
 * nothing: no namespace, helper or pause process; the reset is not timed)
 * and warm (both namespaces up). Run as root: deno task bench.
 */
import {
  asUser,
  cleanupRootless,
  nsnetAsUser,
  rootlessEnv,
  type UserResult,
} from "../tests/_rootless.ts";
import { PODMAN_UNSHARE_NETNS, preparePodman, resetPodman } from "./_podman.ts";

const NSNET_EXEC = ["rootless", "exec", "--", "true"];
const env = rootlessEnv();
preparePodman(env);

function ok(result: UserResult, what: string): void {
  if (result.code !== 0) {
    throw new Error(`${what} failed (${result.code}): ${result.stderr.trim()}`);
  }
}

async function resetBoth(): Promise<void> {
  await nsnetAsUser(["rootless", "down", "--force"]);
  await cleanupRootless();
  await resetPodman(env);
  // The kernel tears namespaces down after their last user is gone.
  await new Promise((r) => setTimeout(r, 100));
}

// Cold first: each iteration starts from nothing, untimed.
Deno.bench(
  "cold: podman unshare --rootless-netns true",
  { group: "cold", baseline: true, n: 10, warmup: 1 },
  async (b) => {
    await resetBoth();
    b.start();
    const result = await asUser([...PODMAN_UNSHARE_NETNS]);
    b.end();
    ok(result, "podman unshare");
  },
);

Deno.bench(
  "cold: nsnet rootless exec -- true",
  { group: "cold", n: 10, warmup: 1 },
  async (b) => {
    await resetBoth();
    b.start();
    const result = await nsnetAsUser(NSNET_EXEC);
    b.end();
    ok(result, "nsnet rootless exec");
  },
);

// Warm: both up. nsnet, like Podman v5, tears its namespace down with its
// last user; `rootless up` keeps it up, as Podman 4's stays after unshare.
let up = false;
async function bothUp(): Promise<void> {
  if (up) return;
  await resetBoth();
  ok(await nsnetAsUser(["rootless", "up"]), "nsnet rootless up");
  ok(await asUser([...PODMAN_UNSHARE_NETNS]), "podman unshare");
  up = true;
}

Deno.bench(
  "warm: podman unshare --rootless-netns true",
  { group: "warm", baseline: true, n: 40 },
  async (b) => {
    await bothUp();
    b.start();
    const result = await asUser([...PODMAN_UNSHARE_NETNS]);
    b.end();
    ok(result, "podman unshare");
  },
);

Deno.bench(
  "warm: nsnet rootless exec -- true",
  { group: "warm", n: 40 },
  async (b) => {
    await bothUp();
    b.start();
    const result = await nsnetAsUser(NSNET_EXEC);
    b.end();
    ok(result, "nsnet rootless exec");
  },
);

// Leave nothing running: the last bench is the clean-up.
Deno.bench(
  "clean-up (not a measurement)",
  { group: "zz-clean-up", n: 1, warmup: 0 },
  async () => {
    await resetBoth();
  },
);
