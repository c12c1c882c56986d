/**
 * The forwarder thread of `startForwarder` (`forwarder.ts`).
 *
 * Order matters: the thread binds the host ports first, while it is still in
 * the host's network namespace, then enters the sandbox's namespace for good
 * (rootless it could never come back), so every connection and datagram
 * socket it opens afterwards is made inside. Sockets stay in the namespace
 * they were made in. Host UDP ports are `node:dgram` sockets (Deno's own
 * `listenDatagram` needs `--unstable-net`); each UDP client gets a session
 * socket of its own inside, so each answer goes back to the client it
 * answers, and the session ends after an idle time. A bind through
 * `node:dgram` completes in a callback: the thread waits for every host
 * socket to be bound before it enters the namespace.
 *
 * With `keepClientAddress`, connections and sessions toward the sandbox are
 * made from the client's own address (`_transparent.ts`).
 *
 * @module
 */

import type * as NodeDgram from "node:dgram";
import type * as NodeNet from "node:net";
import { bindLibcSymbols } from "../../ffi/libc.ts";
import { CLONE, close, O, openPath, setns } from "../../ffi/syscalls.ts";
import { SyscallError } from "../errors.ts";
import { workerScope } from "../worker.ts";
import {
  connectTransparent,
  keepable,
  TransparentUdp,
  unmapped,
} from "./_transparent.ts";
import type {
  ForwarderReply,
  ForwarderRequest,
  ForwarderStart,
} from "./forwarder.ts";
import type { PortMapping } from "./spec.ts";

type HostSocket =
  | { kind: "tcp"; listener: Deno.TcpListener }
  | { kind: "udp"; socket: NodeDgram.Socket };

const scope = workerScope<ForwarderRequest, ForwarderReply>();
const hostSockets: HostSocket[] = [];
const open = new Set<{ close(): void }>();
const tasks = new Set<Promise<void>>();
let closing = false;
let dgram: typeof NodeDgram | undefined;
let net: typeof NodeNet | undefined;

function track(promise: Promise<void>): void {
  tasks.add(promise);
  const done = (): boolean => tasks.delete(promise);
  promise.then(done, done);
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch { /* already closed */ }
}

const NODE_CODES: Record<string, string> = {
  EADDRINUSE: "AddrInUse",
  EADDRNOTAVAIL: "AddrNotAvailable",
  EACCES: "PermissionDenied",
};

function describe(error: unknown): { name: string; message: string } {
  const e = error as
    | { name?: string; message?: string; code?: string }
    | undefined;
  const name = (e?.code !== undefined ? NODE_CODES[e.code] : undefined) ??
    e?.name ?? "Error";
  return { name, message: String(e?.message ?? error) };
}

/** Moves this thread into the sandbox's namespace; what failed, if anything. */
function enterNamespace(
  nsFd: number | undefined,
  nsPath: string | undefined,
): { syscall: string; errno: number } | undefined {
  try {
    bindLibcSymbols(["setns", "open", "close"]); // one dlopen for all three
    if (nsPath === undefined) {
      setns(nsFd!, CLONE.NEWNET);
    } else {
      const fd = openPath(nsPath, O.RDONLY);
      try {
        setns(fd, CLONE.NEWNET);
      } finally {
        close(fd);
      }
    }
    return undefined;
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error;
    return { syscall: error.syscall, errno: error.errno };
  }
}

function bindUdp(hostname: string, port: number): Promise<NodeDgram.Socket> {
  const socket = dgram!.createSocket({
    type: hostname.includes(":") ? "udp6" : "udp4",
  });
  return new Promise((resolve, reject) => {
    socket.once("error", (error) => {
      closeQuietly(socket);
      reject(error);
    });
    socket.bind({ port, address: hostname, exclusive: true }, () => {
      socket.removeAllListeners("error");
      resolve(socket);
    });
  });
}

function closeHostSocket(host: HostSocket): Promise<void> {
  if (host.kind === "tcp") {
    closeQuietly(host.listener);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    try {
      host.socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

async function bindAll(
  mappings: readonly PortMapping[],
): Promise<
  { index: number; error: { name: string; message: string } } | undefined
> {
  for (const [index, m] of mappings.entries()) {
    const hostname = m.hostIp ?? "0.0.0.0";
    try {
      if (m.protocol === "tcp") {
        hostSockets.push({
          kind: "tcp",
          listener: Deno.listen({ hostname, port: m.hostPort }),
        });
      } else {
        dgram ??= await import("node:dgram");
        hostSockets.push({
          kind: "udp",
          socket: await bindUdp(hostname, m.hostPort),
        });
      }
    } catch (error) {
      return { index, error: describe(error) };
    }
  }
  return undefined;
}

function portOf(host: HostSocket): number {
  return host.kind === "tcp"
    ? (host.listener.addr as Deno.NetAddr).port
    : host.socket.address().port;
}

async function pump(
  from: Deno.TcpConn,
  to: Deno.TcpConn,
  pair: readonly Deno.TcpConn[],
): Promise<void> {
  const buffer = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      let offset = 0;
      while (offset < n) offset += await to.write(buffer.subarray(offset, n));
    }
    await to.closeWrite();
  } catch {
    for (const conn of pair) closeQuietly(conn);
  }
}

/** Copies both ways between a Deno connection and a node socket. */
function splice(client: Deno.TcpConn, socket: NodeNet.Socket): Promise<void> {
  const handle = { close: (): void => void socket.destroy() };
  open.add(handle);
  return new Promise<void>((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      open.delete(handle);
      socket.destroy();
      closeQuietly(client);
      resolve();
    };
    let clientDone = false;
    let socketDone = false;
    socket.on("error", finish);
    socket.on("close", finish);
    socket.on("data", (chunk: Uint8Array) => {
      socket.pause();
      (async (): Promise<void> => {
        let offset = 0;
        while (offset < chunk.length) {
          offset += await client.write(chunk.subarray(offset));
        }
      })().then(() => socket.resume(), finish);
    });
    socket.on("end", () => {
      socketDone = true;
      client.closeWrite().catch(() => {});
      if (clientDone) finish();
    });
    (async (): Promise<void> => {
      const buffer = new Uint8Array(65536);
      for (;;) {
        const n = await client.read(buffer);
        if (n === null) break;
        if (!socket.write(buffer.slice(0, n))) {
          await new Promise<void>((r) => socket.once("drain", () => r()));
        }
      }
      clientDone = true;
      socket.end();
      if (socketDone) finish();
    })().catch(finish);
  });
}

async function handleTcp(
  client: Deno.TcpConn,
  address: string,
  port: number,
  keep: boolean,
): Promise<void> {
  open.add(client);
  const peer = unmapped((client.remoteAddr as Deno.NetAddr).hostname);
  if (keep && keepable(peer, address)) {
    let fd: number;
    try {
      net ??= await import("node:net");
      fd = await connectTransparent(peer, address, port);
    } catch {
      open.delete(client);
      closeQuietly(client);
      return;
    }
    const socket = new net.Socket({
      fd,
      readable: true,
      writable: true,
      allowHalfOpen: true,
    });
    if (closing) {
      socket.destroy();
      open.delete(client);
      closeQuietly(client);
      return;
    }
    await splice(client, socket);
    open.delete(client);
    return;
  }
  let upstream: Deno.TcpConn;
  try {
    upstream = await Deno.connect({ hostname: address, port });
  } catch {
    open.delete(client);
    closeQuietly(client);
    return;
  }
  const pair = [client, upstream];
  if (closing) {
    for (const conn of pair) closeQuietly(conn);
    return;
  }
  open.add(upstream);
  await Promise.all([
    pump(client, upstream, pair),
    pump(upstream, client, pair),
  ]);
  for (const conn of pair) {
    open.delete(conn);
    closeQuietly(conn);
  }
}

async function serveTcp(
  listener: Deno.TcpListener,
  address: string,
  port: number,
  keep: boolean,
): Promise<void> {
  try {
    for await (const client of listener) {
      track(handleTcp(client, address, port, keep));
    }
  } catch { /* the listener was closed */ }
}

interface UdpSession {
  send(data: Uint8Array): void;
  close(): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

function serveUdp(
  host: NodeDgram.Socket,
  address: string,
  port: number,
  keep: boolean,
  idleMs: number,
): void {
  const sessions = new Map<string, UdpSession>();
  const endSession = (key: string): void => {
    const session = sessions.get(key);
    if (session === undefined) return;
    sessions.delete(key);
    clearTimeout(session.timer);
    open.delete(session);
    closeQuietly(session);
  };
  const touch = (key: string, session: UdpSession): void => {
    clearTimeout(session.timer);
    session.timer = setTimeout(() => endSession(key), idleMs);
  };
  const answer = (reply: Uint8Array, rinfo: NodeDgram.RemoteInfo): void => {
    try {
      host.send(reply, rinfo.port, rinfo.address);
    } catch { /* the host socket is closed */ }
  };
  const makeSession = (
    key: string,
    rinfo: NodeDgram.RemoteInfo,
  ): UdpSession => {
    const peer = unmapped(rinfo.address);
    let session: UdpSession;
    if (keep && keepable(peer, address)) {
      // Made on this thread, so inside the namespace; from the client's address.
      const inner = new TransparentUdp(peer, rinfo.port, address, port);
      session = {
        send: (data) => void inner.send(data),
        close: () => inner.close(),
        timer: undefined,
      };
      track(inner.receive((reply) => {
        touch(key, session);
        answer(reply, rinfo);
      }));
    } else {
      const inner = dgram!.createSocket({
        type: address.includes(":") ? "udp6" : "udp4",
      });
      session = {
        send: (data) => inner.send(data, port, address),
        close: () => inner.close(),
        timer: undefined,
      };
      inner.on("message", (reply: Uint8Array) => {
        touch(key, session);
        answer(reply, rinfo);
      });
      inner.on("error", () => endSession(key));
    }
    open.add(session);
    sessions.set(key, session);
    return session;
  };
  host.on("message", (data: Uint8Array, rinfo: NodeDgram.RemoteInfo) => {
    if (closing) return;
    const key = `${rinfo.address} ${rinfo.port}`;
    let session = sessions.get(key);
    try {
      session ??= makeSession(key, rinfo);
      touch(key, session);
      session.send(data);
    } catch {
      endSession(key);
    }
  });
  host.on("close", () => {
    for (const key of [...sessions.keys()]) endSession(key);
  });
}

async function stop(): Promise<void> {
  closing = true;
  const released = hostSockets.map(closeHostSocket);
  for (const resource of open) closeQuietly(resource);
  open.clear();
  // A socket is released only once the operations pending on it have
  // settled: wait for them, so the host ports are free when "closed" arrives.
  await Promise.allSettled(released);
  while (tasks.size > 0) await Promise.allSettled([...tasks]);
  scope.postMessage({ type: "closed" });
}

async function start(message: ForwarderStart): Promise<void> {
  const { mappings, nsFd, nsPath } = message;
  const failed = await bindAll(mappings);
  if (failed !== undefined) {
    await Promise.allSettled(hostSockets.map(closeHostSocket));
    scope.postMessage({ type: "bind-error", ...failed });
    return;
  }
  const ports = hostSockets.map(portOf);
  if (message.keepClientAddress) net ??= await import("node:net");
  if (closing) return; // stop() closed what was bound
  const entered = enterNamespace(nsFd, nsPath);
  if (entered !== undefined) {
    await Promise.allSettled(hostSockets.map(closeHostSocket));
    scope.postMessage({ type: "ns-error", ...entered });
    return;
  }
  let netns = "unknown";
  try {
    netns = Deno.readLinkSync("/proc/thread-self/ns/net");
  } catch { /* no read permission: only informative */ }
  hostSockets.forEach((host, i) => {
    const mapping = mappings[i]!;
    const v6 = mapping.hostIp?.includes(":") ?? false;
    const address = v6 && message.address6 !== undefined
      ? message.address6
      : message.address;
    if (host.kind === "tcp") {
      track(
        serveTcp(
          host.listener,
          address,
          mapping.sandboxPort,
          message.keepClientAddress,
        ),
      );
    } else {
      serveUdp(
        host.socket,
        address,
        mapping.sandboxPort,
        message.keepClientAddress,
        message.udpIdleMs,
      );
    }
  });
  scope.postMessage({ type: "ready", ports, netns });
}

scope.onmessage = async ({ data }): Promise<void> => {
  if (data.type === "close") return await stop();
  if (data.type === "start" && !closing) await start(data);
};
