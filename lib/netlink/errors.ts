/**
 * The errors of the netlink layer: a malformed message, an error the kernel
 * answered with, a dump the kernel kept interrupting, a link that does not
 * exist. Pure: no FFI and no Deno APIs.
 *
 * @module
 */

import { errnoDescription, errnoName } from "../../ffi/errno.ts";
import { ErrnoError, NsnetError, type NsnetErrorOptions } from "../errors.ts";

/** Bytes that are not a well-formed netlink message. The only error the decoders raise. */
export class NetlinkDecodeError extends NsnetError {
  /** Byte offset in the decoded buffer where the problem was found. */
  readonly offset: number;

  /** Makes the error for a problem found at `offset`. */
  constructor(message: string, offset: number) {
    super(`malformed netlink message at byte ${offset}: ${message}`);
    this.name = "NetlinkDecodeError";
    this.offset = offset;
  }
}

/** The kernel refused a request: its errno and, when it gave one, its own words. */
export class NetlinkError extends ErrnoError {
  /** The kernel's extended-ACK message, e.g. "ipv4: Address already assigned". */
  readonly kernelMessage: string | undefined;
  /** What was asked, e.g. `add address 10.0.0.1/24 to eth0`. */
  readonly operation: string;

  /** Makes the error for `operation` failing with `errno` (positive) and the kernel's text. */
  constructor(
    operation: string,
    errno: number,
    kernelMessage?: string,
    options: NsnetErrorOptions = {},
  ) {
    const code = errnoName(errno);
    const why = kernelMessage ?? errnoDescription(errno);
    super(`${operation}: ${why} (${code})`, errno, {
      hint: options.hint ?? hintFor(code),
      cause: options.cause,
    });
    this.name = "NetlinkError";
    this.kernelMessage = kernelMessage;
    this.operation = operation;
  }
}

function hintFor(code: string): string | undefined {
  switch (code) {
    case "EPERM":
      return "needs CAP_NET_ADMIN in the namespace's user namespace: run as root, or inside `nsnet unshare`";
    case "EOPNOTSUPP":
      return "the kernel lacks this link type or feature (module not built or not loaded)";
    default:
      return undefined;
  }
}

/** A dump kept being interrupted by concurrent changes, more often than we retry. */
export class NetlinkDumpInterruptedError extends NsnetError {
  /** How many times the dump was tried. */
  readonly attempts: number;

  /** Makes the error for `operation` after `attempts` tries. */
  constructor(operation: string, attempts: number) {
    super(
      `${operation}: dump interrupted by concurrent changes ${attempts} times in a row`,
      {
        hint: "the namespace is changing quickly; try again",
      },
    );
    this.name = "NetlinkDumpInterruptedError";
    this.attempts = attempts;
  }
}

const ENODEV = 19;

/** No link with the given name or index exists in the namespace (the kernel said ENODEV). */
export class LinkNotFoundError extends NetlinkError {
  /** The name or index looked for. */
  readonly link: string | number;

  /** Makes the error for `link`, raised while doing `operation`. */
  constructor(
    operation: string,
    link: string | number,
    kernelMessage?: string,
    options: NsnetErrorOptions = {},
  ) {
    super(
      operation,
      ENODEV,
      kernelMessage ??
        (typeof link === "number"
          ? `no link with index ${link}`
          : `no link named ${link}`),
      {
        hint: options.hint ?? "see `nsnet link list` for the links that exist",
        cause: options.cause,
      },
    );
    this.name = "LinkNotFoundError";
    this.link = link;
  }
}
