/**
 * netavark driven as Podman drives it. netavark runs from a thread inside a
 * "host" namespace made for the test, so its bridge and firewall rules
 * (which it leaves behind after the last teardown, as with Podman) go with
 * that namespace.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "./_assert.ts";
import { nsTest, withNamespaces } from "./_helpers.ts";
import { inspectNetNS } from "../lib/inspect.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import {
  findNetavark,
  netavarkContainerId,
  NetavarkError,
  NetavarkNotFoundError,
  type NetavarkOptions,
  netavarkSetup,
  netavarkSetupDetailed,
  type NetavarkSpawn,
  netavarkTeardown,
  type PodmanNetwork,
} from "../lib/netavark/mod.ts";

const NETAVARK = findNetavark();
const ignore = NETAVARK === undefined;
if (ignore) {
  console.warn(
    "netavark tests skipped: netavark is not installed (apt-get install netavark aardvark-dns)",
  );
}

/** An nsTest that needs netavark installed. */
function netavarkTest(name: string, fn: () => Promise<void>): void {
  nsTest(name, fn, { ignore });
}

const NETWORK: PodmanNetwork = {
  name: "navtest",
  id: "c".repeat(64),
  driver: "bridge",
  "network_interface": "navt0",
  subnets: [{ subnet: "10.124.7.0/24", gateway: "10.124.7.1" }],
  "ipv6_enabled": false,
  internal: false,
  "dns_enabled": false,
  "ipam_options": { driver: "host-local" },
};

/** Spawns netavark from a thread inside `host`. */
function spawnIn(host: NetNS): NetavarkSpawn {
  return (command, options) =>
    host.run(() =>
      new Deno.Command(command[0]!, {
        args: command.slice(1),
        env: options.env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn()
    );
}

/** A config dir holding NETWORK's file and a run dir, removed after `fn`. */
async function withDirs(
  fn: (configDir: string, runDir: string) => Promise<void>,
): Promise<void> {
  const tmp = Deno.makeTempDirSync({ prefix: "nsnet-netavark-test-" });
  try {
    Deno.mkdirSync(`${tmp}/networks`);
    Deno.writeTextFileSync(
      `${tmp}/networks/${NETWORK.name}.json`,
      JSON.stringify(NETWORK, null, 5),
    );
    await fn(`${tmp}/networks`, `${tmp}/run`);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
}

function hostLinks(host: NetNS): string[] {
  return host.run(() =>
    new TextDecoder().decode(
      new Deno.Command("ip", { args: ["-br", "link"], stdout: "piped" })
        .outputSync().stdout,
    )
  ).split("\n").map((l) => l.split(/[\s@]+/)[0] ?? "").filter((n) => n !== "");
}

netavarkTest(
  "netavark setup: the StatusBlock is what the namespace shows",
  async () => {
    await withDirs(async (configDir, runDir) => {
      await withNamespaces(3, async ([host, a, b]) => {
        const options: NetavarkOptions = {
          configDir,
          runDir,
          spawn: spawnIn(host!),
        };
        const attach = [{ name: "navtest", interfaceName: "eth0" }];
        const sa = await netavarkSetup(a!.path, "sandbox-a", attach, options);
        const sb = await netavarkSetupDetailed(
          b!.path,
          "sandbox-b",
          attach,
          options,
        );
        try {
          assertEquals(sa, inspectNetNS(a!));
          assertEquals(sb.status, inspectNetNS(b!));
          const eth0 = sa.interfaces?.eth0;
          assertEquals(eth0?.subnets, [
            { ipnet: "10.124.7.2/24", gateway: "10.124.7.1" },
          ]);
          assertMatch(eth0!.mac_address, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
          assertEquals(sb.addresses, { navtest: ["10.124.7.3"] });
          assertEquals(
            sb.perNetwork.navtest?.interfaces?.eth0?.subnets?.[0]?.ipnet,
            "10.124.7.3/24",
          );
          assert(hostLinks(host!).includes("navt0"), "bridge navt0 made");
          // The two sandboxes reach each other over the bridge.
          const listener = b!.run(() =>
            Deno.listen({ hostname: "10.124.7.3", port: 7072 })
          );
          try {
            const accepted = listener.accept();
            const conn = await a!.connect({
              hostname: "10.124.7.3",
              port: 7072,
            });
            conn.close();
            (await accepted).close();
          } finally {
            listener.close();
          }
        } finally {
          await netavarkTeardown(a!.path, "sandbox-a", attach, options);
          await netavarkTeardown(b!.path, "sandbox-b", attach, options);
        }
        assertEquals(inspectNetNS(a!), {});
        assertEquals(inspectNetNS(b!), {});
        assert(
          !hostLinks(host!).includes("navt0"),
          "bridge gone with the last",
        );
        // Every address released, and with none left the state dir goes too.
        let left: string[] = [];
        try {
          left = [...Deno.readDirSync(runDir)].map((e) => e.name);
        } catch { /* gone entirely */ }
        assertEquals(
          left.filter((n) => n === "ipam" || n === "netavark.lock"),
          [],
        );
      });
    });
  },
);

netavarkTest(
  "netavark setup: static addresses and a second network",
  async () => {
    await withDirs(async (configDir, runDir) => {
      const second: PodmanNetwork = {
        ...NETWORK,
        name: "navtest2",
        id: "d".repeat(64),
        "network_interface": "navt1",
        subnets: [{ subnet: "10.124.8.0/24", gateway: "10.124.8.1" }],
      };
      await withNamespaces(2, async ([host, a]) => {
        const options: NetavarkOptions = {
          configDir,
          runDir,
          networks: { navtest2: second },
          spawn: spawnIn(host!),
        };
        const attach = [
          {
            name: "navtest",
            interfaceName: "eth0",
            staticIps: ["10.124.7.77"],
          },
          { name: "navtest2", interfaceName: "eth1" },
        ];
        const status = await netavarkSetup(a!.path, "static", attach, options);
        try {
          assertEquals(status, inspectNetNS(a!));
          assertEquals(Object.keys(status.interfaces ?? {}), ["eth0", "eth1"]);
          assertEquals(
            status.interfaces?.eth0?.subnets?.[0]?.ipnet,
            "10.124.7.77/24",
          );
          assertEquals(
            status.interfaces?.eth1?.subnets?.[0]?.ipnet,
            "10.124.8.2/24",
          );
        } finally {
          await netavarkTeardown(a!.path, "static", attach, options);
        }
        assertEquals(inspectNetNS(a!), {});
      });
    });
  },
);

netavarkTest("netavark: its errors come through with its message", async () => {
  await withDirs(async (configDir, runDir) => {
    await withNamespaces(2, async ([host, a]) => {
      const options: NetavarkOptions = {
        configDir,
        runDir,
        spawn: spawnIn(host!),
      };
      const attach = [{ name: "navtest", interfaceName: "eth0" }];
      const missing = await assertRejects(
        () => netavarkSetup("/nonexistent/netns", "x", attach, options),
        NetavarkError,
        "netavark setup: invalid namespace path",
      );
      assertEquals(missing.command, "setup");
      assertEquals(missing.exitCode, 1);
      assertStringIncludes(missing.netavarkMessage, "No such file");
      await netavarkSetup(a!.path, "first", attach, options);
      try {
        const twice = await assertRejects(
          () => netavarkSetup(a!.path, "second", attach, options),
          NetavarkError,
          "interface eth0 already exists",
        );
        assertStringIncludes(twice.message, "netavark setup: create veth");
        // The failed setup's address went back: the next one gets it.
        const ipam = JSON.parse(
          Deno.readTextFileSync(`${runDir}/ipam/navtest.json`),
        );
        assertEquals(ipam.allocations, { "10.124.7.2": "first" });
      } finally {
        await netavarkTeardown(a!.path, "first", attach, options);
      }
      await assertRejects(
        () =>
          netavarkSetup(
            a!.path,
            "x",
            [{ name: "nosuch", interfaceName: "e" }],
            {
              ...options,
            },
          ),
        Error,
        'no Podman network named "nosuch"',
      );
      await assertRejects(
        () =>
          netavarkSetup(a!.path, "x", attach, {
            ...options,
            binary: "/nonexistent/netavark",
          }),
        NetavarkNotFoundError,
        "netavark not found at /nonexistent/netavark",
      );
      assertEquals(inspectNetNS(a!), {});
    });
  });
});

netavarkTest("netavark: published ports reach the sandbox", async () => {
  await withDirs(async (configDir, runDir) => {
    await withNamespaces(2, async ([host, a]) => {
      const options: NetavarkOptions = {
        configDir,
        runDir,
        spawn: spawnIn(host!),
        portMappings: [{
          "host_ip": "",
          "container_port": 8080,
          "host_port": 18080,
          range: 1,
          protocol: "tcp",
        }],
      };
      const attach = [{ name: "navtest", interfaceName: "eth0" }];
      await netavarkSetup(a!.path, "ports", attach, options);
      try {
        const listener = a!.run(() => Deno.listen({ port: 8080 }));
        try {
          const accepted = (async (): Promise<void> => {
            const conn = await listener.accept();
            await conn.write(new TextEncoder().encode("through netavark"));
            conn.close();
          })();
          // The gateway is the host's own address: the DNAT rule of OUTPUT applies.
          const conn = await host!.connect({
            hostname: "10.124.7.1",
            port: 18080,
          });
          const buf = new Uint8Array(64);
          const n = await conn.read(buf);
          conn.close();
          await accepted;
          assertEquals(
            new TextDecoder().decode(buf.subarray(0, n ?? 0)),
            "through netavark",
          );
        } finally {
          listener.close();
        }
      } finally {
        await netavarkTeardown(a!.path, "ports", attach, options);
      }
      const nat = host!.run(() =>
        new TextDecoder().decode(
          new Deno.Command("iptables-save", {
            args: ["-t", "nat"],
            stdout: "piped",
          })
            .outputSync().stdout,
        )
      );
      assert(!nat.includes("18080"), "port rule removed by teardown");
    });
  });
});

nsTest(
  "netavark: invoked as Podman invokes it (through an injected spawn)",
  async () => {
    await withDirs(async (configDir, runDir) => {
      // A stand-in netavark: records its arguments and input, answers as netavark does.
      let n = 0;
      const spawn: NetavarkSpawn = (command, options) => {
        n++;
        return new Deno.Command("sh", {
          args: [
            "-c",
            `printf '%s\\n' "$@" > "${runDir}/args${n}"; cat > "${runDir}/input${n}"; echo '{"navtest":{"dns_search_domains":[],"dns_server_ips":[],"interfaces":{"eth0":{"mac_address":"02:00:00:00:00:01","subnets":[{"gateway":"10.124.7.1","ipnet":"10.124.7.2/24"}]}}}}'`,
            "sh",
            ...command,
          ],
          env: options.env,
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
      };
      const call = (i: number): { command: string[]; input: unknown } => ({
        command: Deno.readTextFileSync(`${runDir}/args${i}`).trimEnd().split(
          "\n",
        ),
        input: JSON.parse(Deno.readTextFileSync(`${runDir}/input${i}`)),
      });
      const binary = findNetavark() ?? "/bin/true";
      const status = await netavarkSetup(
        "/run/netns/x",
        "my-sandbox",
        [{ name: "navtest", interfaceName: "eth0", aliases: ["web"] }],
        { configDir, runDir, spawn, rootless: true, binary },
      );
      assertEquals(status, {
        interfaces: {
          eth0: {
            subnets: [{ ipnet: "10.124.7.2/24", gateway: "10.124.7.1" }],
            "mac_address": "02:00:00:00:00:01",
          },
        },
      });
      const setup = call(1);
      assertEquals(setup.command.slice(0, 4), [
        binary,
        "--config",
        runDir,
        "--rootless=true",
      ]);
      assertEquals(setup.command.slice(-2), ["setup", "/run/netns/x"]);
      assertEquals(setup.input, {
        "container_id": netavarkContainerId("my-sandbox"),
        "container_name": "my-sandbox",
        "port_mappings": [],
        networks: {
          navtest: {
            "interface_name": "eth0",
            "static_ips": ["10.124.7.2"],
            aliases: ["web"],
          },
        },
        "network_info": { navtest: NETWORK },
      });
      assertEquals(netavarkContainerId("my-sandbox").length, 64);
      await netavarkTeardown(
        "/run/netns/x",
        "my-sandbox",
        [{ name: "navtest", interfaceName: "eth0", aliases: ["web"] }],
        { configDir, runDir, spawn, rootless: true, binary },
      );
      const teardown = call(2);
      assertEquals(teardown.command.slice(-2), ["teardown", "/run/netns/x"]);
      assertEquals(
        (teardown.input as { networks: Record<string, unknown> }).networks
          .navtest,
        {
          "interface_name": "eth0",
          "static_ips": ["10.124.7.2"],
          aliases: ["web"],
        },
      );
    });
  },
);
