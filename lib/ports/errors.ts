/**
 * The errors port publishing raises: a spec that does not parse, and a host
 * port that is taken (twice in the specs, or already in use on the host).
 *
 * @module
 */

import {
  InvalidArgumentError,
  NsnetError,
  type NsnetErrorOptions,
} from "../errors.ts";

/** A `-p` spec that does not parse or names impossible ports. */
export class PortSpecError extends InvalidArgumentError {
  /** The spec as given. */
  readonly spec: string;

  /** Makes the error for `spec`, saying what is wrong with it. */
  constructor(spec: string, reason: string, options: NsnetErrorOptions = {}) {
    super(`invalid port spec ${JSON.stringify(spec)}: ${reason}`, {
      hint: options.hint ??
        "the form is [HOST_IP:][HOST_PORT:]SANDBOX_PORT[/tcp|/udp], e.g. 127.0.0.1:8080:80/tcp or 8080-8082:80-82",
      cause: options.cause,
    });
    this.name = "PortSpecError";
    this.spec = spec;
  }
}

/** Why a host port cannot be published. */
export type PortConflictReason = "duplicate" | "in-use" | "unavailable";

/** A host port that cannot be published: listed twice, or taken on the host. */
export class PortConflictError extends NsnetError {
  /** Why the port cannot be published. */
  readonly reason: PortConflictReason;
  /** The host port. */
  readonly port: number;
  /** The protocol. */
  readonly protocol: "tcp" | "udp";
  /** The host address, `undefined` for all addresses. */
  readonly hostIp: string | undefined;

  /** Makes the error; `message` names the port. */
  constructor(
    reason: PortConflictReason,
    port: number,
    protocol: "tcp" | "udp",
    hostIp: string | undefined,
    message: string,
    options: NsnetErrorOptions = {},
  ) {
    super(message, options);
    this.name = "PortConflictError";
    this.reason = reason;
    this.port = port;
    this.protocol = protocol;
    this.hostIp = hostIp;
  }
}
