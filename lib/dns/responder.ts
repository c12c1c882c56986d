/**
 * A network's DNS responder, as Podman's aardvark-dns: it answers A and
 * AAAA queries for the names it knows (the network's sandboxes, from a
 * `lookup` function asked at every query, so names appear and disappear at
 * once) and forwards every other query to upstream servers, with a timeout
 * shorter than a client's (2 s against glibc's 5 s, aardvark-dns #482), so a
 * dead upstream makes a SERVFAIL the client can act on instead of its own
 * timeout. Without upstreams (an `--internal` network) other names are
 * REFUSED. UDP through `node:dgram`: no `--unstable-net` needed.
 *
 * @example
 * ```ts
 * import { startDnsResponder } from "./responder.ts";
 *
 * const responder = await startDnsResponder({
 *   address: "127.0.0.1",
 *   port: 0,
 *   lookup: (name) => name === "web" ? { v4: ["10.89.0.2"], v6: [] } : undefined,
 *   upstreams: [],
 * });
 * await responder.close();
 * ```
 *
 * @module
 */

import type * as NodeDgram from "node:dgram";
import {
  type AddressRecord,
  encodeAnswer,
  parseQuery,
  RCODE,
  TYPE,
} from "./message.ts";

/** The addresses of a name the responder answers for. */
export interface NameAddresses {
  /** Its IPv4 addresses (A records). */
  v4: string[];
  /** Its IPv6 addresses (AAAA records). */
  v6: string[];
}

/** An upstream server. */
export interface Upstream {
  /** Its address (an IP literal). */
  host: string;
  /** Its port (53). */
  port: number;
}

/** Options for {@linkcode startDnsResponder}. */
export interface DnsResponderOptions {
  /** The address to listen on (the network's gateway). */
  address: string;
  /** The port; default 53, 0 for any. */
  port?: number;
  /** The addresses of `name` (lower case, no trailing dot), or undefined when the name is not the network's. */
  lookup: (name: string) => NameAddresses | undefined;
  /** Where other names are forwarded, tried in order; none: other names are REFUSED. */
  upstreams: readonly Upstream[];
  /** How long an upstream has to answer before the next is tried; default 2000 ms. */
  forwardTimeoutMs?: number;
  /** The TTL of the network's own records; default 60 s (aardvark-dns's). */
  ttl?: number;
  /**
   * Sockets to forward through (made elsewhere, e.g. in another namespace
   * than the one answered in); made on demand when absent.
   */
  upstreamSockets?: {
    udp4?: NodeDgram.Socket | undefined;
    udp6?: NodeDgram.Socket | undefined;
  };
}

/** Counters of a running responder. */
export interface DnsResponderStats {
  /** Queries answered from the network's names (NOERROR or NXDOMAIN for a known name's missing type). */
  answered: number;
  /** Queries forwarded and answered upstream. */
  forwarded: number;
  /** Queries answered SERVFAIL, REFUSED or FORMERR. */
  failed: number;
}

/** A running responder. */
export interface DnsResponder {
  /** The address it listens on. */
  readonly address: string;
  /** The port it listens on. */
  readonly port: number;
  /** Its counters. */
  readonly stats: DnsResponderStats;
  /** Stops it; idempotent. */
  close(): Promise<void>;
}

interface Pending {
  client: NodeDgram.RemoteInfo;
  id: number;
  packet: Uint8Array;
  next: number;
  timer: ReturnType<typeof setTimeout>;
}

function bind(
  dgram: typeof NodeDgram,
  address: string,
  port: number,
): Promise<NodeDgram.Socket> {
  const socket = dgram.createSocket(address.includes(":") ? "udp6" : "udp4");
  return new Promise((resolve, reject) => {
    socket.once("error", (error) => {
      try {
        socket.close();
      } catch { /* not bound */ }
      reject(error);
    });
    socket.bind({ address, port, exclusive: true }, () => {
      socket.removeAllListeners("error");
      resolve(socket);
    });
  });
}

/** Starts a responder; resolves once it listens. */
export async function startDnsResponder(
  options: DnsResponderOptions,
): Promise<DnsResponder> {
  const dgram = await import("node:dgram");
  const server = await bind(dgram, options.address, options.port ?? 53);
  const ttl = options.ttl ?? 60;
  const timeoutMs = options.forwardTimeoutMs ?? 2_000;
  const stats: DnsResponderStats = { answered: 0, forwarded: 0, failed: 0 };
  const pending = new Map<number, Pending>();
  let nextId = Math.floor(Math.random() * 0x10000);
  const upstreamSockets = new Map<string, NodeDgram.Socket>();
  const given = new Set<NodeDgram.Socket>();
  for (const family of ["udp4", "udp6"] as const) {
    const socket = options.upstreamSockets?.[family];
    if (socket !== undefined) {
      given.add(socket);
      upstreamSockets.set(family, socket);
      listenUpstream(socket);
    }
  }
  let closed = false;

  const reply = (data: Uint8Array, to: NodeDgram.RemoteInfo): void => {
    if (closed) return;
    try {
      server.send(data, to.port, to.address);
    } catch { /* closed */ }
  };
  const upstreamSocket = (family: "udp4" | "udp6"): NodeDgram.Socket => {
    let socket = upstreamSockets.get(family);
    if (socket !== undefined) return socket;
    socket = dgram.createSocket(family);
    listenUpstream(socket);
    upstreamSockets.set(family, socket);
    return socket;
  };
  function listenUpstream(socket: NodeDgram.Socket): void {
    socket.on("message", (data: Uint8Array) => {
      if (data.length < 12) return;
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const entry = pending.get(view.getUint16(0));
      if (entry === undefined) return;
      pending.delete(view.getUint16(0));
      clearTimeout(entry.timer);
      const out = new Uint8Array(data);
      new DataView(out.buffer).setUint16(0, entry.id);
      stats.forwarded++;
      reply(out, entry.client);
    });
    socket.on("error", () => {});
  }
  const fail = (
    query: ReturnType<typeof parseQuery>,
    rcode: number,
    client: NodeDgram.RemoteInfo,
  ): void => {
    stats.failed++;
    reply(encodeAnswer(query, { rcode }), client);
  };
  const forward = (
    entry: Pending,
    query: ReturnType<typeof parseQuery>,
  ): void => {
    const upstream = options.upstreams[entry.next++];
    if (upstream === undefined || closed) {
      fail(query, RCODE.SERVFAIL, entry.client);
      return;
    }
    let id: number;
    do {
      nextId = (nextId + 1) & 0xffff;
      id = nextId;
    } while (pending.has(id));
    const packet = new Uint8Array(entry.packet);
    new DataView(packet.buffer).setUint16(0, id);
    entry.timer = setTimeout(() => {
      pending.delete(id);
      forward(entry, query);
    }, timeoutMs);
    pending.set(id, entry);
    upstreamSocket(upstream.host.includes(":") ? "udp6" : "udp4").send(
      packet,
      upstream.port,
      upstream.host,
    );
  };

  server.on("message", (packet: Uint8Array, client: NodeDgram.RemoteInfo) => {
    let query: ReturnType<typeof parseQuery>;
    try {
      query = parseQuery(packet);
    } catch {
      return; // not DNS: nothing to answer to
    }
    if (query.isResponse) return;
    const question = query.questions[0];
    if (query.opcode !== 0 || question === undefined) {
      fail(query, query.opcode !== 0 ? RCODE.NOTIMP : RCODE.FORMERR, client);
      return;
    }
    const known = options.lookup(question.name);
    if (known !== undefined) {
      const records: AddressRecord[] = [];
      if (question.type === TYPE.A || question.type === TYPE.ANY) {
        for (const address of known.v4) {
          records.push({ type: TYPE.A, ttl, address });
        }
      }
      if (question.type === TYPE.AAAA || question.type === TYPE.ANY) {
        for (const address of known.v6) {
          records.push({ type: TYPE.AAAA, ttl, address });
        }
      }
      stats.answered++;
      // A known name without records of the type: NOERROR and no answer (NODATA).
      reply(
        encodeAnswer(query, {
          rcode: RCODE.NOERROR,
          records,
          authoritative: true,
        }),
        client,
      );
      return;
    }
    if (options.upstreams.length === 0) {
      fail(query, RCODE.REFUSED, client);
      return;
    }
    forward(
      {
        client,
        id: query.id,
        packet: new Uint8Array(packet),
        next: 0,
        timer: 0 as unknown as ReturnType<typeof setTimeout>,
      },
      query,
    );
  });

  let closing: Promise<void> | undefined;
  return {
    address: options.address,
    port: server.address().port,
    stats,
    close(): Promise<void> {
      closing ??= (async (): Promise<void> => {
        closed = true;
        for (const entry of pending.values()) clearTimeout(entry.timer);
        pending.clear();
        // Given sockets are their owner's to close; several responders may share them.
        const sockets = [
          server,
          ...[...upstreamSockets.values()].filter((s) => !given.has(s)),
        ];
        await Promise.all(
          sockets.map((socket) =>
            new Promise<void>((resolve) => {
              try {
                socket.close(() => resolve());
              } catch {
                resolve();
              }
            })
          ),
        );
      })();
      return closing;
    },
  };
}
