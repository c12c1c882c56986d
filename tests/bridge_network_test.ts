/**
 * Bridge network configs: the default network, named networks stored as
 * JSON, validation, and clashes of names, bridges and subnets.
 */
import { assertEquals, assertThrows } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  createNetwork,
  DEFAULT_NETWORK,
  getNetwork,
  ipv6HostAddress,
  listNetworks,
  NetworkExistsError,
  NetworkNotFoundError,
  parseSubnet,
  parseSubnet6,
  removeNetwork,
  sandboxAddress6,
  subnets6Overlap,
  validateNetwork,
} from "../lib/bridge/network.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { withDir } from "./_fixtures/dirs.ts";

nsTest("getNetwork: the default network without any file", () => {
  withDir((dir) => {
    assertEquals(getNetwork("bridge", { dir }), {
      name: "bridge",
      bridge: "nsnet0",
      subnet: "10.89.0.0/24",
      gateway: "10.89.0.1",
    });
    assertEquals(listNetworks({ dir }), [{ ...DEFAULT_NETWORK }]);
    assertThrows(() => getNetwork("nope", { dir }), NetworkNotFoundError);
    assertThrows(() => removeNetwork("bridge", { dir }), Error, "default");
  });
});

nsTest("createNetwork: stored as JSON, listed, read back and removed", () => {
  withDir((dir) => {
    const a = createNetwork("alpha", { dir });
    assertEquals(a, {
      name: "alpha",
      bridge: "nsnet1",
      subnet: "10.89.1.0/24",
      gateway: "10.89.1.1",
    });
    const b = createNetwork("beta", {
      dir,
      subnet: "172.30.0.0/16",
      bridge: "br-beta",
      mtu: 1400,
    });
    assertEquals(b.gateway, "172.30.0.1");
    assertEquals(JSON.parse(Deno.readTextFileSync(`${dir}/beta.json`)), b);
    assertEquals(getNetwork("beta", { dir }), b);
    assertEquals(listNetworks({ dir }).map((n) => n.name), [
      "bridge",
      "alpha",
      "beta",
    ]);
    assertEquals(createNetwork("gamma", { dir }).subnet, "10.89.2.0/24");
    removeNetwork("alpha", { dir });
    assertThrows(() => removeNetwork("alpha", { dir }), NetworkNotFoundError);
    assertEquals(listNetworks({ dir }).map((n) => n.name), [
      "bridge",
      "beta",
      "gamma",
    ]);
  });
});

nsTest("createNetwork: names, bridges and overlapping subnets clash", () => {
  withDir((dir) => {
    createNetwork("one", { dir, subnet: "10.90.0.0/16", bridge: "br1" });
    assertThrows(() => createNetwork("one", { dir }), NetworkExistsError);
    assertThrows(() => createNetwork("bridge", { dir }), NetworkExistsError);
    assertThrows(
      () => createNetwork("two", { dir, bridge: "br1" }),
      NetworkExistsError,
      "bridge br1",
    );
    assertThrows(
      () => createNetwork("two", { dir, subnet: "10.90.5.0/24" }),
      NetworkExistsError,
      "overlaps",
    );
    assertThrows(
      () => createNetwork("two", { dir, subnet: "10.89.0.0/16" }),
      NetworkExistsError,
      "network bridge",
    );
  });
});

nsTest("validateNetwork: bad subnets, gateways, names and MTUs", () => {
  const ok = { ...DEFAULT_NETWORK };
  for (
    const bad of [
      { ...ok, subnet: "10.89.0.1/24" },
      { ...ok, subnet: "10.89.0.0" },
      { ...ok, subnet: "10.89.0.0/31" },
      { ...ok, subnet: "fd00::/64" },
      { ...ok, gateway: "10.89.1.1" },
      { ...ok, gateway: "10.89.0.255" },
      { ...ok, gateway: "10.89.0.0" },
      { ...ok, name: "bad/name" },
      { ...ok, bridge: "a-bridge-name-too-long" },
      { ...ok, mtu: 10 },
    ]
  ) {
    assertThrows(() => validateNetwork(bad), InvalidArgumentError);
  }
  assertEquals(parseSubnet("10.89.0.0/24"), {
    base: 0x0a590000,
    prefixLength: 24,
    size: 256,
  });
});

Deno.test("IPv6 subnets: parsed, overlaps found, host addresses derived (dual-stack)", () => {
  assertEquals(parseSubnet6("fd00:1::/64").prefixLength, 64);
  assertThrows(() => parseSubnet6("fd00:1::1/64"), Error, "has host bits set");
  assertThrows(() => parseSubnet6("fd00:1::/48"), Error, "64 to 120");
  assertThrows(() => parseSubnet6("10.0.0.0/24"), Error, "invalid IPv6 subnet");
  assertEquals(
    subnets6Overlap(parseSubnet6("fd00:1::/64"), parseSubnet6("fd00:1::/96")),
    true,
  );
  assertEquals(
    subnets6Overlap(parseSubnet6("fd00:1::/64"), parseSubnet6("fd00:2::/64")),
    false,
  );
  assertEquals(ipv6HostAddress("fd00:1::/64", 2), "fd00:1::2");
  assertEquals(ipv6HostAddress("fd00:1::/120", 255), "fd00:1::ff");
  const network = {
    name: "d",
    bridge: "d0",
    subnet: "10.5.0.0/24",
    gateway: "10.5.0.1",
    subnet6: "fd00:5::/64",
    gateway6: "fd00:5::1",
  };
  assertEquals(validateNetwork(network), network);
  assertEquals(sandboxAddress6(network, "10.5.0.7"), "fd00:5::7");
  assertEquals(
    sandboxAddress6({ ...network, subnet6: undefined }, "10.5.0.7"),
    undefined,
  );
  assertThrows(
    () => validateNetwork({ ...network, gateway6: "fd00:6::1" }),
    Error,
    "is not a host address of fd00:5::/64",
  );
  assertThrows(
    () => validateNetwork({ ...network, dnsUpstreams: ["example.com"] }),
    Error,
    "invalid DNS upstream",
  );
});
