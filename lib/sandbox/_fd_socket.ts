/**
 * TCP listeners and connections over a socket made inside a namespace by a
 * throwaway thread (`NetNS.socket()`), for a rootless `Sandbox`: inside
 * nsnet's user namespace no thread of this process can enter the sandbox and
 * come back, so `Deno.listen`/`Deno.connect` cannot be made there. A socket
 * stays in the namespace it was made in whoever uses it, and Deno adopts a
 * listening socket's fd through `node:net` (`server.listen({ fd })`), a
 * connected one through `new net.Socket({ fd })`. The objects returned
 * implement `Deno.TcpListener` and `Deno.TcpConn`. Private to lib/sandbox.
 *
 * @module
 */

import type * as NodeNet from "node:net";
import { Errno } from "../../ffi/errno.ts";
import {
  bind,
  connect,
  getsockname,
  listen,
  setsockoptInt,
  SO,
  SOCK,
  SOL_SOCKET,
} from "../../ffi/socket.ts";
import { close } from "../../ffi/syscalls.ts";
import { InvalidArgumentError, NsnetError, SyscallError } from "../errors.ts";
import { tryParseIP } from "../netlink/ip_address.ts";
import { AF } from "../netlink/constants.ts";
import type { NetNS } from "../netns/netns.ts";

let nodeNet: typeof NodeNet | undefined;

/**
 * `node:net`, loaded on first use: importing it starts Deno's Node
 * compatibility layer, which no other user of the module should pay for.
 */
async function loadNodeNet(): Promise<typeof NodeNet> {
  return nodeNet ??= await import("node:net");
}

/** A `sockaddr_in` or `sockaddr_in6` for `hostname` (an IP literal) and `port`. */
function sockaddr(
  hostname: string,
  port: number,
): { family: number; bytes: Uint8Array<ArrayBuffer> } {
  const ip = tryParseIP(hostname);
  if (ip === undefined) {
    throw new InvalidArgumentError(
      `a rootless sandbox socket needs an IP address, not ${
        JSON.stringify(hostname)
      }`,
      { hint: "a name lookup would run outside the sandbox: resolve it first" },
    );
  }
  const v6 = ip.bytes.length === 16;
  const bytes = new Uint8Array(v6 ? 28 : 16);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, v6 ? AF.INET6 : AF.INET, true);
  view.setUint16(2, port, false);
  bytes.set(ip.bytes, v6 ? 8 : 4);
  return { family: v6 ? AF.INET6 : AF.INET, bytes };
}

/** The port a bound socket got (`getsockname`). */
function boundPort(fd: number): number {
  const address = new Uint8Array(28);
  getsockname(fd, address);
  return new DataView(address.buffer).getUint16(2, false);
}

function netAddr(
  hostname: string | undefined,
  port: number | undefined,
): Deno.NetAddr {
  return { transport: "tcp", hostname: hostname ?? "", port: port ?? 0 };
}

/** A node socket seen as a `Deno.TcpConn`. */
class FdConn implements Deno.TcpConn {
  readonly #socket: NodeNet.Socket;
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array<ArrayBufferLike>> | undefined;
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;

  constructor(
    socket: NodeNet.Socket,
    local?: Deno.NetAddr,
    remote?: Deno.NetAddr,
  ) {
    this.#socket = socket;
    this.localAddr = local ?? netAddr(socket.localAddress, socket.localPort);
    this.remoteAddr = remote ??
      netAddr(socket.remoteAddress, socket.remotePort);
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(new Uint8Array(chunk));
      socket.pause(); // one chunk at a time: read() resumes
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#error = error;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#closed) {
        throw new Deno.errors.BadResource("the connection is closed");
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#chunks[0]!;
    const n = Math.min(p.length, chunk.length);
    p.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    if (this.#chunks.length === 0 && !this.#ended) this.#socket.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed) {
      return Promise.reject(
        new Deno.errors.BadResource("the connection is closed"),
      );
    }
    const data = new Uint8Array(p); // node keeps the buffer until written
    return new Promise((resolve, reject) => {
      this.#socket.write(
        data,
        (error?: Error | null) => error ? reject(error) : resolve(data.length),
      );
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  close(): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource("the connection is closed");
    }
    this.#closed = true;
    this.#socket.destroy();
    this.#notify();
  }

  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream({
      pull: async (controller) => {
        const buffer = new Uint8Array(16 * 1024);
        const n = await this.read(buffer);
        if (n === null) controller.close();
        else controller.enqueue(buffer.subarray(0, n));
      },
      cancel: () => {
        if (!this.#closed) this.close();
      },
    });
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array<ArrayBufferLike>> {
    this.#writable ??= new WritableStream({
      write: async (chunk) => {
        let written = 0;
        while (written < chunk.length) {
          written += await this.write(chunk.subarray(written));
        }
      },
      close: () => this.closeWrite(),
      abort: () => {
        if (!this.#closed) this.close();
      },
    });
    return this.#writable;
  }

  setNoDelay(noDelay?: boolean): void {
    this.#socket.setNoDelay(noDelay);
  }

  setKeepAlive(keepAlive?: boolean): void {
    this.#socket.setKeepAlive(keepAlive);
  }

  ref(): void {
    this.#socket.ref();
  }

  unref(): void {
    this.#socket.unref();
  }

  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }
}

/**
 * A listening fd, seen as a `Deno.TcpListener`: a node server adopts it on
 * the first `accept()`, the first moment that may wait for `node:net`.
 */
class FdListener implements Deno.TcpListener {
  readonly #fd: number;
  #server: NodeNet.Server | undefined;
  #starting: Promise<NodeNet.Server> | undefined;
  #failed: Error | undefined;
  #referenced = true;
  readonly #pending: NodeNet.Socket[] = [];
  readonly #waiters: {
    resolve: (socket: NodeNet.Socket) => void;
    reject: (error: Error) => void;
  }[] = [];
  #closed = false;
  readonly addr: Deno.NetAddr;

  constructor(fd: number, addr: Deno.NetAddr) {
    this.#fd = fd;
    this.addr = addr;
  }

  /** The server on the fd, made once; its errors fail every waiting accept. */
  #start(): Promise<NodeNet.Server> {
    return this.#starting ??= loadNodeNet().then((net) => {
      const server = net.createServer({ allowHalfOpen: true });
      server.on("connection", (socket: NodeNet.Socket) => {
        const waiter = this.#waiters.shift();
        if (waiter) waiter.resolve(socket);
        else this.#pending.push(socket);
      });
      server.on("error", (error: Error) => {
        this.#failed = error;
        for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
      });
      if (this.#closed) {
        close(this.#fd); // closed while node:net loaded
        return server;
      }
      server.listen({ fd: this.#fd });
      if (!this.#referenced) server.unref();
      this.#server = server;
      return server;
    });
  }

  async accept(): Promise<Deno.TcpConn> {
    if (this.#closed) {
      throw new Deno.errors.BadResource("the listener is closed");
    }
    await this.#start();
    if (this.#failed !== undefined) throw this.#failed;
    if (this.#closed) {
      throw new Deno.errors.BadResource("the listener is closed");
    }
    const socket = this.#pending.shift() ??
      await new Promise<NodeNet.Socket>((resolve, reject) =>
        this.#waiters.push({ resolve, reject })
      );
    return new FdConn(socket);
  }

  close(): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource("the listener is closed");
    }
    this.#closed = true;
    if (this.#server !== undefined) this.#server.close();
    else if (this.#starting === undefined) close(this.#fd);
    for (const socket of this.#pending.splice(0)) socket.destroy();
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(new Deno.errors.BadResource("the listener is closed"));
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterableIterator<Deno.TcpConn> {
    while (!this.#closed) {
      try {
        yield await this.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return;
        throw error;
      }
    }
  }

  ref(): void {
    this.#referenced = true;
    this.#server?.ref();
  }

  unref(): void {
    this.#referenced = false;
    this.#server?.unref();
  }

  [Symbol.dispose](): void {
    if (!this.#closed) this.close();
  }
}

/** A TCP listener inside `ns`, its socket made by `ns.socket()` (a throwaway thread rootless). */
export function listenByFd(
  ns: NetNS,
  options: Deno.TcpListenOptions,
): Deno.TcpListener {
  const hostname = options.hostname ?? "0.0.0.0";
  const { family, bytes } = sockaddr(hostname, options.port ?? 0);
  const fd = ns.socket(family, SOCK.STREAM | SOCK.CLOEXEC, 0);
  let port: number;
  try {
    setsockoptInt(fd, SOL_SOCKET, SO.REUSEADDR, 1);
    bind(fd, bytes);
    listen(fd, 128);
    port = boundPort(fd);
  } catch (error) {
    close(fd);
    throw error;
  }
  return new FdListener(fd, { transport: "tcp", hostname, port });
}

const CONNECT_TIMEOUT_MS = 30_000;

/**
 * Connects the non-blocking socket `fd`, waiting for the handshake without
 * blocking the event loop: `connect()` again tells how it went (EALREADY
 * while in progress, EISCONN once connected, the failure otherwise).
 */
async function connected(
  fd: number,
  address: Uint8Array<ArrayBuffer>,
  subject: string,
): Promise<void> {
  if (connect(fd, address)) return;
  const deadline = Date.now() + CONNECT_TIMEOUT_MS;
  for (let delay = 1;; delay = Math.min(delay * 2, 50)) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    try {
      if (connect(fd, address)) return;
    } catch (error) {
      if (error instanceof SyscallError && error.errno === Errno.EISCONN) {
        return;
      }
      if (!(error instanceof SyscallError) || error.code !== "EALREADY") {
        throw error; // ECONNREFUSED, EHOSTUNREACH…
      }
    }
    if (Date.now() > deadline) {
      throw new NsnetError(
        `connect ${subject}: no answer within ${CONNECT_TIMEOUT_MS} ms`,
      );
    }
  }
}

/** A TCP connection from inside `ns`, its socket made by `ns.socket()`. */
export async function connectByFd(
  ns: NetNS,
  options: Deno.ConnectOptions,
): Promise<Deno.TcpConn> {
  const hostname = options.hostname ?? "127.0.0.1";
  const { family, bytes } = sockaddr(hostname, options.port);
  const fd = ns.socket(family, SOCK.STREAM | SOCK.CLOEXEC | SOCK.NONBLOCK, 0);
  let socket: NodeNet.Socket;
  try {
    await connected(fd, bytes, `${hostname}:${options.port}`);
    const net = await loadNodeNet();
    socket = new net.Socket({
      fd,
      readable: true,
      writable: true,
      allowHalfOpen: true,
    });
  } catch (error) {
    close(fd);
    throw error;
  }
  return new FdConn(
    socket,
    undefined,
    { transport: "tcp", hostname, port: options.port },
  );
}
