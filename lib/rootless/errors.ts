/**
 * The error raised when a rootless call is made where it cannot work, and
 * the check that raises it.
 *
 * @module
 */

import { geteuid } from "../../ffi/syscalls.ts";
import { NsnetError } from "../errors.ts";
import type { UserNSAccess } from "./access.ts";

/** Raised when a rootless function is called outside a user namespace. */
export class RootlessContextError extends NsnetError {
  /** Makes the error. */
  constructor(message: string) {
    super(message, {
      hint:
        "run it inside nsnet's user namespace: `nsnet unshare -- CMD`, or through the nsnet CLI",
    });
    this.name = "RootlessContextError";
  }
}

/**
 * Throws {@linkcode RootlessContextError} unless `access` reaches nsnet's
 * user namespace: through the pause process, or from inside (where this
 * process is root).
 */
export function requireUserNamespace(access: UserNSAccess): void {
  if (access.kind === "inside" && geteuid() !== 0) {
    throw new RootlessContextError(
      "rootless network namespaces need nsnet's user namespace, and this process is not in one",
    );
  }
}
