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
  listNetworks,
  NetworkExistsError,
  NetworkNotFoundError,
  parseSubnet,
  removeNetwork,
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
