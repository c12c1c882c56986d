/**
 * The conformance suite every port forwarder passes (as rootlesskit's
 * pkg/port/testsuite does for its port drivers): root nftables DNAT, the
 * userspace forwarder, slirp4netns add_hostfwd and pasta -t. Each forwarder
 * is a {@linkcode ForwarderUnderTest}; {@linkcode forwarderConformance}
 * registers the same cases for it. Needs root: the forwarders run in
 * namespaces made for the test, or in sandboxes of the test user (rootless).
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "../_assert.ts";
import { NsnetError } from "../../lib/errors.ts";
import { nsTest } from "../_helpers.ts";
import type { PortMapping } from "../../lib/ports/spec.ts";
import { ask, freePort, type TestServer } from "./tcp.ts";

/** A forwarder publishing one port; `close()` unpublishes it. */
export interface Published {
  /** Stops forwarding; the host port is free afterwards. */
  close(): Promise<void>;
}

/** The port every server listens on inside its namespace. */
export const SANDBOX_PORT = 8080;

/** A forwarder made ready to publish into a namespace of its own. */
export interface Prepared {
  /**
   * Publishes `mapping` (host 127.0.0.1:hostPort to {@linkcode SANDBOX_PORT}
   * inside) the way nsnet does for this forwarder, failing as nsnet does
   * when the host port is taken.
   */
  publish(mapping: PortMapping): Promise<Published>;
  /**
   * Starts a server inside on {@linkcode SANDBOX_PORT} (after `publish`:
   * some forwarders make the namespace when publishing) that answers each
   * connection with `tag:` + what it read.
   */
  serve(tag: string): Promise<TestServer>;
  /** Undoes what preparing made (namespaces, helpers, links, tables). */
  cleanup(): Promise<void>;
}

/** One port forwarder under test. */
export interface ForwarderUnderTest {
  /** Its name in test names. */
  name: string;
  /** Whether it can run here (its program installed); the cases are skipped otherwise. */
  available: boolean;
  /** Whether its errors are nsnet's error classes (in-process), or only their messages (CLI). */
  typedErrors: boolean;
  /** Sets up what the forwarder needs. */
  prepare(): Promise<Prepared>;
}

function mappingTo(hostPort: number): PortMapping {
  return {
    protocol: "tcp",
    hostIp: "127.0.0.1",
    hostPort,
    sandboxPort: SANDBOX_PORT,
  };
}

/** Asks until the server behind the forwarder answers (both start asynchronously), at most ~10 s. */
async function askWhenUp(port: number, text: string): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 200; i++) {
    try {
      const answer = await ask(port, text);
      if (answer !== "") return answer;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no answer on 127.0.0.1:${port}: ${last}`);
}

async function withPrepared(
  forwarder: ForwarderUnderTest,
  fn: (prepared: Prepared) => Promise<void>,
): Promise<void> {
  const prepared = await forwarder.prepare();
  try {
    await fn(prepared);
  } finally {
    await prepared.cleanup();
  }
}

/** Registers the forwarder conformance cases for `forwarder`. */
export function forwarderConformance(forwarder: ForwarderUnderTest): void {
  const ignore = !forwarder.available;
  const name = (what: string): string => `${forwarder.name}: ${what}`;

  nsTest(
    name(
      "TCP to a server inside through the published host port, data both ways",
    ),
    async () => {
      await withPrepared(forwarder, async (prepared) => {
        const hostPort = freePort();
        const published = await prepared.publish(mappingTo(hostPort));
        try {
          const server = await prepared.serve(forwarder.name);
          try {
            assertEquals(
              await askWhenUp(hostPort, "ping"),
              `${forwarder.name}:ping`,
            );
            // A second connection works as well: the forwarding stays.
            assertEquals(
              await ask(hostPort, "again"),
              `${forwarder.name}:again`,
            );
          } finally {
            await server.close();
          }
        } finally {
          await published.close();
        }
      });
    },
    { ignore },
  );

  nsTest(
    name("a host port in use is a clear error naming the port"),
    async () => {
      await withPrepared(forwarder, async (prepared) => {
        const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const port = taken.addr.port;
        try {
          const error = await assertRejects(() =>
            prepared.publish(mappingTo(port))
          );
          assert(
            error.message.includes(String(port)),
            `the error names port ${port}: ${error.message}`,
          );
          if (forwarder.typedErrors) assertInstanceOf(error, NsnetError);
        } finally {
          taken.close();
        }
      });
    },
    { ignore },
  );

  nsTest(
    name("closing leaves the host port free"),
    async () => {
      await withPrepared(forwarder, async (prepared) => {
        const hostPort = freePort();
        const published = await prepared.publish(mappingTo(hostPort));
        let closed = false;
        try {
          const server = await prepared.serve(forwarder.name);
          try {
            assertEquals(
              await askWhenUp(hostPort, "up"),
              `${forwarder.name}:up`,
            );
          } finally {
            await server.close();
          }
          await published.close();
          closed = true;
          await assertRejects(
            () => ask(hostPort, "gone"),
            Deno.errors.ConnectionRefused,
          );
          Deno.listen({ hostname: "127.0.0.1", port: hostPort }).close();
        } finally {
          if (!closed) await published.close();
        }
      });
    },
    { ignore },
  );
}
