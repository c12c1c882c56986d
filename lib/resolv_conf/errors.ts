/**
 * The error raised when resolv.conf cannot be located, read or written.
 *
 * @module
 */

import { NsnetError, type NsnetErrorOptions } from "../errors.ts";

/** Why a resolv.conf operation failed, for callers that react differently to each. */
export type ResolvConfErrorReason =
  | "not-found"
  | "not-a-directory"
  | "is-a-directory"
  | "too-many-links"
  | "loop"
  | "too-large"
  | "io";

/** Options of {@linkcode ResolvConfError}. */
export interface ResolvConfErrorOptions extends NsnetErrorOptions {
  /** The path (inside the root, if one was given) the failure is about. */
  path?: string;
}

/** resolv.conf could not be located, read or written. */
export class ResolvConfError extends NsnetError {
  /** What went wrong, as a stable keyword. */
  readonly reason: ResolvConfErrorReason;
  /** The path the failure is about, if any. */
  readonly path: string | undefined;

  /** Makes the error; `reason` picks a default hint when none is given. */
  constructor(
    reason: ResolvConfErrorReason,
    message: string,
    options: ResolvConfErrorOptions = {},
  ) {
    super(message, {
      hint: options.hint ?? defaultHint(reason),
      cause: options.cause,
    });
    this.name = "ResolvConfError";
    this.reason = reason;
    this.path = options.path;
  }
}

function defaultHint(reason: ResolvConfErrorReason): string | undefined {
  switch (reason) {
    case "not-found":
      return "a dangling or missing link: check `ls -l /etc/resolv.conf` and what it points to";
    case "too-many-links":
    case "loop":
      return "the symbolic links around /etc/resolv.conf point at each other: fix them";
    case "not-a-directory":
      return "a file stands where the path needs a directory: check the links around /etc/resolv.conf";
    case "is-a-directory":
      return "resolv.conf must be a file, not a directory";
    case "too-large":
      return "a resolv.conf is a few lines long: check that the path names the right file";
    default:
      return undefined;
  }
}
