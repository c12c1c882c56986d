/**
 * Port publishing by the rootless network helper itself: slirp4netns through
 * its API socket (`add_hostfwd`), pasta through its `-t`/`-u` arguments. The
 * helper then listens on the host and forwards into the sandbox.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError } from "../errors.ts";
import { formatPortMapping, type PortMapping } from "./spec.ts";

/** Options for {@linkcode slirp4netnsAddHostFwd}. */
export interface HostFwdOptions {
  /** The guest address to forward to; slirp4netns's default is 10.0.2.100. */
  guestAddr?: string;
  /** How long to wait for slirp4netns's answer; default 5 s. */
  timeoutMs?: number;
}

/** One forwarding rule as slirp4netns lists it. */
export interface HostFwdEntry {
  /** Its id, for {@linkcode slirp4netnsRemoveHostFwd}. */
  id: number;
  /** `tcp` or `udp`. */
  protocol: string;
  /** The host address. */
  hostAddr: string;
  /** The host port. */
  hostPort: number;
  /** The guest address. */
  guestAddr: string;
  /** The guest port. */
  guestPort: number;
}

function needHostPort(mapping: PortMapping): void {
  if (mapping.hostPort === 0) {
    throw new InvalidArgumentError(
      `cannot publish ${formatPortMapping(mapping)}: no host port chosen`,
      { hint: "run the mappings through probeHostPorts() first" },
    );
  }
}

/**
 * Sends one request to slirp4netns's API socket and returns its answer
 * (`{"return": …}`, or `{"entries": […]}` for `list_hostfwd`). One connection per request: slirp4netns reads until the client
 * shuts down its write side, answers, and closes.
 */
export async function slirp4netnsRequest(
  apiSocketPath: string,
  request: { execute: string; arguments?: Record<string, unknown> },
  timeoutMs = 5_000,
): Promise<Record<string, unknown>> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: apiSocketPath });
  } catch (cause) {
    throw new NsnetError(
      `cannot reach slirp4netns's API socket ${apiSocketPath}`,
      { hint: "is slirp4netns running with --api-socket?", cause },
    );
  }
  const timer = setTimeout(() => conn.close(), timeoutMs);
  let text = "";
  try {
    await conn.write(new TextEncoder().encode(JSON.stringify(request)));
    await conn.closeWrite();
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(4096);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  } catch (cause) {
    throw new NsnetError(
      `slirp4netns ${request.execute}: no answer on ${apiSocketPath}`,
      { cause },
    );
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timeout */ }
  }
  let reply: Record<string, unknown> & { error?: { desc?: string } };
  try {
    reply = JSON.parse(text);
  } catch (cause) {
    throw new NsnetError(
      `slirp4netns ${request.execute}: unreadable answer ${
        JSON.stringify(text)
      }`,
      { cause },
    );
  }
  if (typeof reply !== "object" || reply === null) {
    throw new NsnetError(
      `slirp4netns ${request.execute}: unexpected answer ${text}`,
    );
  }
  if (reply.error !== undefined) {
    throw new NsnetError(
      `slirp4netns ${request.execute} failed: ${
        reply.error.desc ?? JSON.stringify(reply.error)
      }`,
    );
  }
  return reply;
}

/**
 * Asks slirp4netns to forward `mapping`'s host port to the guest; returns
 * the rule's id. A port slirp4netns cannot bind (e.g. in use) is an error
 * naming it.
 */
export async function slirp4netnsAddHostFwd(
  apiSocketPath: string,
  mapping: PortMapping,
  options: HostFwdOptions = {},
): Promise<number> {
  needHostPort(mapping);
  const args: Record<string, unknown> = {
    proto: mapping.protocol,
    "host_addr": mapping.hostIp ?? "0.0.0.0",
    "host_port": mapping.hostPort,
    "guest_port": mapping.sandboxPort,
  };
  if (options.guestAddr !== undefined) args["guest_addr"] = options.guestAddr;
  let result: Record<string, unknown>;
  try {
    result = await slirp4netnsRequest(
      apiSocketPath,
      { execute: "add_hostfwd", arguments: args },
      options.timeoutMs,
    );
  } catch (error) {
    if (!(error instanceof NsnetError)) throw error;
    throw new NsnetError(
      `cannot publish ${
        formatPortMapping(mapping)
      } through slirp4netns: ${error.message}`,
      { hint: error.hint, cause: error },
    );
  }
  const id = (result["return"] as { id?: unknown } | undefined)?.id;
  if (typeof id !== "number") {
    throw new NsnetError(
      `slirp4netns add_hostfwd answered without an id: ${
        JSON.stringify(result)
      }`,
    );
  }
  return id;
}

/** Removes slirp4netns forwarding rule `id`. */
export async function slirp4netnsRemoveHostFwd(
  apiSocketPath: string,
  id: number,
): Promise<void> {
  await slirp4netnsRequest(apiSocketPath, {
    execute: "remove_hostfwd",
    arguments: { id },
  });
}

/** Lists slirp4netns's forwarding rules. */
export async function slirp4netnsListHostFwd(
  apiSocketPath: string,
): Promise<HostFwdEntry[]> {
  const result = await slirp4netnsRequest(apiSocketPath, {
    execute: "list_hostfwd",
  });
  const entries = (result["entries"] ?? []) as Record<string, unknown>[];
  return entries.map((entry) => ({
    id: Number(entry["id"]),
    protocol: String(entry["proto"]),
    hostAddr: String(entry["host_addr"]),
    hostPort: Number(entry["host_port"]),
    guestAddr: String(entry["guest_addr"]),
    guestPort: Number(entry["guest_port"]),
  }));
}

function pastaAddress(ip: string | undefined): string {
  return ip === undefined ? "" : `${ip}/`;
}

function pastaRange(start: number, count: number): string {
  return count === 1 ? String(start) : `${start}-${start + count - 1}`;
}

/**
 * pasta's port arguments for `mappings`: one `-t` (TCP) or `-u` (UDP) per
 * run of consecutive ports, as `[ADDRESS/]HOST_PORTS:SANDBOX_PORTS`, and
 * `-t none` / `-u none` for a protocol without ports, as Podman passes,
 * since pasta's default would forward ports on its own.
 */
export function pastaPortArgs(mappings: readonly PortMapping[]): string[] {
  const args: string[] = [];
  for (const protocol of ["tcp", "udp"] as const) {
    const flag = protocol === "tcp" ? "-t" : "-u";
    const runs: { first: PortMapping; count: number }[] = [];
    for (const mapping of mappings) {
      if (mapping.protocol !== protocol) continue;
      needHostPort(mapping);
      const last = runs.at(-1);
      if (
        last !== undefined && last.first.hostIp === mapping.hostIp &&
        last.first.hostPort + last.count === mapping.hostPort &&
        last.first.sandboxPort + last.count === mapping.sandboxPort
      ) {
        last.count++;
      } else {
        runs.push({ first: mapping, count: 1 });
      }
    }
    if (runs.length === 0) args.push(flag, "none");
    for (const { first, count } of runs) {
      args.push(
        flag,
        `${pastaAddress(first.hostIp)}${pastaRange(first.hostPort, count)}:${
          pastaRange(first.sandboxPort, count)
        }`,
      );
    }
  }
  return args;
}
