/**
 * The error classes nsnet raises. Each names what failed and, where one helps,
 * how to fix it; the CLI prints `message` and `hint` on one line.
 *
 * @module
 */

import { errnoDescription, errnoName } from "../ffi/errno.ts";

/** Options shared by nsnet's errors. */
export interface NsnetErrorOptions {
  /** What the user can do about it. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
}

/** The base class of every error nsnet raises on purpose. */
export class NsnetError extends Error {
  /** What the user can do about it, if anything helps. */
  readonly hint: string | undefined;

  /** Makes an error with a message and an optional hint and cause. */
  constructor(message: string, options: NsnetErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "NsnetError";
    this.hint = options.hint;
  }
}

/** A failed libc call: which call, its errno, and the path or argument involved. */
export class SyscallError extends NsnetError {
  /** The libc function that failed, e.g. `setns`. */
  readonly syscall: string;
  /** The errno value. */
  readonly errno: number;
  /** The errno's symbolic name, e.g. `EPERM`. */
  readonly code: string;
  /** The path or argument the call was about, if any. */
  readonly subject: string | undefined;

  /** Makes the error for `syscall` failing with `errno` on `subject`. */
  constructor(
    syscall: string,
    errno: number,
    subject?: string,
    options: NsnetErrorOptions = {},
  ) {
    const name = errnoName(errno);
    const about = subject === undefined ? "" : ` ${subject}`;
    super(
      `${syscall}${about}: ${name} (${errnoDescription(errno)})`,
      { hint: options.hint ?? defaultHint(name), cause: options.cause },
    );
    this.name = "SyscallError";
    this.syscall = syscall;
    this.errno = errno;
    this.code = name;
    this.subject = subject;
  }
}

function defaultHint(code: string): string | undefined {
  switch (code) {
    case "EPERM":
    case "EACCES":
      return "needs root or a user namespace: run as root, or inside `nsnet unshare`";
    case "EMFILE":
    case "ENFILE":
      return "too many open files: close namespace handles you no longer need";
    default:
      return undefined;
  }
}

/** A name or argument was rejected before anything was touched. */
export class InvalidArgumentError extends NsnetError {
  /** Makes the error. */
  constructor(message: string, options: NsnetErrorOptions = {}) {
    super(message, options);
    this.name = "InvalidArgumentError";
  }
}

/** A path that should hold a namespace does not exist. */
export class NamespaceNotFoundError extends NsnetError {
  /** The path looked at. */
  readonly path: string;

  /** Makes the error for `path`. */
  constructor(path: string, options: NsnetErrorOptions = {}) {
    super(`no network namespace at ${path}`, {
      hint: options.hint ?? "see `nsnet list` for the namespaces that exist",
      cause: options.cause,
    });
    this.name = "NamespaceNotFoundError";
    this.path = path;
  }
}

/** A path exists but holds no (network) namespace, e.g. a stale file after a reboot. */
export class NotANamespaceError extends NsnetError {
  /** The path looked at. */
  readonly path: string;

  /** Makes the error for `path`, saying what was found there instead. */
  constructor(path: string, found: string, options: NsnetErrorOptions = {}) {
    super(`${path} is not a network namespace (${found})`, {
      hint: options.hint ??
        "a file left over from a crash or a reboot: remove it with `nsnet del`",
      cause: options.cause,
    });
    this.name = "NotANamespaceError";
    this.path = path;
  }
}

/** A namespace with the requested name already exists. */
export class NamespaceExistsError extends NsnetError {
  /** The path that is taken. */
  readonly path: string;

  /** Makes the error for `path`. */
  constructor(path: string, options: NsnetErrorOptions = {}) {
    super(`a network namespace already exists at ${path}`, {
      hint: options.hint ??
        "choose another name, or delete it with `nsnet del`",
      cause: options.cause,
    });
    this.name = "NamespaceExistsError";
    this.path = path;
  }
}
