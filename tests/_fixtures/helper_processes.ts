/**
 * slirp4netns and pasta started by a test for a namespace it made, as root,
 * without nsnet's helper driver: the bare programs the port tests publish
 * through.
 *
 * @module
 */

import { succeeds } from "../_helpers.ts";
import { pastaPortArgs } from "../../lib/ports/helper_forwarding.ts";
import type { PortMapping } from "../../lib/ports/spec.ts";

/** Polls `check` every 30 ms, at most ~3 s. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what = "the helper",
): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** SIGTERM to `child` (if still running), then its exit. */
export async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* exited */ }
  await child.status;
}

/**
 * slirp4netns for the namespace at `nsPath` with its API socket at `api`
 * (host loopback not reachable from inside); resolves once the socket is
 * there, else stops it and rejects.
 */
export async function startSlirp4netns(
  nsPath: string,
  api: string,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("slirp4netns", {
    args: [
      "-c",
      "--disable-host-loopback",
      `--api-socket=${api}`,
      "--netns-type=path",
      nsPath,
      "tap0",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor(
      () => succeeds("test", "-S", api),
      "slirp4netns's API socket",
    );
  } catch (error) {
    await stop(child);
    throw error;
  }
  return child;
}

/**
 * pasta for the namespace at `nsPath` publishing `mappings` with `-t`/`-u`
 * (no forwarding out of the namespace); runs as root, since as root pasta
 * would switch to nobody and lose access to the namespace.
 */
export function spawnPasta(
  nsPath: string,
  mappings: readonly PortMapping[],
): Deno.ChildProcess {
  return new Deno.Command("pasta", {
    args: [
      "-f",
      "--runas",
      "0",
      ...pastaPortArgs(mappings),
      "-T",
      "none",
      "-U",
      "none",
      "--netns",
      nsPath,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}
