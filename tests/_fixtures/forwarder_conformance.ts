/**
 * The conformance suite every port forwarder passes (as rootlesskit's
 * pkg/port/testsuite does for its port drivers): root nftables DNAT, the
 * userspace forwarder, slirp4netns add_hostfwd and pasta -t. Each forwarder
 * is a {@linkcode ForwarderUnderTest}; {@linkcode forwarderConformance}
 * registers the same cases for it. Needs root (the namespaces are made for
 * the test; the forwarders run as they would for a rootless sandbox too).
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { nsTest, withNamespaces } from "../_helpers.ts";
import type { NetNS } from "../../lib/netns/netns.ts";
import { NsnetError } from "../../lib/errors.ts";
import type { PortMapping } from "../../lib/ports/spec.ts";
import { ask, tagServer } from "./tcp.ts";

/** A forwarder publishing one port; `close()` unpublishes it. */
export interface Published {
  /** Stops forwarding; the host port is free afterwards. */
  close(): Promise<void>;
}

/** What a forwarder needs inside a namespace before it can publish. */
export interface Prepared {
  /** Where the server inside listens for the forwarder to reach it. */
  serverHost: string;
  /**
   * Publishes `mapping` (host 127.0.0.1:hostPort to the server's port) the
   * way nsnet does for this forwarder, failing as nsnet does when the host
   * port is taken.
   */
  publish(mapping: PortMapping): Promise<Published>;
  /** Undoes what preparing made (helpers, links, tables). */
  cleanup(): Promise<void>;
}

/** One port forwarder under test. */
export interface ForwarderUnderTest {
  /** Its name in test names. */
  name: string;
  /** Whether it can run here (its program installed); the cases are skipped otherwise. */
  available: boolean;
  /** Sets up what the forwarder needs for namespace `ns`. */
  prepare(ns: NetNS): Promise<Prepared>;
}

/** A free TCP port on 127.0.0.1, as the kernel hands one out. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

function mappingTo(hostPort: number, sandboxPort: number): PortMapping {
  return { protocol: "tcp", hostIp: "127.0.0.1", hostPort, sandboxPort };
}

/** Asks until the forwarder answers (some start asynchronously), at most ~3 s. */
async function askWhenUp(port: number, text: string): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 60; i++) {
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
  fn: (ns: NetNS, prepared: Prepared) => Promise<void>,
): Promise<void> {
  await withNamespaces(1, async ([ns]) => {
    const prepared = await forwarder.prepare(ns!);
    try {
      await fn(ns!, prepared);
    } finally {
      await prepared.cleanup();
    }
  });
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
      await withPrepared(forwarder, async (ns, prepared) => {
        const server = tagServer(ns, forwarder.name, prepared.serverHost);
        try {
          const hostPort = freePort();
          const published = await prepared.publish(
            mappingTo(hostPort, server.port),
          );
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
            await published.close();
          }
        } finally {
          await server.close();
        }
      });
    },
    { ignore },
  );

  nsTest(
    name("a host port in use is a clear error naming the port"),
    async () => {
      await withPrepared(forwarder, async (ns, prepared) => {
        const server = tagServer(ns, forwarder.name, prepared.serverHost);
        const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const port = taken.addr.port;
        try {
          const error = await assertRejects(
            () => prepared.publish(mappingTo(port, server.port)),
            NsnetError,
          );
          assert(
            error.message.includes(String(port)),
            `the error names port ${port}: ${error.message}`,
          );
        } finally {
          taken.close();
          await server.close();
        }
      });
    },
    { ignore },
  );

  nsTest(
    name("closing leaves the host port free"),
    async () => {
      await withPrepared(forwarder, async (ns, prepared) => {
        const server = tagServer(ns, forwarder.name, prepared.serverHost);
        try {
          const hostPort = freePort();
          const published = await prepared.publish(
            mappingTo(hostPort, server.port),
          );
          assertEquals(await askWhenUp(hostPort, "up"), `${forwarder.name}:up`);
          await published.close();
          await assertRejects(
            () => ask(hostPort, "gone"),
            Deno.errors.ConnectionRefused,
          );
          Deno.listen({ hostname: "127.0.0.1", port: hostPort }).close();
        } finally {
          await server.close();
        }
      });
    },
    { ignore },
  );
}
