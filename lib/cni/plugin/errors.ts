/**
 * The CNI specification's error object (SPEC.md, "Error"): a well-known
 * code, a short message and the details, written to standard output with
 * the protocol version in use, and a non-zero exit status.
 *
 * @module
 */

/** The well-known error codes of CNI 1.1.0 (0–99 are reserved). */
export const CNI_ERROR = {
  /** Incompatible CNI version. */
  INCOMPATIBLE_VERSION: 1,
  /** Unsupported field in network configuration (the message names key and value). */
  UNSUPPORTED_FIELD: 2,
  /** Container unknown or does not exist: the runtime need not clean up. */
  UNKNOWN_CONTAINER: 3,
  /** Invalid necessary environment variables (the message names them). */
  INVALID_ENVIRONMENT: 4,
  /** I/O failure, e.g. reading the config from standard input. */
  IO_FAILURE: 5,
  /** Failed to decode content, e.g. the config is not JSON. */
  DECODING_FAILURE: 6,
  /** Invalid network config. */
  INVALID_NETWORK_CONFIG: 7,
  /** Try again later: a transient condition. */
  TRY_AGAIN_LATER: 11,
  /** STATUS: the plugin cannot service ADD requests. */
  NOT_AVAILABLE: 50,
  /** STATUS: not available, and existing containers may have limited connectivity. */
  NOT_AVAILABLE_LIMITED: 51,
  /** nsnet's own: the interface already exists in the container. */
  INTERFACE_EXISTS: 100,
  /** nsnet's own: a system call, netlink or nftables step failed. */
  INTERNAL: 999,
} as const;

/** A failure reported to the runtime as the specification's error object. */
export class CniError extends Error {
  /** The error code. */
  readonly code: number;
  /** The short message (`msg`). */
  readonly msg: string;
  /** The longer explanation (`details`), possibly empty. */
  readonly details: string;

  /** Makes the error with `code`, `msg` and optional `details`. */
  constructor(
    code: number,
    msg: string,
    details = "",
    options: { cause?: unknown } = {},
  ) {
    super(details ? `${msg}: ${details}` : msg, options);
    this.name = "CniError";
    this.code = code;
    this.msg = msg;
    this.details = details;
  }

  /** The error object the specification defines, in protocol version `cniVersion`. */
  toObject(
    cniVersion: string,
  ): { cniVersion: string; code: number; msg: string; details?: string } {
    const object: {
      cniVersion: string;
      code: number;
      msg: string;
      details?: string;
    } = { cniVersion, code: this.code, msg: this.msg };
    if (this.details !== "") object.details = this.details;
    return object;
  }
}

/** `error` as a {@linkcode CniError}: itself, or code 999 with its message. */
export function asCniError(error: unknown): CniError {
  if (error instanceof CniError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const hint = (error as { hint?: unknown } | null)?.hint;
  return new CniError(
    CNI_ERROR.INTERNAL,
    message,
    typeof hint === "string" ? hint : "",
    { cause: error },
  );
}
