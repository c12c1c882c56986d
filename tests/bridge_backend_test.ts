/**
 * The bridge backend, as root. Most tests put the "host" side (bridge,
 * nftables table, ip_forward) in a namespace made for the test, so nothing
 * touches the machine's own network; one test uses the real host namespace
 * with a test bridge, subnet and table. Every test checks that teardown
 * leaves no link, rule or state file.
 */
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertRejects,
} from "./_assert.ts";
import { nsTest, run, withNamespaces } from "./_helpers.ts";
import {
  AlreadyConnectedError,
  type BridgeContext,
  hostVethName,
  rootBridgeContext,
  setupBridge,
  teardownBridge,
} from "../lib/bridge/backend.ts";
import type { NetworkConfig } from "../lib/bridge/network.ts";
import { NftablesError } from "../lib/bridge/nftables.ts";
import { inspectNetNS } from "../lib/inspect.ts";
import { clearFaults, injectFault } from "../lib/netns/_faults.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { newNS } from "../lib/netns/create.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import { nameOf } from "./_fixtures/netns.ts";

const NET_A: NetworkConfig = {
  name: "testa",
  bridge: "nsnt-a",
  subnet: "10.123.1.0/24",
  gateway: "10.123.1.1",
};
const NET_B: NetworkConfig = {
  name: "testb",
  bridge: "nsnt-b",
  subnet: "10.123.2.0/24",
  gateway: "10.123.2.1",
};

function linkNames(ns: NetNS): string[] {
  const links = JSON.parse(run("ip", "-n", nameOf(ns), "-j", "link", "show"));
  return (links as { ifname: string }[]).map((l) => l.ifname).sort();
}

function ruleset(ns: NetNS): string {
  return run("ip", "netns", "exec", nameOf(ns), "nft", "list", "ruleset");
}

function stateFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const e of Deno.readDirSync(d)) {
      if (e.isDirectory) walk(`${d}/${e.name}`);
      else found.push(`${d}/${e.name}`);
    }
  };
  walk(dir);
  return found;
}

/** Runs `fn` with a fake host namespace and a temp state dir; checks that nothing is left. */
async function withBridgeHost(
  fn: (ctx: BridgeContext, host: NetNS) => Promise<void>,
): Promise<void> {
  const stateDir = Deno.makeTempDirSync({ prefix: "nsnet-bridge-test-" });
  try {
    await withNamespaces(1, async ([host]) => {
      const ctx: BridgeContext = {
        hostNS: host!,
        hostNSPath: host!.path,
        stateDir,
        rootless: false,
      };
      await fn(ctx, host!);
      assertLeftNothing(ctx, host!);
    });
  } finally {
    clearFaults();
    Deno.removeSync(stateDir, { recursive: true });
  }
}

function assertLeftNothing(ctx: BridgeContext, host: NetNS): void {
  assertEquals(linkNames(host), ["lo"], "links left in the host namespace");
  assertEquals(ruleset(host), "", "nftables rules left");
  assertEquals(stateFiles(ctx.stateDir), [], "state files left");
}

async function echoOnce(
  server: NetNS,
  client: NetNS,
  serverIP: string,
): Promise<string> {
  const listener = server.run(() =>
    Deno.listen({ hostname: serverIP, port: 7070 })
  );
  try {
    const accepted = (async (): Promise<void> => {
      const conn = await listener.accept();
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      await conn.write(buf.subarray(0, n ?? 0));
      conn.close();
    })();
    const conn = await client.connect({ hostname: serverIP, port: 7070 });
    await conn.write(new TextEncoder().encode("hello over the bridge"));
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    conn.close();
    await accepted;
    return new TextDecoder().decode(buf.subarray(0, n ?? 0));
  } finally {
    listener.close();
  }
}

/** Whether a TCP connect from `from` to `ip`:`port` succeeds within a second (in a child). */
async function canConnect(
  from: NetNS,
  ip: string,
  port: number,
): Promise<boolean> {
  const code = `setTimeout(() => Deno.exit(3), 1000);
    try { (await Deno.connect({ hostname: "${ip}", port: ${port} })).close(); Deno.exit(0); }
    catch { Deno.exit(1); }`;
  const child = from.run(() =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      stdout: "null",
      stderr: "null",
    }).spawn()
  );
  return (await child.status).code === 0;
}

function ipOf(status: Awaited<ReturnType<typeof setupBridge>>): string {
  return status.interfaces!.eth0!.subnets![0]!.ipnet.split("/")[0]!;
}

nsTest(
  "setupBridge: two sandboxes on one bridge exchange TCP; teardown leaves nothing",
  async () => {
    await withBridgeHost(async (ctx, host) => {
      await withNamespaces(2, async ([a, b]) => {
        const sa = await setupBridge(ctx, a!, "sandbox-a", NET_A);
        const sb = await setupBridge(ctx, b!, "sandbox-b", NET_A);
        assertEquals(sa.interfaces!.eth0!.subnets, [
          { ipnet: "10.123.1.2/24", gateway: "10.123.1.1" },
        ]);
        assertEquals(ipOf(sb), "10.123.1.3");
        // What setup reports is what inspecting the namespace finds.
        assertEquals(inspectNetNS(a!), sa);
        assertEquals(inspectNetNS(b!), sb);
        assertEquals(
          linkNames(host),
          [
            hostVethName("sandbox-a", "testa"),
            hostVethName("sandbox-b", "testa"),
            "lo",
            "nsnt-a",
          ].sort(),
        );
        assert(ruleset(host).includes("ip saddr 10.123.1.0/24"));
        assertEquals(
          run(
            "ip",
            "netns",
            "exec",
            nameOf(host),
            "cat",
            "/proc/sys/net/ipv4/ip_forward",
          ),
          "1",
        );
        assertEquals(
          await echoOnce(b!, a!, ipOf(sb)),
          "hello over the bridge",
        );
        assertEquals(await echoOnce(a!, b!, ipOf(sa)), "hello over the bridge");
        await teardownBridge(ctx, a!, "sandbox-a", NET_A);
        // The bridge and the rules stay while a sandbox is left.
        assert(linkNames(host).includes("nsnt-a"));
        assert(ruleset(host).includes("10.123.1.0/24"));
        assertEquals(linkNames(a!), ["lo"]);
        await teardownBridge(ctx, b!, "sandbox-b", NET_A);
        assertEquals(linkNames(b!), ["lo"]);
      });
    });
  },
);

nsTest(
  "setupBridge: sandboxes on different networks do not reach each other",
  async () => {
    await withBridgeHost(async (ctx, host) => {
      await withNamespaces(3, async ([a1, a2, b]) => {
        const s1 = await setupBridge(ctx, a1!, "a1", NET_A);
        await setupBridge(ctx, a2!, "a2", NET_A);
        const sb = await setupBridge(ctx, b!, "b", NET_B);
        const listener = (ns: NetNS, ip: string): Deno.TcpListener =>
          ns.run(() => Deno.listen({ hostname: ip, port: 7071 }));
        const l1 = listener(a1!, ipOf(s1));
        const lb = listener(b!, ipOf(sb));
        try {
          assert(await canConnect(a2!, ipOf(s1), 7071), "same network");
          assert(!(await canConnect(a2!, ipOf(sb), 7071)), "a → b");
          assert(!(await canConnect(b!, ipOf(s1), 7071)), "b → a");
          // Control: without the isolation rules the host would route between them.
          run(
            "ip",
            "netns",
            "exec",
            nameOf(host),
            "nft",
            "flush",
            "chain",
            "ip",
            "nsnet",
            "forward",
          );
          assert(await canConnect(a2!, ipOf(sb), 7071), "a → b, no isolation");
        } finally {
          l1.close();
          lb.close();
        }
        for (
          const [ns, id, net] of [[a1, "a1", NET_A], [a2, "a2", NET_A], [
            b,
            "b",
            NET_B,
          ]] as const
        ) {
          await teardownBridge(ctx, ns, id, net);
        }
      });
    });
  },
);

nsTest(
  "setupBridge: an interface name and an MTU of the network's are used",
  async () => {
    await withBridgeHost(async (ctx) => {
      await withNamespaces(1, async ([a]) => {
        const net = { ...NET_A, mtu: 1400 };
        const status = await setupBridge(ctx, a!, "x", net, {
          interfaceName: "net1",
        });
        assertEquals(Object.keys(status.interfaces!), ["net1"]);
        const link = JSON.parse(
          run("ip", "-n", nameOf(a!), "-j", "link", "show", "net1"),
        )[0];
        assertEquals(link.mtu, 1400);
        await teardownBridge(ctx, a!, "x", net, { interfaceName: "net1" });
      });
    });
  },
);

for (
  const step of [
    "bridge:after-ipam",
    "bridge:after-bridge",
    "bridge:after-firewall",
    "bridge:after-veth",
    "bridge:after-route",
  ]
) {
  nsTest(`setupBridge: a fault at ${step} undoes everything`, async () => {
    await withBridgeHost(async (ctx) => {
      await withNamespaces(2, async ([a, b]) => {
        // Alone on the network, then with a sandbox already there.
        injectFault(step);
        await assertRejects(
          () => setupBridge(ctx, a!, "a", NET_A),
          Error,
          `injected fault at ${step}`,
        );
        assertEquals(linkNames(a!), ["lo"]);
        clearFaults();
        await setupBridge(ctx, b!, "b", NET_A);
        injectFault(step);
        await assertRejects(() => setupBridge(ctx, a!, "a", NET_A));
        clearFaults();
        assertEquals(linkNames(a!), ["lo"]);
        assertEquals(inspectNetNS(b!).interfaces!.eth0!.subnets!.length, 1);
        // The failed sandbox can be set up afterwards.
        const again = await setupBridge(ctx, a!, "a", NET_A);
        assertNotEquals(ipOf(again), ipOf(inspectNetNS(b!)));
        await teardownBridge(ctx, a!, "a", NET_A);
        await teardownBridge(ctx, b!, "b", NET_A);
      });
    });
  });
}

nsTest(
  "setupBridge: a failing nft leaves nothing and raises its error",
  async () => {
    await withBridgeHost(async (ctx) => {
      await withNamespaces(1, async ([a]) => {
        await assertRejects(
          () => setupBridge({ ...ctx, nft: "false" }, a!, "a", NET_A),
          NftablesError,
        );
        assertEquals(linkNames(a!), ["lo"]);
      });
    });
  },
);

nsTest(
  "teardownBridge: a fault deleting the veth is raised, and the veth goes from inside",
  async () => {
    await withBridgeHost(async (ctx) => {
      await withNamespaces(1, async ([a]) => {
        await setupBridge(ctx, a!, "a", NET_A);
        injectFault("bridge:teardown-veth");
        await assertRejects(
          () => teardownBridge(ctx, a!, "a", NET_A),
          Error,
          "injected fault at bridge:teardown-veth",
        );
        clearFaults();
        assertEquals(linkNames(a!), ["lo"]);
      });
    });
  },
);

nsTest(
  "teardownBridge: a fault at the bridge or the firewall is raised; a retry finishes",
  async () => {
    await withBridgeHost(async (ctx) => {
      await withNamespaces(1, async ([a]) => {
        for (
          const step of ["bridge:teardown-bridge", "bridge:teardown-firewall"]
        ) {
          await setupBridge(ctx, a!, "a", NET_A);
          injectFault(step);
          await assertRejects(
            () => teardownBridge(ctx, a!, "a", NET_A),
            Error,
            `injected fault at ${step}`,
          );
          clearFaults();
          assertEquals(linkNames(a!), ["lo"]);
          await teardownBridge(ctx, a!, "a", NET_A);
        }
      });
    });
  },
);

nsTest(
  "teardownBridge: idempotent, and fine once the sandbox namespace is gone",
  async () => {
    await withBridgeHost(async (ctx) => {
      const sandbox = newNS();
      await setupBridge(ctx, sandbox, "gone", NET_A);
      unmountNS(sandbox);
      await teardownBridge(ctx, undefined, "gone", NET_A);
      await teardownBridge(ctx, undefined, "gone", NET_A);
      await teardownBridge(ctx, undefined, "never-there", NET_B);
      // Also with no state dir at all (it is made, and left empty).
      const fresh = { ...ctx, stateDir: `${ctx.stateDir}/fresh` };
      await teardownBridge(fresh, undefined, "never-there", NET_B);
      Deno.removeSync(fresh.stateDir);
    });
  },
);

nsTest(
  "setupBridge: concurrent setups in one process all succeed with distinct addresses",
  async () => {
    await withBridgeHost(async (ctx) => {
      await withNamespaces(6, async (sandboxes) => {
        const statuses = await Promise.all(
          sandboxes.map((ns, i) => setupBridge(ctx, ns, `c${i}`, NET_A)),
        );
        assertEquals(new Set(statuses.map(ipOf)).size, 6);
        await Promise.all(
          sandboxes.map((ns, i) => teardownBridge(ctx, ns, `c${i}`, NET_A)),
        );
      });
    });
  },
);

nsTest(
  "setupBridge: in the real host namespace with a test bridge, subnet and table",
  async () => {
    const stateDir = Deno.makeTempDirSync({ prefix: "nsnet-bridge-test-" });
    const forward = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward");
    const ctx = {
      ...rootBridgeContext(stateDir),
      nftTable: `nsnt${Deno.pid}`,
    };
    const net: NetworkConfig = {
      name: "hosttest",
      bridge: `nsnt-${Deno.pid}`.slice(0, 15),
      subnet: `10.123.${100 + (Deno.pid % 100)}.0/24`,
      gateway: `10.123.${100 + (Deno.pid % 100)}.1`,
    };
    try {
      await withNamespaces(1, async ([a]) => {
        await setupBridge(ctx, a!, "host-a", net);
        assertEquals(
          Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward").trim(),
          "1",
        );
        assert(run("ip", "link", "show", net.bridge).includes(net.bridge));
        assert(
          run("nft", "list", "table", "ip", ctx.nftTable).includes(net.subnet),
        );
        await teardownBridge(ctx, a!, "host-a", net);
      });
      assert(!run("ip", "-o", "link", "show").includes(net.bridge));
      assert(!run("nft", "list", "tables").includes(ctx.nftTable));
      assertEquals(stateFiles(stateDir), []);
    } finally {
      Deno.writeTextFileSync("/proc/sys/net/ipv4/ip_forward", forward);
      ctx.hostNS.close();
      Deno.removeSync(stateDir, { recursive: true });
    }
  },
);

nsTest(
  "setupBridge: a second setup of the same sandbox is refused and changes nothing",
  async () => {
    await withBridgeHost(async (ctx) => {
      await withNamespaces(1, async ([a]) => {
        const first = await setupBridge(ctx, a!, "twice", NET_A);
        await assertRejects(
          () => setupBridge(ctx, a!, "twice", NET_A),
          AlreadyConnectedError,
        );
        assertEquals(inspectNetNS(a!), first);
        await teardownBridge(ctx, a!, "twice", NET_A);
      });
    });
  },
);
