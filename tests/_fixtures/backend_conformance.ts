/**
 * The conformance suite every sandbox network backend passes (builtin, CNI,
 * netavark), as rootlesskit's pkg/port/testsuite does for its drivers. Each
 * backend is a {@linkcode BackendUnderTest}; each way of reaching nsnet is a
 * {@linkcode SandboxDriver} (root: `createSandbox`/`removeSandbox` with
 * `backend:` in-process; rootless: the CLI as the test user), and
 * {@linkcode backendConformance} registers the same cases for every pair.
 * Needs root (the rootless driver runs nsnet as the test user).
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "../_assert.ts";
import { nftTables, nsTest, restoreNftTables, succeeds } from "../_helpers.ts";
import {
  NetworkNotFoundError,
  SandboxNotFoundError,
} from "../../lib/errors.ts";

/** One sandbox network backend under test, with a network of its own. */
export interface BackendUnderTest {
  /** The `backend:` value. */
  backend: "builtin" | "cni" | "netavark";
  /** Whether it can run here (its plugins installed); the cases are skipped otherwise. */
  available: boolean;
  /** The network's name. */
  network: string;
  /** Its IPv4 subnet (`a.b.c.0/24`). */
  subnet: string;
  /** Its gateway. */
  gateway: string;
  /** Its bridge (on the host as root, in the rootless namespace rootless). */
  bridge: string;
  /**
   * Writes the network's definition into `dir` where the backend looks for
   * it; returns the environment that points the backend there.
   */
  configure(dir: string): Record<string, string>;
  /** Whether the backend leaves firewall tables on the host by design (the test removes them). */
  leavesTables: boolean;
}

/** What a sandbox leaves that a test can see. */
export interface SandboxState {
  /** veth links where the sandboxes' bridge lives. */
  veths: string[];
  /** Namespace files of sandboxes. */
  namespaces: string[];
  /** Sandbox record files. */
  records: string[];
}

/** One case's view of nsnet through a driver; every call acts as the driver's user. */
export interface DriverSession {
  /** Creates sandbox `name` on `network`; rejects with nsnet's error. */
  create(name: string, network: string): Promise<void>;
  /** Removes sandbox `name`; rejects with nsnet's error. */
  remove(name: string): Promise<void>;
  /** The IPv4 addresses inside sandbox `name`, loopback's left out. */
  addresses(name: string): Promise<string[]>;
  /** The gateway of the default IPv4 route inside sandbox `name`. */
  gateway(name: string): Promise<string | undefined>;
  /**
   * Serves once inside sandbox `to` on `address`, connects from sandbox
   * `from`, sends `text`, and returns the reply (`tag:` + what it read).
   */
  exchange(
    from: string,
    to: string,
    address: string,
    tag: string,
    text: string,
  ): Promise<string>;
  /** What sandboxes left. */
  state(): Promise<SandboxState>;
  /** Removes what the session made (sandboxes it named, helpers, state). */
  end(): Promise<void>;
}

/** A way of reaching nsnet: as root in-process, or as the unprivileged test user. */
export interface SandboxDriver {
  /** Its name in test names. */
  label: string;
  /** Whether it can run here. */
  available: boolean;
  /** Whether its errors are nsnet's error classes (in-process), or only their messages. */
  typedErrors: boolean;
  /** Starts a session for `backend`, its network defined in `dir` (readable by the driver's user). */
  begin(backend: BackendUnderTest, dir: string): Promise<DriverSession>;
}

function ipv4(text: string): number {
  return text.split(".").reduce((n, part) => n * 256 + Number(part), 0);
}

/** Whether `address` lies in `cidr`. */
export function inSubnet(address: string, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  return Math.floor(ipv4(address) / size) === Math.floor(ipv4(base!) / size);
}

/** IPv4 addresses in `ip -j -4 addr` output, loopback's left out. */
export function parseAddresses(json: string): string[] {
  const links: { ifname: string; addr_info?: { local: string }[] }[] = JSON
    .parse(json || "[]");
  return links.filter((l) => l.ifname !== "lo").flatMap((l) =>
    (l.addr_info ?? []).map((a) => a.local)
  );
}

/** The gateway in `ip -j -4 route show default` output. */
export function parseGateway(json: string): string | undefined {
  const routes: { gateway?: string }[] = JSON.parse(json || "[]");
  return routes[0]?.gateway;
}

/** veth names in `ip -j link show type veth` output. */
export function parseVeths(json: string): string[] {
  const links: { ifname: string }[] = JSON.parse(json || "[]");
  return links.map((l) => l.ifname).sort();
}

let counter = 0;

/**
 * Runs `fn` in a driver session for `b`: its network defined in a temporary
 * directory; afterwards the session ends, and the directory, the bridge and
 * the tables the backend leaves go.
 */
async function withSession(
  b: BackendUnderTest,
  driver: SandboxDriver,
  fn: (session: DriverSession, sandboxName: () => string) => Promise<void>,
): Promise<void> {
  const dir = Deno.makeTempDirSync({
    dir: "/var/tmp",
    prefix: "nsnet-conformance-",
  });
  const tables = nftTables();
  try {
    Deno.chmodSync(dir, 0o755);
    const session = await driver.begin(b, dir);
    try {
      await fn(
        session,
        () => `nsntc-${b.backend}-${Deno.pid % 10000}-${++counter}`,
      );
    } finally {
      await session.end();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
    succeeds("ip", "link", "del", b.bridge);
    if (b.leavesTables) restoreNftTables(tables);
  }
}

/** Registers the backend conformance cases for backend `b` through `driver`. */
export function backendConformance(
  b: BackendUnderTest,
  driver: SandboxDriver,
): void {
  const ignore = !b.available || !driver.available;
  const name = (what: string): string =>
    `backend ${b.backend} (${driver.label}): ${what}`;

  nsTest(
    name(
      "an address in the network's subnet, the default route via its gateway",
    ),
    async () => {
      await withSession(b, driver, async (session, sandboxName) => {
        const sandbox = sandboxName();
        await session.create(sandbox, b.network);
        const addresses = await session.addresses(sandbox);
        assert(
          addresses.some((a) => inSubnet(a, b.subnet)),
          `an address in ${b.subnet}: ${addresses}`,
        );
        assertEquals(await session.gateway(sandbox), b.gateway);
      });
    },
    { ignore },
  );

  nsTest(
    name("TCP between two sandboxes on the network, both ways"),
    async () => {
      await withSession(b, driver, async (session, sandboxName) => {
        const [client, server] = [sandboxName(), sandboxName()];
        await session.create(client, b.network);
        await session.create(server, b.network);
        const address = (await session.addresses(server)).find((a) =>
          inSubnet(a, b.subnet)
        );
        assert(address !== undefined, "the server has an address");
        assertEquals(
          await session.exchange(client, server, address, b.backend, "ping"),
          `${b.backend}:ping`,
        );
      });
    },
    { ignore },
  );

  nsTest(
    name("a missing network is a clear error, before anything is made"),
    async () => {
      await withSession(b, driver, async (session, sandboxName) => {
        const before = await session.state();
        const error = await assertRejects(() =>
          session.create(sandboxName(), "nsntc-missing")
        );
        assertInstanceOf(error, Error);
        assertStringIncludes(error.message, "nsntc-missing");
        if (driver.typedErrors) {
          assertInstanceOf(error, NetworkNotFoundError);
          assertEquals([error.network, error.backend], [
            "nsntc-missing",
            b.backend,
          ]);
        }
        assertEquals(await session.state(), before);
      });
    },
    { ignore },
  );

  nsTest(
    name("removal leaves no veth, namespace or record"),
    async () => {
      await withSession(b, driver, async (session, sandboxName) => {
        const before = await session.state();
        const sandbox = sandboxName();
        await session.create(sandbox, b.network);
        const made = await session.state();
        assertEquals(made.records.length, before.records.length + 1);
        assertEquals(made.namespaces.length, before.namespaces.length + 1);
        assertEquals(made.veths.length, before.veths.length + 1);
        await session.remove(sandbox);
        assertEquals(await session.state(), before);
      });
    },
    { ignore },
  );

  nsTest(
    name("removing twice: the second is a clear sandbox-not-found error"),
    async () => {
      await withSession(b, driver, async (session, sandboxName) => {
        const sandbox = sandboxName();
        await session.create(sandbox, b.network);
        await session.remove(sandbox);
        const after = await session.state();
        const error = await assertRejects(() => session.remove(sandbox));
        assertInstanceOf(error, Error);
        assertStringIncludes(error.message, `no sandbox named ${sandbox}`);
        if (driver.typedErrors) {
          assertInstanceOf(error, SandboxNotFoundError);
        }
        assertEquals(await session.state(), after);
      });
    },
    { ignore },
  );
}
