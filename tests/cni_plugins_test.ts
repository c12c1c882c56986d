/**
 * The CNI backend with Debian's containernetworking-plugins (bridge,
 * host-local, loopback, portmap, firewall, tuning): addresses and routes as
 * the result says, a host-loopback port forwarded by portmap, CHECK, DEL
 * removing what ADD made, and a plugin failing mid-chain leaving nothing.
 *
 * Everything lives in namespaces made here, a test bridge (`cnit0`,
 * 10.123.x.0/24) and temp dirs; iptables chains the plugins leave on purpose
 * (their shared CNI-* chains), the ip_forward they turn on and the tables
 * iptables-nft made are removed or restored at the end of each test.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "./_assert.ts";
import { nsTest, run, succeeds, withNamespaces } from "./_helpers.ts";
import {
  cniAdd,
  cniCachePath,
  cniCheck,
  cniDel,
  CniPluginError,
  CniPluginNotFoundError,
  type CniSpawner,
  directSpawner,
} from "../lib/cni/mod.ts";
import { inspectNetNS } from "../lib/inspect.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { freePort, readAll } from "./_fixtures/tcp.ts";

const PLUGINS = "/usr/lib/cni";
const HAVE =
  ["bridge", "host-local", "loopback", "portmap", "firewall", "tuning"]
    .every((p) => {
      try {
        return Deno.statSync(`${PLUGINS}/${p}`).isFile;
      } catch {
        return false;
      }
    }) &&
  succeeds("iptables-save", "--version") && succeeds("nft", "--version");
const IGNORE = { ignore: !HAVE || Deno.uid() !== 0 };
const BRIDGE = "cnit0";
/** The chains portmap and firewall share between containers and never remove. */
const SHARED_CHAINS = [
  "CNI-ADMIN",
  "CNI-FORWARD",
  "CNI-HOSTPORT-DNAT",
  "CNI-HOSTPORT-MASQ",
  "CNI-HOSTPORT-SETMARK",
];
const SYSCTLS = [
  "/proc/sys/net/ipv4/ip_forward",
  "/proc/sys/net/ipv6/conf/all/forwarding",
];
const IPT_TABLES = ["filter", "nat", "mangle", "raw"];

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function nftTables(): Set<string> {
  return new Set(
    run("nft", "list", "tables").split("\n").map((l) => l.trim()).filter((l) =>
      l !== ""
    ),
  );
}

/** iptables-save of both families (empty text when a table does not exist). */
function iptablesText(): string {
  return ["iptables-save", "ip6tables-save"].map((cmd) => {
    const out = new Deno.Command(cmd, { stdout: "piped", stderr: "null" })
      .outputSync();
    return new TextDecoder().decode(out.stdout);
  }).join("\n");
}

/** Splits an `iptables -S` line into arguments (double quotes group). */
function splitRule(line: string): string[] {
  const args: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of line.matchAll(re)) {
    args.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!);
  }
  return args;
}

/** Removes every rule that jumps to a CNI-* chain, then every CNI-* chain. */
function removeCniChains(): void {
  for (const cmd of ["iptables", "ip6tables"]) {
    for (const table of IPT_TABLES) {
      const out = new Deno.Command(cmd, {
        args: ["-t", table, "-S"],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      if (!out.success) continue;
      const lines = new TextDecoder().decode(out.stdout).split("\n");
      for (const line of lines) {
        const args = splitRule(line);
        if (args[0] !== "-A" || args[1]!.startsWith("CNI-")) continue;
        if (!line.includes("-j CNI-")) continue;
        succeeds(cmd, "-t", table, "-D", ...args.slice(1));
      }
      const chains = lines.map(splitRule).filter((a) =>
        a[0] === "-N" && a[1]!.startsWith("CNI-")
      ).map((a) => a[1]!);
      for (const chain of chains) succeeds(cmd, "-t", table, "-F", chain);
      for (const chain of chains) succeeds(cmd, "-t", table, "-X", chain);
    }
  }
}

/** What the host looked like before a test, and putting it back. */
class HostState {
  readonly tables = nftTables();
  readonly sysctls = SYSCTLS.map((p) => Deno.readTextFileSync(p));
  readonly runCni = exists("/run/cni");
  readonly varLibCni = exists("/var/lib/cni");
  readonly dir = Deno.makeTempDirSync({ prefix: "nsnet-cni-plugins-" });

  restore(): void {
    if (exists(`/sys/class/net/${BRIDGE}`)) run("ip", "link", "del", BRIDGE);
    removeCniChains();
    for (const table of nftTables()) {
      const [, family, name] = table.split(/\s+/);
      if (
        !this.tables.has(table) && (family === "ip" || family === "ip6") &&
        IPT_TABLES.includes(name!)
      ) {
        succeeds("nft", "delete", "table", family, name!);
      }
    }
    SYSCTLS.forEach((p, i) => Deno.writeTextFileSync(p, this.sysctls[i]!));
    if (!this.runCni && exists("/run/cni")) {
      Deno.removeSync("/run/cni", { recursive: true });
    }
    if (!this.varLibCni && exists("/var/lib/cni")) {
      Deno.removeSync("/var/lib/cni", { recursive: true });
    }
    Deno.removeSync(this.dir, { recursive: true });
  }

  /** Writes a network list into the conf dir. */
  list(name: string, plugins: Record<string, unknown>[]): void {
    Deno.mkdirSync(`${this.dir}/conf`, { recursive: true });
    Deno.writeTextFileSync(
      `${this.dir}/conf/${name}.conflist`,
      JSON.stringify({ cniVersion: "1.0.0", name, plugins }),
    );
  }

  get options(): { confDir: string; cniPath: string[]; cacheDir: string } {
    return {
      confDir: `${this.dir}/conf`,
      cniPath: [PLUGINS],
      cacheDir: `${this.dir}/cache`,
    };
  }

  get leases(): string {
    return `${this.dir}/leases`;
  }
}

async function withHost(
  fn: (host: HostState, ns: NetNS) => Promise<void>,
): Promise<void> {
  const host = new HostState();
  try {
    await withNamespaces(1, async ([ns]) => await fn(host, ns!));
  } finally {
    host.restore();
  }
  assertEquals(nftTables(), host.tables, "nft tables as before");
  assert(!exists(`/sys/class/net/${BRIDGE}`));
}

function bridgePlugin(host: HostState, third: number): Record<string, unknown> {
  return {
    type: "bridge",
    bridge: BRIDGE,
    isGateway: true,
    ipMasq: true,
    hairpinMode: true,
    ipam: {
      type: "host-local",
      dataDir: host.leases,
      routes: [{ dst: "0.0.0.0/0" }],
      ranges: [[{
        subnet: `10.123.${third}.0/24`,
        gateway: `10.123.${third}.1`,
      }]],
    },
  };
}

function inNS(ns: NetNS, ...command: string[]): string {
  return run("nsenter", `--net=${ns.path}`, "--", ...command);
}

function leases(host: HostState, network: string): string[] {
  try {
    return [...Deno.readDirSync(`${host.leases}/${network}`)]
      .map((e) => e.name).filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n));
  } catch {
    return [];
  }
}

function bridgePorts(): string[] {
  return (JSON.parse(run("ip", "-j", "link", "show", "master", BRIDGE)) as {
    ifname: string;
  }[]).map((l) => l.ifname);
}

/** The CNI-* chains left: only the shared ones are allowed after DEL. */
function ownChains(): string[] {
  const chains = [...iptablesText().matchAll(/^:(CNI-\S+)/gm)].map((m) =>
    m[1]!
  );
  return [...new Set(chains)].filter((c) => !SHARED_CHAINS.includes(c));
}

nsTest(
  "cni plugins: bridge, portmap, firewall, tuning: the result is what the namespace holds, DEL removes it all",
  async () => {
    await withHost(async (host, ns) => {
      host.list("cnitest", [
        bridgePlugin(host, 1),
        { type: "portmap", capabilities: { portMappings: true }, snat: true },
        { type: "firewall" },
        { type: "tuning", sysctl: { "net.core.somaxconn": "500" } },
      ]);
      const hostPort = freePort();
      const id = `nsnet-cni-${Deno.pid}-a`;
      const { result, status } = await cniAdd(ns.path, id, "cnitest", {
        ...host.options,
        portMappings: [{
          protocol: "tcp",
          hostIp: undefined,
          hostPort,
          sandboxPort: 8080,
        }],
      });

      // Addresses and routes as the result says.
      assertEquals(result.ips.map((ip) => [ip.address, ip.gateway]), [[
        "10.123.1.2/24",
        "10.123.1.1",
      ]]);
      assertEquals(status, inspectNetNS(ns));
      assertEquals(Object.keys(status.interfaces ?? {}), ["eth0"]);
      const routes = JSON.parse(inNS(ns, "ip", "-j", "route", "show")) as {
        dst: string;
        gateway?: string;
      }[];
      assert(
        routes.some((r) => r.dst === "default" && r.gateway === "10.123.1.1"),
        JSON.stringify(routes),
      );
      assertEquals(inNS(ns, "cat", "/proc/sys/net/core/somaxconn"), "500");
      assertEquals(bridgePorts().length, 1);
      assertEquals(leases(host, "cnitest"), ["10.123.1.2"]);
      assert(
        ownChains().some((c) => c.startsWith("CNI-DN-")),
        ownChains().join(),
      );
      assertStringIncludes(iptablesText(), "10.123.1.2");
      assert(
        exists(cniCachePath(host.options.cacheDir, "cnitest", id, "eth0")),
      );

      // portmap forwards the host's loopback port to the namespace.
      const listener = ns.run(() =>
        Deno.listen({ hostname: "0.0.0.0", port: 8080 })
      );
      try {
        const served = (async () => {
          const conn = await listener.accept();
          await conn.write(new TextEncoder().encode("hello from cni"));
          conn.close();
        })();
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: hostPort,
        });
        try {
          assertEquals(await readAll(conn), "hello from cni");
        } finally {
          conn.close();
        }
        await served;
      } finally {
        listener.close();
      }

      await cniDel(ns.path, id, "cnitest", host.options);
      assertEquals(inspectNetNS(ns), {});
      assertEquals(bridgePorts(), []);
      assertEquals(leases(host, "cnitest"), []);
      assertEquals(ownChains(), []);
      assert(!iptablesText().includes("10.123.1."), iptablesText());
      assert(
        !exists(cniCachePath(host.options.cacheDir, "cnitest", id, "eth0")),
      );
    });
  },
  IGNORE,
);

nsTest(
  "cni plugins: CHECK passes on a healthy attachment and fails once it is broken",
  async () => {
    await withHost(async (host, ns) => {
      host.list("cnicheck", [
        bridgePlugin(host, 2),
        { type: "firewall" },
        { type: "tuning", sysctl: { "net.core.somaxconn": "600" } },
      ]);
      const id = `nsnet-cni-${Deno.pid}-b`;
      await cniAdd(ns.path, id, "cnicheck", host.options);
      await cniCheck(ns.path, id, "cnicheck", host.options);
      // Undo tuning's work behind its back (DEL still finds everything else).
      inNS(ns, "sh", "-c", "echo 100 > /proc/sys/net/core/somaxconn");
      const error = await assertRejects(
        () => cniCheck(ns.path, id, "cnicheck", host.options),
        CniPluginError,
      );
      assertEquals(error.plugin, "tuning", error.message);
      assertStringIncludes(error.message, "somaxconn");
      assertEquals(error.command, "CHECK");
      await cniDel(ns.path, id, "cnicheck", host.options);
      assertEquals(bridgePorts(), []);
      assertEquals(leases(host, "cnicheck"), []);
      assertEquals(ownChains(), []);
    });
  },
  IGNORE,
);

nsTest(
  "cni plugins: a plugin failing mid-chain leaves nothing behind",
  async () => {
    await withHost(async (host, ns) => {
      host.list("cnifail", [
        bridgePlugin(host, 3),
        { type: "portmap", capabilities: { portMappings: true } },
        { type: "firewall" },
        {
          type: "tuning",
          sysctl: { "net.ipv4.conf.eth0.no_such_knob": "1" },
        },
      ]);
      const id = `nsnet-cni-${Deno.pid}-c`;
      const error = await assertRejects(
        () =>
          cniAdd(ns.path, id, "cnifail", {
            ...host.options,
            portMappings: [{
              protocol: "tcp",
              hostIp: "127.0.0.1",
              hostPort: freePort(),
              sandboxPort: 80,
            }],
          }),
        CniPluginError,
      );
      assertEquals(error.plugin, "tuning", error.message);
      assert(error.code > 0, String(error.code));
      assertEquals(inspectNetNS(ns), {});
      assertEquals(bridgePorts(), []);
      assertEquals(leases(host, "cnifail"), []);
      assertEquals(ownChains(), []);
      assert(!iptablesText().includes("10.123.3."), iptablesText());
      assert(
        !exists(cniCachePath(host.options.cacheDir, "cnifail", id, "eth0")),
      );
    });
  },
  IGNORE,
);

nsTest(
  "cni plugins: a missing plugin binary fails before the bridge is made",
  async () => {
    await withHost(async (host, ns) => {
      host.list("cnimissing", [bridgePlugin(host, 4), {
        type: "no-such-plugin",
      }]);
      await assertRejects(
        () => cniAdd(ns.path, "c", "cnimissing", host.options),
        CniPluginNotFoundError,
        "no-such-plugin",
      );
      assert(!exists(`/sys/class/net/${BRIDGE}`), "nothing was created");
      assertEquals(leases(host, "cnimissing"), []);
    });
  },
  IGNORE,
);

nsTest(
  "cni plugins: loopback brings lo up and DEL takes it down; plugins go through the spawner",
  async () => {
    await withHost(async (host, ns) => {
      host.list("lo", [{ type: "loopback" }]);
      const seen: string[] = [];
      const spawn: CniSpawner = (command, options) => {
        seen.push(`${options.env.CNI_COMMAND} ${command[0]}`);
        return directSpawner(command, options);
      };
      const isUp = (): boolean =>
        (JSON.parse(inNS(ns, "ip", "-j", "link", "show", "lo"))[0]
          .flags as string[]).includes("UP");
      assert(!isUp());
      const { result } = await cniAdd(ns.path, "lo-test", "lo", {
        ...host.options,
        ifname: "lo",
        spawn,
      });
      assert(isUp());
      assert(
        result.ips.some((ip) => ip.address === "127.0.0.1/8"),
        JSON.stringify(result),
      );
      await cniDel(ns.path, "lo-test", "lo", {
        ...host.options,
        ifname: "lo",
        spawn,
      });
      assert(!isUp());
      assertEquals(seen, [
        `ADD ${PLUGINS}/loopback`,
        `DEL ${PLUGINS}/loopback`,
      ]);
    });
  },
  IGNORE,
);
