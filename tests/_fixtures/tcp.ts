/**
 * TCP servers inside a namespace and the client side that talks to them
 * from the host: what port-forwarding and connectivity tests share.
 *
 * @module
 */

import type { NetNS } from "../../lib/netns/netns.ts";

/** A server a test started; `close()` stops it and its connections. */
export interface TestServer {
  /** The port it listens on, inside its namespace. */
  port: number;
  /** Stops listening, ends open connections, and waits for the loop to end. */
  close(): Promise<void>;
}

/**
 * A server inside `ns` on `hostname`:`port` (0: any free port) that, per
 * connection, reads once and answers `tag:` + what it read, then closes:
 * each reply names the server.
 */
export function tagServer(
  ns: NetNS,
  tag: string,
  hostname = "0.0.0.0",
  port = 0,
): TestServer {
  const listener = ns.run(() => Deno.listen({ hostname, port }));
  const served = (async () => {
    for await (const conn of listener) {
      try {
        const buffer = new Uint8Array(1024);
        const n = await conn.read(buffer);
        await conn.write(
          new TextEncoder().encode(
            `${tag}:${new TextDecoder().decode(buffer.subarray(0, n ?? 0))}`,
          ),
        );
      } finally {
        conn.close();
      }
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    async close(): Promise<void> {
      listener.close();
      await served;
    },
  };
}

/**
 * A server inside `ns` on 127.0.0.1 that echoes every byte until the client
 * half-closes, writing `prefix` once before the first echo.
 */
export function echoServer(ns: NetNS, prefix = ""): TestServer {
  const listener = ns.run(() =>
    Deno.listen({ hostname: "127.0.0.1", port: 0 })
  );
  const conns = new Set<Deno.Conn>();
  const served = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const buffer = new Uint8Array(65536);
        const encoded = new TextEncoder().encode(prefix);
        try {
          let first = true;
          for (;;) {
            const n = await conn.read(buffer);
            if (n === null) break;
            if (first && encoded.length > 0) await conn.write(encoded);
            first = false;
            await conn.write(buffer.subarray(0, n));
          }
        } catch {
          // the test closed it
        } finally {
          conns.delete(conn);
          conn.close();
        }
      })();
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    async close(): Promise<void> {
      listener.close();
      for (const conn of conns) conn.close();
      await served;
    },
  };
}

/** Everything `conn` sends until it closes, decoded as UTF-8. */
export async function readAll(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  const total = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    total.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(total);
}

/**
 * Connects to `hostname:port`, sends `text`, half-closes, and returns all
 * the reply; rejects when the connection is refused.
 */
export async function ask(
  port: number,
  text: string,
  hostname = "127.0.0.1",
): Promise<string> {
  const conn = await Deno.connect({ hostname, port });
  try {
    await conn.write(new TextEncoder().encode(text));
    await conn.closeWrite();
    return await readAll(conn);
  } finally {
    conn.close();
  }
}

/** A free TCP port on 127.0.0.1, as the kernel hands one out (bound, then released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
