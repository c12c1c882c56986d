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
import { enterThroughPause } from "./entry.ts";
import {
  getRootlessNetNS,
  getRootlessNetNSThroughPause,
  releaseRootlessReference,
  type RootlessNetNS,
  type RootlessNetNSOptions,
} from "./netns.ts";

/**
 * `nsnet rootless exec` for an unprivileged caller outside nsnet's user
 * namespace: everything that needs the user namespace goes through the
 * pause process (see `entry.ts`), with no second nsnet inside. `pause`
 * resolves to its pid once it is up; what needs no user namespace is done
 * meanwhile.
 */
export async function execThroughPause(
  pause: Promise<number>,
  command: readonly string[],
): Promise<number> {
  requireCommand(command);
  return await execIn(
    await getRootlessNetNSThroughPause({ create: true }, pause),
    command,
  );
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
  requireCommand(command);
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
  return await execIn(rootless, command);
}

function requireCommand(command: readonly string[]): void {
  if (command.length === 0) {
    throw new NsnetError("no command given", {
      hint: "put the command after --",
    });
  }
}

/** Runs `command` in `rootless` (locked), holding a reference while it runs. */
async function execIn(
  rootless: RootlessNetNS,
  command: readonly string[],
): Promise<number> {
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
