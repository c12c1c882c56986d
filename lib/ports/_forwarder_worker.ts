/**
 * The forwarder thread's code, as a self-contained source string (no
 * imports: it is loaded from a data URL, so it survives `deno bundle` and
 * `deno compile`). Expects `LIBC` to be defined before it.
 *
 * Order matters: the thread binds the host ports first, while it is still in
 * the host's network namespace, then enters the sandbox's namespace for good
 * (rootless it could never come back), so every connection it opens to the
 * sandbox is made inside. Sockets stay in the namespace they were made in.
 *
 * @module
 */

/** The worker's source; prefix it with `const LIBC = "<path>";`. */
export const FORWARDER_WORKER_SOURCE = `
const CLONE_NEWNET = 0x40000000;
const O_RDONLY_CLOEXEC = 0o2000000;
const UDP_IDLE_MS = 60000;
const listeners = [];
const open = new Set();
const tasks = new Set();
let closing = false;

function track(promise) {
  tasks.add(promise);
  const done = () => tasks.delete(promise);
  promise.then(done, done);
}

function closeQuietly(resource) {
  try { resource.close(); } catch { /* already closed */ }
}

function describe(error) {
  return { name: error?.name ?? "Error", message: String(error?.message ?? error) };
}

function enterNamespace(nsFd, nsPath) {
  const lib = Deno.dlopen(LIBC, {
    setns: { parameters: ["i32", "i32"], result: "i32" },
    open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
    memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
  });
  const errno = () => {
    const cell = new Int32Array(1);
    lib.symbols.memcpy(cell, lib.symbols.__errno_location(), 4n);
    return cell[0];
  };
  try {
    let fd = nsFd;
    if (nsPath !== undefined) {
      fd = lib.symbols.open(new TextEncoder().encode(nsPath + "\\0"), O_RDONLY_CLOEXEC, 0);
      if (fd < 0) return { syscall: "open", errno: errno() };
    }
    const result = lib.symbols.setns(fd, CLONE_NEWNET);
    const code = result === 0 ? 0 : errno();
    if (nsPath !== undefined) lib.symbols.close(fd);
    return code === 0 ? undefined : { syscall: "setns", errno: code };
  } finally {
    lib.close();
  }
}

function bindAll(mappings) {
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i];
    const hostname = m.hostIp ?? "0.0.0.0";
    try {
      if (m.protocol === "tcp") {
        listeners.push(Deno.listen({ hostname, port: m.hostPort }));
      } else {
        listeners.push(Deno.listenDatagram({ transport: "udp", hostname, port: m.hostPort }));
      }
    } catch (error) {
      return { index: i, error: describe(error) };
    }
  }
  return undefined;
}

async function pump(from, to, pair) {
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

async function handleTcp(client, address, port) {
  open.add(client);
  let upstream;
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
  await Promise.all([pump(client, upstream, pair), pump(upstream, client, pair)]);
  for (const conn of pair) {
    open.delete(conn);
    closeQuietly(conn);
  }
}

async function serveTcp(listener, address, port) {
  try {
    for await (const client of listener) track(handleTcp(client, address, port));
  } catch { /* the listener was closed */ }
}

async function serveUdp(socket, address, port) {
  const sessions = new Map();
  const wildcard = address.includes(":") ? "::" : "0.0.0.0";
  const target = { transport: "udp", hostname: address, port };
  const endSession = (key) => {
    const session = sessions.get(key);
    if (session === undefined) return;
    sessions.delete(key);
    clearTimeout(session.timer);
    open.delete(session.socket);
    closeQuietly(session.socket);
  };
  const touch = (key, session) => {
    clearTimeout(session.timer);
    session.timer = setTimeout(() => endSession(key), UDP_IDLE_MS);
  };
  try {
    for (;;) {
      const [data, peer] = await socket.receive();
      const key = peer.hostname + " " + peer.port;
      let session = sessions.get(key);
      if (session === undefined) {
        // Made on this thread, so inside the sandbox's namespace.
        const inner = Deno.listenDatagram({ transport: "udp", hostname: wildcard, port: 0 });
        open.add(inner);
        session = { socket: inner, timer: undefined };
        sessions.set(key, session);
        track((async () => {
          try {
            for (;;) {
              const [reply] = await inner.receive();
              touch(key, session);
              await socket.send(reply, peer);
            }
          } catch { endSession(key); }
        })());
      }
      touch(key, session);
      await session.socket.send(data, target).catch(() => endSession(key));
    }
  } catch {
    for (const key of [...sessions.keys()]) endSession(key);
  }
}

self.onmessage = async (event) => {
  const message = event.data;
  if (message.type === "close") {
    closing = true;
    for (const listener of listeners) closeQuietly(listener);
    for (const resource of open) closeQuietly(resource);
    open.clear();
    // A socket is released only once the operations pending on it have
    // settled: wait for them, so the host ports are free when "closed" arrives.
    while (tasks.size > 0) await Promise.allSettled([...tasks]);
    self.postMessage({ type: "closed" });
    return;
  }
  if (message.type !== "start" || closing) return;
  const { mappings, nsFd, nsPath, address } = message;
  const failed = bindAll(mappings);
  if (failed !== undefined) {
    for (const listener of listeners) closeQuietly(listener);
    self.postMessage({ type: "bind-error", ...failed });
    return;
  }
  const ports = listeners.map((l) => l.addr.port);
  const entered = enterNamespace(nsFd, nsPath);
  if (entered !== undefined) {
    for (const listener of listeners) closeQuietly(listener);
    self.postMessage({ type: "ns-error", ...entered });
    return;
  }
  let netns = "unknown";
  try {
    netns = Deno.readLinkSync("/proc/thread-self/ns/net");
  } catch { /* no read permission: only informative */ }
  listeners.forEach((listener, i) => {
    const port = mappings[i].sandboxPort;
    track(
      mappings[i].protocol === "tcp"
        ? serveTcp(listener, address, port)
        : serveUdp(listener, address, port),
    );
  });
  self.postMessage({ type: "ready", ports, netns });
};
`;
