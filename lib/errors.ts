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

/**
 * An error that carries an errno: the base of {@linkcode SyscallError} (a
 * libc call failed) and of the netlink layer's `NetlinkError` (the kernel
 * refused a request), so that callers can test `errno` or `code` without
 * knowing which layer raised it.
 *
 * @example Catching a refusal by its errno name
 * ```ts
 * import { ErrnoError, getNS } from "@nsnet/nsnet";
 * try {
 *   using ns = getNS("/proc/1/ns/net");
 *   ns.run(() => {});
 * } catch (error) {
 *   if (error instanceof ErrnoError && error.code === "EPERM") {
 *     console.error("run as root, or inside `nsnet unshare`");
 *   } else throw error;
 * }
 * ```
 */
export class ErrnoError extends NsnetError {
  /** The errno value (positive). */
  readonly errno: number;
  /** The errno's symbolic name, e.g. `EPERM`. */
  readonly code: string;

  /**
   * Makes the error: `message` as given, `errno` (positive) recorded with its
   * symbolic name.
   */
  constructor(message: string, errno: number, options: NsnetErrorOptions = {}) {
    super(message, options);
    this.name = "ErrnoError";
    this.errno = errno;
    this.code = errnoName(errno);
  }
}

/** A failed libc call: which call, its errno, and the path or argument involved. */
export class SyscallError extends ErrnoError {
  /** The libc function that failed, e.g. `setns`. */
  readonly syscall: string;
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
      errno,
      { hint: options.hint ?? defaultHint(name), cause: options.cause },
    );
    this.name = "SyscallError";
    this.syscall = syscall;
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

/**
 * No sandbox of that name exists (no record of it in nsnet's state dir).
 * Raised by `Sandbox.open`, `removeSandbox`, `inspectSandbox`, `nsnet sandbox
 * rm|exec|inspect|stats` and a `sandbox:NAME` network that names none.
 */
export class SandboxNotFoundError extends NsnetError {
  /** The sandbox asked for. */
  readonly sandbox: string;

  /** Makes the error for sandbox `name`. */
  constructor(name: string, options: NsnetErrorOptions = {}) {
    super(`no sandbox named ${name}`, {
      hint: options.hint ?? "see `nsnet sandbox ls`",
      cause: options.cause,
    });
    this.name = "SandboxNotFoundError";
    this.sandbox = name;
  }
}

/** A sandbox of that name already exists. */
export class SandboxExistsError extends NsnetError {
  /** The name that is taken. */
  readonly sandbox: string;

  /** Makes the error for sandbox `name`. */
  constructor(name: string, options: NsnetErrorOptions = {}) {
    super(`a sandbox named ${name} already exists`, {
      hint: options.hint ??
        `choose another name, or remove it with \`nsnet sandbox rm ${name}\``,
      cause: options.cause,
    });
    this.name = "SandboxExistsError";
    this.sandbox = name;
  }
}

/** The backend whose network was not found. */
export type NetworkBackendKind = "builtin" | "cni" | "netavark";

/** Options for {@linkcode NetworkNotFoundError}. */
export interface NetworkNotFoundErrorOptions extends NsnetErrorOptions {
  /** The backend that looked: `builtin` (default), `cni` or `netavark`. */
  backend?: NetworkBackendKind;
  /** The directory searched (CNI's config dir, Podman's network dir), if one. */
  dir?: string;
  /** The backend's own message; default `no network named "NAME"`. */
  message?: string;
}

/**
 * A named network does not exist, whichever backend looked for it: nsnet's
 * built-in bridge networks, a CNI network list, or a Podman (netavark)
 * network. `backend` says which; each backend gives its own message and hint.
 *
 * @example
 * ```ts
 * import { NetworkNotFoundError, Sandbox } from "@nsnet/nsnet";
 * try {
 *   await using sb = await Sandbox.create({ network: "nope" });
 * } catch (error) {
 *   if (!(error instanceof NetworkNotFoundError)) throw error;
 *   console.error(`${error.network} (${error.backend}): ${error.hint}`);
 * }
 * ```
 */
export class NetworkNotFoundError extends NsnetError {
  /** The name asked for. */
  readonly network: string;
  /** The backend that looked for it. */
  readonly backend: NetworkBackendKind;
  /** The directory searched, if the backend keeps its networks in one. */
  readonly dir: string | undefined;

  /** Makes the error for network `name`. */
  constructor(name: string, options: NetworkNotFoundErrorOptions = {}) {
    super(options.message ?? `no network named ${JSON.stringify(name)}`, {
      hint: options.hint ??
        "see `nsnet network ls`, or create it with `nsnet network create`",
      cause: options.cause,
    });
    this.name = "NetworkNotFoundError";
    this.network = name;
    this.backend = options.backend ?? "builtin";
    this.dir = options.dir;
  }
}

/**
 * A call needs privilege the process does not have here: an unprivileged
 * user outside nsnet's user namespace. Run the script inside it with
 * `nsnet unshare -- deno run -A script.ts` (as `podman unshare`), or as root.
 */
export class NeedsUserNamespaceError extends NsnetError {
  /** What was tried, e.g. `Sandbox.create`. */
  readonly operation: string;

  /** Makes the error for `operation`. */
  constructor(operation: string, options: NsnetErrorOptions = {}) {
    super(
      `${operation} needs root or nsnet's user namespace, and this process has neither`,
      {
        hint: options.hint ??
          "run the script inside `nsnet unshare`, e.g. `nsnet unshare -- deno run -A script.ts`, or as root",
        cause: options.cause,
      },
    );
    this.name = "NeedsUserNamespaceError";
    this.operation = operation;
  }
}
