/**
 * Podman's `-p` port specs: parsing, expansion into one mapping per port and
 * protocol, and the duplicate check. Nothing here touches the host; see
 * `probe.ts` for the check against ports already in use.
 *
 * Grammar (as Podman): `[[HOST_IP:][HOST_PORT]:]SANDBOX_PORT[/PROTOCOLS]`.
 * Ports may be ranges (`8080-8082`); a host range must be as long as the
 * sandbox range. An omitted or `0` host port means "any free port", chosen
 * when the host is probed. An omitted host address (or `0.0.0.0`) means all
 * IPv4 addresses. An IPv6 host address is written in brackets
 * (`[::1]:8080:80`). PROTOCOLS is `tcp` (the default), `udp` or `tcp,udp`.
 *
 * @module
 */

import { tryParseIP } from "../netlink/ip_address.ts";
import { PortConflictError, PortSpecError } from "./errors.ts";

/** A transport protocol a port can be published for. */
export type PortProtocol = "tcp" | "udp";

/** The protocols nsnet can publish. */
export const PORT_PROTOCOLS: readonly PortProtocol[] = ["tcp", "udp"];

/** One parsed `-p` spec, before expansion. */
export interface PortSpec {
  /** The host address to publish on; `undefined` for all IPv4 addresses. */
  hostIp: string | undefined;
  /** The first host port; 0 for "any free port". */
  hostPort: number;
  /** The first sandbox port. */
  sandboxPort: number;
  /** How many consecutive ports (1 unless a range was given). */
  count: number;
  /** The protocols, without duplicates. */
  protocols: PortProtocol[];
}

/** One published port: a host port of one protocol and where it leads. */
export interface PortMapping {
  /** The protocol. */
  protocol: PortProtocol;
  /** The host address; `undefined` for all IPv4 addresses. */
  hostIp: string | undefined;
  /** The host port; 0 until a free one has been chosen. */
  hostPort: number;
  /** The port inside the sandbox. */
  sandboxPort: number;
}

/** Parses one `-p` spec; throws {@linkcode PortSpecError} naming what is wrong. */
export function parsePortSpec(spec: string): PortSpec {
  const text = spec.trim();
  if (text === "") throw new PortSpecError(spec, "it is empty");
  const slash = text.lastIndexOf("/");
  const protocols = slash < 0
    ? ["tcp" as const]
    : parseProtocols(spec, text.slice(slash + 1));
  const body = slash < 0 ? text : text.slice(0, slash);

  let hostIp: string | undefined;
  let rest = body;
  if (body.startsWith("[")) {
    const close = body.indexOf("]");
    if (close < 0 || body[close + 1] !== ":") {
      throw new PortSpecError(
        spec,
        "an IPv6 host address is written [ADDRESS]:HOST_PORT:SANDBOX_PORT",
      );
    }
    hostIp = parseHostIp(spec, body.slice(1, close), true);
    rest = body.slice(close + 2);
    if (!rest.includes(":")) {
      throw new PortSpecError(
        spec,
        "a host address needs HOST_PORT:SANDBOX_PORT after it (HOST_PORT may be empty)",
      );
    }
  }
  const parts = rest.split(":");
  let hostText = "";
  let sandboxText: string;
  if (parts.length === 1) {
    sandboxText = parts[0]!;
  } else if (parts.length === 2) {
    [hostText, sandboxText] = [parts[0]!, parts[1]!];
  } else if (parts.length === 3 && hostIp === undefined) {
    hostIp = parseHostIp(spec, parts[0]!, false);
    [hostText, sandboxText] = [parts[1]!, parts[2]!];
  } else {
    throw new PortSpecError(
      spec,
      "too many ':' (write an IPv6 host address in brackets)",
    );
  }

  const sandbox = parseRange(spec, sandboxText, "sandbox port", 1);
  if (hostText === "") {
    return {
      hostIp,
      hostPort: 0,
      sandboxPort: sandbox.start,
      count: sandbox.count,
      protocols,
    };
  }
  const host = parseRange(spec, hostText, "host port", 0);
  if (host.start === 0 && host.count !== 1) {
    throw new PortSpecError(spec, "a host port range cannot start at 0");
  }
  if (host.start !== 0 && host.count !== sandbox.count) {
    throw new PortSpecError(
      spec,
      `the host range has ${host.count} port(s) but the sandbox range has ${sandbox.count}`,
    );
  }
  return {
    hostIp,
    hostPort: host.start,
    sandboxPort: sandbox.start,
    count: sandbox.count,
    protocols,
  };
}

function parseProtocols(spec: string, text: string): PortProtocol[] {
  const result: PortProtocol[] = [];
  for (const raw of text.split(",")) {
    const name = raw.trim().toLowerCase();
    if (name !== "tcp" && name !== "udp") {
      throw new PortSpecError(
        spec,
        name === "sctp"
          ? "sctp is not supported, only tcp and udp"
          : `unknown protocol ${JSON.stringify(raw)} (tcp or udp)`,
      );
    }
    if (!result.includes(name)) result.push(name);
  }
  return result;
}

function parseHostIp(
  spec: string,
  text: string,
  bracketed: boolean,
): string | undefined {
  if (text === "" || text === "0.0.0.0") return undefined;
  const ipv6 = text.includes(":");
  if (tryParseIP(text) === undefined || ipv6 !== bracketed) {
    throw new PortSpecError(
      spec,
      `${JSON.stringify(text)} is not an IP address${
        ipv6 && !bracketed ? " (write IPv6 in brackets)" : ""
      }`,
    );
  }
  return text;
}

const PORT = /^\d{1,5}$/;

function parsePort(
  spec: string,
  text: string,
  what: string,
  min: number,
): number {
  const port = PORT.test(text) ? Number(text) : NaN;
  if (!(port >= min && port <= 65535)) {
    throw new PortSpecError(
      spec,
      `${what} ${JSON.stringify(text)} is not a number from ${min} to 65535`,
    );
  }
  return port;
}

function parseRange(
  spec: string,
  text: string,
  what: string,
  min: number,
): { start: number; count: number } {
  const dash = text.indexOf("-");
  if (dash < 0) return { start: parsePort(spec, text, what, min), count: 1 };
  const start = parsePort(spec, text.slice(0, dash), what, min);
  const end = parsePort(spec, text.slice(dash + 1), what, min);
  if (end < start) {
    throw new PortSpecError(
      spec,
      `${what} range ${text} ends before it starts`,
    );
  }
  return { start, count: end - start + 1 };
}

/** Expands parsed specs into one mapping per port and protocol. */
export function expandPortSpecs(specs: readonly PortSpec[]): PortMapping[] {
  const mappings: PortMapping[] = [];
  for (const spec of specs) {
    for (const protocol of spec.protocols) {
      for (let i = 0; i < spec.count; i++) {
        mappings.push({
          protocol,
          hostIp: spec.hostIp,
          hostPort: spec.hostPort === 0 ? 0 : spec.hostPort + i,
          sandboxPort: spec.sandboxPort + i,
        });
      }
    }
  }
  return mappings;
}

/** Parses and expands `-p` specs, then refuses duplicates; see {@linkcode parsePortSpec}. */
export function parsePortSpecs(specs: readonly string[]): PortMapping[] {
  const mappings = expandPortSpecs(specs.map(parsePortSpec));
  assertNoDuplicatePorts(mappings);
  return mappings;
}

/** `127.0.0.1:8080->80/tcp`, as `podman port` prints it. */
export function formatPortMapping(mapping: PortMapping): string {
  const ip = mapping.hostIp === undefined
    ? "0.0.0.0"
    : mapping.hostIp.includes(":")
    ? `[${mapping.hostIp}]`
    : mapping.hostIp;
  return `${ip}:${mapping.hostPort}->${mapping.sandboxPort}/${mapping.protocol}`;
}

function isIPv6(ip: string | undefined): boolean {
  return ip?.includes(":") ?? false;
}

function overlaps(a: PortMapping, b: PortMapping): boolean {
  if (a.protocol !== b.protocol || a.hostPort !== b.hostPort) return false;
  if (a.hostPort === 0) return false;
  if (a.hostIp === b.hostIp) return true;
  // "::" is dual-stack on Linux: it takes the port on every address.
  if (a.hostIp === "::" || b.hostIp === "::") return true;
  if (a.hostIp === undefined) return !isIPv6(b.hostIp);
  if (b.hostIp === undefined) return !isIPv6(a.hostIp);
  return false;
}

/**
 * Throws {@linkcode PortConflictError} if two mappings publish the same host
 * port and protocol on overlapping addresses (all addresses overlap any one).
 */
export function assertNoDuplicatePorts(mappings: readonly PortMapping[]): void {
  const seen = new Map<string, PortMapping[]>();
  for (const b of mappings) {
    if (b.hostPort === 0) continue;
    const key = `${b.protocol}/${b.hostPort}`;
    const bucket = seen.get(key) ?? [];
    const a = bucket.find((earlier) => overlaps(earlier, b));
    if (a !== undefined) {
      throw new PortConflictError(
        "duplicate",
        b.hostPort,
        b.protocol,
        b.hostIp,
        `host port ${b.hostPort}/${b.protocol} is published twice: ${
          formatPortMapping(a)
        } and ${formatPortMapping(b)}`,
        { hint: "give each published port its own host port" },
      );
    }
    bucket.push(b);
    seen.set(key, bucket);
  }
}
