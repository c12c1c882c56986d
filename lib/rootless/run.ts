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
import type { RootlessNetNS } from "./handle.ts";
import {
  getRootlessNetNS,
  getRootlessNetNSThroughPause,
  type RootlessNetNSOptions,
} from "./open.ts";

/**
 * `nsnet rootless exec` for an unprivileged caller outside nsnet's user
 * namespace: everything that needs the user namespace goes through the
 * pause process (see `access.ts`), with no second nsnet inside. `pause`
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

/**
 * Runs `command` inside the rootless namespace (made if needed) and returns
 * its exit status. Needs nsnet's user namespace (`nsnet unshare`).
 */
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

/** Runs `command` in `rootless`, whose reference is given back when it ends. */
async function execIn(
  rootless: RootlessNetNS,
  command: readonly string[],
): Promise<number> {
  try {
    return await waitForwardingSignals(rootless.spawn(command));
  } finally {
    // Nobody waits on the namespace when this was the last: neither on its helper's exit.
    await rootless.release({ waitForHelper: false });
  }
}
