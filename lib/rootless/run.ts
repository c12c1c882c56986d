/**
 * Running one command in the rootless namespace, the way `nsnet rootless
 * exec` does: made if needed, a reference held while the command runs (the
 * lock released meanwhile, as Podman does, so others can join), and the
 * namespace torn down when the last reference goes.
 *
 * @module
 */

import { waitForwardingSignals } from "../child.ts";
import { NsnetError } from "../errors.ts";
import { getRootlessNetNS, type RootlessNetNSOptions } from "./netns.ts";

import { enterThroughPause } from "./entry.ts";
import { releaseRootlessReference } from "./netns.ts";

/**
 * `nsnet rootless exec` for an unprivileged caller outside nsnet's user
 * namespace: everything that needs the user namespace goes through the
 * pause process `pausePid` (see `entry.ts`), with no second nsnet inside.
 */
export async function execThroughPause(
  pausePid: number,
  command: readonly string[],
): Promise<number> {
  enterThroughPause(pausePid);
  return await execInRootlessNetNS(command);
}

/** Drops the reference an exec took, from outside, through `pausePid`. */
export async function releaseThroughPause(pausePid: number): Promise<void> {
  enterThroughPause(pausePid);
  await releaseRootlessReference();
}

/** Runs `command` inside the rootless namespace; returns its exit status. */
export async function execInRootlessNetNS(
  command: readonly string[],
  options: RootlessNetNSOptions = {},
): Promise<number> {
  if (command.length === 0) {
    throw new NsnetError("no command given", {
      hint: "put the command after --",
    });
  }
  const rootless = await getRootlessNetNS({ ...options, create: true });
  if (rootless === undefined) {
    throw new NsnetError(
      "the rootless network namespace is for unprivileged users",
      {
        hint:
          "as root, make namespaces with `nsnet add` (or run as your own user)",
      },
    );
  }
  let child: Deno.ChildProcess;
  try {
    child = rootless.spawn(command);
    rootless.changeRefCount(+1);
  } finally {
    rootless.unlock();
  }
  const status = await waitForwardingSignals(child);
  rootless.lock();
  try {
    if (rootless.changeRefCount(-1) === 0 && !rootless.pinned) {
      // Nobody waits on this namespace any more: neither on its helper's exit.
      await rootless.cleanup({ waitForHelper: false });
    }
  } finally {
    rootless.unlock();
  }
  return status;
}
