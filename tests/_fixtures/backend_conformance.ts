/**
 * The conformance suite every sandbox network backend passes (builtin, CNI,
 * netavark), as rootlesskit's pkg/port/testsuite does for its drivers: each
 * backend is a {@linkcode BackendUnderTest}, and
 * {@linkcode backendConformance} registers the same cases for it, driving
 * `createSandbox`/`removeSandbox` with `backend:` in-process. Needs root.
 *
 * @module
 */

import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  nftTables,
  nsTest,
  restoreNftTables,
  run,
  succeeds,
} from "../_helpers.ts";
import { createSandbox, removeSandbox } from "../../lib/sandbox/lifecycle.ts";
import { getNS } from "../../lib/netns/netns.ts";
import {
  NetworkNotFoundError,
  SandboxNotFoundError,
} from "../../lib/errors.ts";
import { tagServer } from "./tcp.ts";

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
  /** Its bridge on the host. */
  bridge: string;
  /**
   * Writes the network's definition into `dir` where the backend looks for
   * it; returns the environment that points the backend there.
   */
  configure(dir: string): Record<string, string>;
  /** Whether the backend's firewall tables are left by design (removed by the test). */
  leavesTables: boolean;
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

/** The host's links, by name. */
function hostLinks(): string[] {
  return run("ip", "-br", "link").split("\n").map((l) => l.split(/\s+/)[0]!)
    .map((n) => n.split("@")[0]!).filter((n) => n !== "").sort();
}

/** Names in /run/netns. */
function namespaces(): string[] {
  try {
    return [...Deno.readDirSync("/run/netns")].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Sandbox record files (root's state dir). */
function records(): string[] {
  try {
    return [...Deno.readDirSync("/run/nsnet/sandboxes")].map((e) => e.name)
      .filter((n) => n.endsWith(".json")).sort();
  } catch {
    return [];
  }
}

/** What a sandbox leaves on the host that a test can see. */
function hostState(bridge: string): {
  links: string[];
  namespaces: string[];
  records: string[];
} {
  return {
    // The network's bridge may stay (CNI's bridge plugin keeps it, as under Podman).
    links: hostLinks().filter((n) => n !== bridge),
    namespaces: namespaces(),
    records: records(),
  };
}

function nameOfPath(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** IPv4 addresses inside the namespace at `path`, but loopback's. */
function addressesIn(path: string): string[] {
  const links: { ifname: string; addr_info?: { local: string }[] }[] = JSON
    .parse(run("ip", "-n", nameOfPath(path), "-j", "-4", "addr", "show"));
  return links.filter((l) => l.ifname !== "lo").flatMap((l) =>
    (l.addr_info ?? []).map((a) => a.local)
  );
}

function defaultGateway(path: string): string | undefined {
  const routes: { dst: string; gateway?: string }[] = JSON.parse(
    run("ip", "-n", nameOfPath(path), "-j", "-4", "route", "show", "default"),
  );
  return routes[0]?.gateway;
}

let counter = 0;

/**
 * Runs `fn` with the backend configured (its network defined in a temporary
 * directory, the environment pointing there), then removes every sandbox it
 * named, the directory, the bridge, and the tables the backend leaves.
 */
async function withBackend(
  b: BackendUnderTest,
  fn: (sandboxName: () => string) => Promise<void>,
): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "nsnet-conformance-" });
  const env = b.configure(dir);
  const saved = Object.keys(env).map((k) => [k, Deno.env.get(k)] as const);
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  const tables = nftTables();
  const named: string[] = [];
  try {
    await fn(() => {
      const name = `nsntc-${b.backend}-${Deno.pid % 10000}-${++counter}`;
      named.push(name);
      return name;
    });
  } finally {
    for (const name of named) {
      await removeSandbox(name).catch(() => {});
    }
    for (const [k, v] of saved) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
    Deno.removeSync(dir, { recursive: true });
    succeeds("ip", "link", "del", b.bridge);
    if (b.leavesTables) restoreNftTables(tables);
  }
}

/** Registers the backend conformance cases for `b`. */
export function backendConformance(b: BackendUnderTest): void {
  const ignore = !b.available;
  const name = (what: string): string => `backend ${b.backend}: ${what}`;
  const create = (sandbox: string, network = b.network) =>
    createSandbox({ name: sandbox, network, backend: b.backend });

  nsTest(
    name(
      "an address in the network's subnet, the default route via its gateway",
    ),
    async () => {
      await withBackend(b, async (sandboxName) => {
        const record = await create(sandboxName());
        const addresses = addressesIn(record.netnsPath!);
        assert(
          addresses.some((a) => inSubnet(a, b.subnet)),
          `an address in ${b.subnet}: ${addresses}`,
        );
        assertEquals(defaultGateway(record.netnsPath!), b.gateway);
      });
    },
    { ignore },
  );

  nsTest(
    name("TCP between two sandboxes on the network, both ways"),
    async () => {
      await withBackend(b, async (sandboxName) => {
        const client = await create(sandboxName());
        const server = await create(sandboxName());
        const [address] = addressesIn(server.netnsPath!).filter((a) =>
          inSubnet(a, b.subnet)
        );
        using ns = getNS(server.netnsPath!);
        const listener = tagServer(ns, b.backend, address!);
        try {
          const out = await new Deno.Command("ip", {
            args: [
              "netns",
              "exec",
              nameOfPath(client.netnsPath!),
              "timeout",
              "5",
              "bash",
              "-c",
              `exec 3<>/dev/tcp/${address}/${listener.port} && printf ping >&3 && cat <&3`,
            ],
            stdout: "piped",
            stderr: "piped",
          }).output();
          assertEquals(
            new TextDecoder().decode(out.stdout),
            `${b.backend}:ping`,
            new TextDecoder().decode(out.stderr),
          );
        } finally {
          await listener.close();
        }
      });
    },
    { ignore },
  );

  nsTest(
    name("a missing network is a clear error, before anything is made"),
    async () => {
      await withBackend(b, async (sandboxName) => {
        const before = hostState(b.bridge);
        const error = await assertRejects(
          () => create(sandboxName(), "nsntc-missing"),
          NetworkNotFoundError,
        );
        assertEquals([error.network, error.backend], [
          "nsntc-missing",
          b.backend,
        ]);
        assertEquals(hostState(b.bridge), before);
      });
    },
    { ignore },
  );

  nsTest(
    name("removal leaves no veth, namespace or record"),
    async () => {
      await withBackend(b, async (sandboxName) => {
        const before = hostState(b.bridge);
        const sandbox = sandboxName();
        const record = await create(sandbox);
        assert(
          namespaces().includes(nameOfPath(record.netnsPath!)),
          "the sandbox's namespace is in /run/netns",
        );
        await removeSandbox(sandbox);
        assertEquals(hostState(b.bridge), before);
      });
    },
    { ignore },
  );

  nsTest(
    name("removing twice: the second is a clear SandboxNotFoundError"),
    async () => {
      await withBackend(b, async (sandboxName) => {
        const sandbox = sandboxName();
        await create(sandbox);
        await removeSandbox(sandbox);
        const after = hostState(b.bridge);
        await assertRejects(() => removeSandbox(sandbox), SandboxNotFoundError);
        assertEquals(hostState(b.bridge), after);
      });
    },
    { ignore },
  );
}
