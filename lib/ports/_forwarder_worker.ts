/**
 * The forwarder thread of `startForwarder` (`forwarder.ts`).
 *
 * Order matters: the thread binds the host ports first, while it is still in
 * the host's network namespace, then enters the sandbox's namespace for good
 * (rootless it could never come back), so every connection it opens to the
 * sandbox is made inside. Sockets stay in the namespace they were made in.
 *
 * @module
 */

import { bindLibcSymbols } from "../../ffi/libc.ts";
import { CLONE, close, O, openPath, setns } from "../../ffi/syscalls.ts";
import { SyscallError } from "../errors.ts";
import { workerScope } from "../worker.ts";
import type {
  ForwarderReply,
  ForwarderRequest,
  ForwarderStart,
} from "./forwarder.ts";
import type { PortMapping } from "./spec.ts";

const UDP_IDLE_MS = 60_000;

type Listener = Deno.Listener | Deno.DatagramConn;

const scope = workerScope<ForwarderRequest, ForwarderReply>();
const listeners: Listener[] = [];
const open = new Set<{ close(): void }>();
const tasks = new Set<Promise<void>>();
let closing = false;

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

function describe(error: unknown): { name: string; message: string } {
  const e = error as { name?: string; message?: string } | undefined;
  return { name: e?.name ?? "Error", message: String(e?.message ?? error) };
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

function bindAll(
  mappings: readonly PortMapping[],
): { index: number; error: { name: string; message: string } } | undefined {
  for (const [index, m] of mappings.entries()) {
    const hostname = m.hostIp ?? "0.0.0.0";
    try {
      listeners.push(
        m.protocol === "tcp"
          ? Deno.listen({ hostname, port: m.hostPort })
          : Deno.listenDatagram({
            transport: "udp",
            hostname,
            port: m.hostPort,
          }),
      );
    } catch (error) {
      return { index, error: describe(error) };
    }
  }
  return undefined;
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

async function handleTcp(
  client: Deno.TcpConn,
  address: string,
  port: number,
): Promise<void> {
  open.add(client);
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
): Promise<void> {
  try {
    for await (const client of listener) {
      track(handleTcp(client, address, port));
    }
  } catch { /* the listener was closed */ }
}

interface UdpSession {
  socket: Deno.DatagramConn;
  timer: ReturnType<typeof setTimeout> | undefined;
}

async function serveUdp(
  socket: Deno.DatagramConn,
  address: string,
  port: number,
): Promise<void> {
  const sessions = new Map<string, UdpSession>();
  const wildcard = address.includes(":") ? "::" : "0.0.0.0";
  const target: Deno.NetAddr = { transport: "udp", hostname: address, port };
  const endSession = (key: string): void => {
    const session = sessions.get(key);
    if (session === undefined) return;
    sessions.delete(key);
    clearTimeout(session.timer);
    open.delete(session.socket);
    closeQuietly(session.socket);
  };
  const touch = (key: string, session: UdpSession): void => {
    clearTimeout(session.timer);
    session.timer = setTimeout(() => endSession(key), UDP_IDLE_MS);
  };
  try {
    for (;;) {
      const [data, from] = await socket.receive();
      const peer = from as Deno.NetAddr;
      const key = `${peer.hostname} ${peer.port}`;
      let session = sessions.get(key);
      if (session === undefined) {
        // Made on this thread, so inside the sandbox's namespace.
        const inner = Deno.listenDatagram({
          transport: "udp",
          hostname: wildcard,
          port: 0,
        });
        open.add(inner);
        const made: UdpSession = { socket: inner, timer: undefined };
        session = made;
        sessions.set(key, made);
        track((async (): Promise<void> => {
          try {
            for (;;) {
              const [reply] = await inner.receive();
              touch(key, made);
              await socket.send(reply, peer);
            }
          } catch {
            endSession(key);
          }
        })());
      }
      touch(key, session);
      await session.socket.send(data, target).catch(() => endSession(key));
    }
  } catch {
    for (const key of [...sessions.keys()]) endSession(key);
  }
}

async function stop(): Promise<void> {
  closing = true;
  for (const listener of listeners) closeQuietly(listener);
  for (const resource of open) closeQuietly(resource);
  open.clear();
  // A socket is released only once the operations pending on it have
  // settled: wait for them, so the host ports are free when "closed" arrives.
  while (tasks.size > 0) await Promise.allSettled([...tasks]);
  scope.postMessage({ type: "closed" });
}

function start(message: ForwarderStart): void {
  const { mappings, nsFd, nsPath, address } = message;
  const failed = bindAll(mappings);
  if (failed !== undefined) {
    for (const listener of listeners) closeQuietly(listener);
    scope.postMessage({ type: "bind-error", ...failed });
    return;
  }
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  const entered = enterNamespace(nsFd, nsPath);
  if (entered !== undefined) {
    for (const listener of listeners) closeQuietly(listener);
    scope.postMessage({ type: "ns-error", ...entered });
    return;
  }
  let netns = "unknown";
  try {
    netns = Deno.readLinkSync("/proc/thread-self/ns/net");
  } catch { /* no read permission: only informative */ }
  listeners.forEach((listener, i) => {
    const mapping = mappings[i]!;
    track(
      mapping.protocol === "tcp"
        ? serveTcp(listener as Deno.TcpListener, address, mapping.sandboxPort)
        : serveUdp(
          listener as Deno.DatagramConn,
          address,
          mapping.sandboxPort,
        ),
    );
  });
  scope.postMessage({ type: "ready", ports, netns });
}

scope.onmessage = async ({ data }): Promise<void> => {
  if (data.type === "close") return await stop();
  if (data.type === "start" && !closing) start(data);
};
