/**
 * Dual-stack bridge networks (issue 15): `nsnet network create NAME --subnet
 * 10.x.0.0/24 --subnet fd00:x::/64` gives each sandbox an IPv4 and an IPv6
 * address (the same host number) with a default route of each family, the
 * network's IPv6 traffic is masqueraded, and two sandboxes talk over IPv6.
 * Root and rootless.
 */
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { nsnet, nsTest, run } from "./_helpers.ts";
import { cleanupRootless, nsnetAsUser } from "./_rootless.ts";

const NET = "nsnt-dual";
const V4 = "10.123.90.0/24";
const V6 = "fd00:7b5a::/64";

/** A TCP server on [::]:8000 in one sandbox, a client from the other over IPv6. */
const SERVER = `
import socket, signal
signal.alarm(30)
t = socket.socket(socket.AF_INET6); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("::", 8000)); t.listen()
c, a = t.accept(); c.sendall(("v6 from " + a[0]).encode()); c.close()
`;
const CLIENT = `
import socket, sys, time
for i in range(50):
    try:
        s = socket.create_connection((sys.argv[1], 8000), timeout=2); print(s.recv(100).decode()); break
    except OSError:
        time.sleep(0.1)
`;

type Nsnet = (
  ...args: string[]
) => Promise<{ code: number; stdout: string; stderr: string }>;

async function dualStack(cli: Nsnet): Promise<void> {
  const made = await cli(
    "network",
    "create",
    NET,
    "--subnet",
    V4,
    "--subnet",
    V6,
    "--json",
  );
  assertEquals(made.code, 0, made.stderr);
  const network = JSON.parse(made.stdout);
  assertEquals([network.subnet, network.subnet6, network.gateway6], [
    V4,
    V6,
    "fd00:7b5a::1",
  ]);
  try {
    for (const name of ["ds-a", "ds-b"]) {
      const out = await cli("sandbox", "create", name, "--network", NET);
      assertEquals(out.code, 0, out.stderr);
    }
    const inspect = JSON.parse(
      (await cli("sandbox", "inspect", "ds-b", "--json")).stdout,
    ).status;
    const subnets = Object.values(
      inspect.interfaces as Record<
        string,
        { subnets: { ipnet: string; gateway: string }[] }
      >,
    )[0]!.subnets;
    const b4 = subnets[0]!.ipnet.split("/")[0]!;
    const b6 = subnets[1]!.ipnet;
    assertEquals(b6, `fd00:7b5a::${b4.split(".")[3]}/64`);
    assertEquals(subnets[1]!.gateway, "fd00:7b5a::1");
    const routes = await cli(
      "sandbox",
      "exec",
      "ds-a",
      "--",
      "ip",
      "-6",
      "route",
      "show",
      "default",
    );
    assertStringIncludes(routes.stdout, "default via fd00:7b5a::1 dev eth0");
    const server = cli(
      "sandbox",
      "exec",
      "ds-b",
      "--",
      "python3",
      "-c",
      SERVER,
    );
    const client = await cli(
      "sandbox",
      "exec",
      "ds-a",
      "--",
      "python3",
      "-c",
      CLIENT,
      b6.split("/")[0]!,
    );
    await server;
    assertStringIncludes(client.stdout, "v6 from fd00:7b5a::");
  } finally {
    await cli("sandbox", "rm", "ds-a", "ds-b");
    assertEquals((await cli("network", "rm", NET)).code, 0);
  }
}

nsTest(
  "root: a dual-stack network gives sandboxes both families; they talk over IPv6",
  async () => {
    await dualStack(nsnet);
    // The IPv6 masquerade went with the network's last sandbox.
    assert(!run("nft", "list", "tables").includes("ip6 nsnet"));
  },
);

nsTest(
  "rootless: a dual-stack network gives sandboxes both families; they talk over IPv6",
  async () => {
    await cleanupRootless();
    try {
      await dualStack((...args) => nsnetAsUser(args));
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest("network create refuses a bad or overlapping IPv6 subnet", async () => {
  const bad = await nsnet(
    "network",
    "create",
    "nsnt-bad",
    "--subnet",
    "fd00:7b5a::1/64",
  );
  assertEquals(bad.code, 1);
  assertStringIncludes(bad.stderr, "has host bits set");
  const three = await nsnet(
    "network",
    "create",
    "nsnt-bad",
    "--subnet",
    "fd00:1::/64",
    "--subnet",
    "fd00:2::/64",
  );
  assertEquals(three.code, 1);
  assertStringIncludes(three.stderr, "at most one IPv4 and one IPv6 subnet");
});

nsTest(
  "static --ip and --mac; an address outside the subnet or taken is a clear error, nothing made",
  async () => {
    const made = await nsnet(
      "network",
      "create",
      NET,
      "--subnet",
      V4,
      "--subnet",
      V6,
    );
    assertEquals(made.code, 0, made.stderr);
    try {
      const fixed = await nsnet(
        "sandbox",
        "create",
        "ds-fixed",
        "--network",
        NET,
        "--ip",
        "10.123.90.50",
        "--mac",
        "02:00:00:00:00:50",
        "--json",
      );
      assertEquals(fixed.code, 0, fixed.stderr);
      const eth0 = JSON.parse(fixed.stdout).status.interfaces.eth0;
      assertEquals(eth0.subnets.map((s: { ipnet: string }) => s.ipnet), [
        "10.123.90.50/24",
        "fd00:7b5a::32/64",
      ]);
      assertEquals(eth0.mac_address, "02:00:00:00:00:50");
      const link = await nsnet(
        "sandbox",
        "exec",
        "ds-fixed",
        "--",
        "ip",
        "-br",
        "link",
        "show",
        "eth0",
      );
      assertStringIncludes(link.stdout, "02:00:00:00:00:50");
      const taken = await nsnet(
        "sandbox",
        "create",
        "ds-taken",
        "--network",
        NET,
        "--ip",
        "10.123.90.50",
      );
      assertEquals(taken.code, 1);
      assertStringIncludes(
        taken.stderr,
        "address 10.123.90.50 on network nsnt-dual is taken by sandbox ds-fixed",
      );
      const outside = await nsnet(
        "sandbox",
        "create",
        "ds-out",
        "--network",
        NET,
        "--ip",
        "10.9.9.9",
      );
      assertEquals(outside.code, 1);
      assertStringIncludes(
        outside.stderr,
        "10.9.9.9 is not a host address of 10.123.90.0/24",
      );
      const gateway = await nsnet(
        "sandbox",
        "create",
        "ds-gw",
        "--network",
        NET,
        "--ip",
        "10.123.90.1",
      );
      assertStringIncludes(gateway.stderr, "is taken by the gateway");
      const mac = await nsnet(
        "sandbox",
        "create",
        "ds-mac",
        "--network",
        NET,
        "--mac",
        "01:00:5e:00:00:01",
      );
      assertStringIncludes(mac.stderr, "is a multicast address");
      const names = JSON.parse((await nsnet("sandbox", "ls", "--json")).stdout)
        .map((s: { name: string }) => s.name);
      assertEquals(names.filter((n: string) => n.startsWith("ds-")), [
        "ds-fixed",
      ]);
    } finally {
      await nsnet("sandbox", "rm", "ds-fixed");
      assertEquals((await nsnet("network", "rm", NET)).code, 0);
    }
  },
);
