/**
 * Checks host ports before anything is created: each mapping's port is bound
 * on its host address and released at once, so a port already in use is a
 * clear error naming it, and a mapping without a host port gets a free one.
 * A check, not a reservation: another program may take the port afterwards.
 *
 * @module
 */

import { close } from "../../ffi/syscalls.ts";
import { errno, libc } from "../../ffi/libc.ts";
import { tryParseIP } from "../netlink/ip_address.ts";
import { PortConflictError } from "./errors.ts";
import { formatPortMapping, parsePortSpecs, type PortMapping } from "./spec.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const EADDRINUSE = 98;
const EADDRNOTAVAIL = 99;
const EACCES = 13;

/**
 * Binds every mapping's host port once (TCP or UDP, on its host address) and
 * releases it. Returns the mappings with each host port 0 replaced by a free
 * port. Throws {@linkcode PortConflictError} naming the first port that is in
 * use, not allowed, or on an address the host does not have.
 */
export function probeHostPorts(
  mappings: readonly PortMapping[],
): PortMapping[] {
  // Held until all are probed, so that two "any free port" mappings never get the same one.
  const held: (() => void)[] = [];
  try {
    return mappings.map((mapping) => {
      const bound = mapping.protocol === "tcp"
        ? probeTcp(mapping)
        : probeUdp(mapping);
      held.push(bound.release);
      return { ...mapping, hostPort: bound.port };
    });
  } finally {
    for (const release of held) release();
  }
}

/**
 * Parses `-p` specs, refuses duplicates and checks the host ports: the
 * mappings to publish, every host port chosen. See {@linkcode parsePortSpecs}
 * and {@linkcode probeHostPorts}.
 */
export function preparePortMappings(specs: readonly string[]): PortMapping[] {
  return probeHostPorts(parsePortSpecs(specs));
}

interface Bound {
  port: number;
  release: () => void;
}

function bindAddress(mapping: PortMapping): string {
  return mapping.hostIp ?? "0.0.0.0";
}

function probeTcp(mapping: PortMapping): Bound {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({
      hostname: bindAddress(mapping),
      port: mapping.hostPort,
    });
  } catch (error) {
    const code = error instanceof Deno.errors.AddrInUse
      ? EADDRINUSE
      : error instanceof Deno.errors.AddrNotAvailable
      ? EADDRNOTAVAIL
      : error instanceof Deno.errors.PermissionDenied
      ? EACCES
      : 0;
    throw conflict(mapping, code, error);
  }
  return { port: listener.addr.port, release: () => listener.close() };
}

/** UDP goes through libc: `Deno.listenDatagram` needs `--unstable-net`. */
function probeUdp(mapping: PortMapping): Bound {
  const address = sockaddr(bindAddress(mapping), mapping.hostPort);
  const sym = libc();
  const fd = sym.socket(address.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw conflict(mapping, errno());
  try {
    if (sym.bind(fd, address.bytes, address.bytes.length) !== 0) {
      throw conflict(mapping, errno());
    }
    let port = mapping.hostPort;
    if (port === 0) {
      const out = new Uint8Array(28);
      const length = new Uint32Array([out.length]);
      if (sym.getsockname(fd, out, length) !== 0) {
        throw conflict(mapping, errno());
      }
      port = (out[2]! << 8) | out[3]!;
    }
    return { port, release: () => close(fd) };
  } catch (error) {
    close(fd);
    throw error;
  }
}

/** A `sockaddr_in` or `sockaddr_in6` for `ip` and `port`. */
function sockaddr(
  ip: string,
  port: number,
): { family: number; bytes: Uint8Array<ArrayBuffer> } {
  const parsed = tryParseIP(ip);
  if (parsed === undefined) throw new TypeError(`not an IP address: ${ip}`);
  const v6 = parsed.bytes.length === 16;
  const bytes = new Uint8Array(v6 ? 28 : 16);
  const view = new DataView(bytes.buffer);
  const family = v6 ? AF_INET6 : AF_INET;
  view.setUint16(0, family, true);
  view.setUint16(2, port, false);
  bytes.set(parsed.bytes, v6 ? 8 : 4);
  return { family, bytes };
}

function conflict(
  mapping: PortMapping,
  code: number,
  cause?: unknown,
): PortConflictError {
  const where = `${mapping.hostPort}/${mapping.protocol} on ${
    bindAddress(mapping)
  }`;
  if (code === EADDRINUSE) {
    return new PortConflictError(
      "in-use",
      mapping.hostPort,
      mapping.protocol,
      mapping.hostIp,
      `host port ${where} is already in use (publishing ${
        formatPortMapping(mapping)
      })`,
      {
        hint: `choose another host port, or find the user with \`ss -lnp${
          mapping.protocol === "tcp" ? "t" : "u"
        } sport = :${mapping.hostPort}\``,
        cause,
      },
    );
  }
  const detail = code === EADDRNOTAVAIL
    ? "the host has no such address"
    : code === EACCES
    ? "not allowed to bind it"
    : cause instanceof Error
    ? cause.message
    : `errno ${code}`;
  return new PortConflictError(
    "unavailable",
    mapping.hostPort,
    mapping.protocol,
    mapping.hostIp,
    `cannot publish host port ${where}: ${detail}`,
    {
      hint: code === EACCES
        ? "ports below net.ipv4.ip_unprivileged_port_start need root"
        : undefined,
      cause,
    },
  );
}
