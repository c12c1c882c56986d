/**
 * CNI results into StatusBlocks (as Podman's CNIResultToStatus), result
 * validation, and the libcni-format result cache.
 */
import { assertEquals, assertThrows } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  cniCachePath,
  CniConfigError,
  CniPluginError,
  cniResultToStatus,
  parseCniResult,
  readCniCache,
  rootlessCniCacheDir,
} from "../lib/cni/mod.ts";
import {
  cachedConfigBytes,
  removeCniCache,
  writeCniCache,
} from "../lib/cni/cache.ts";

const RESULT = {
  cniVersion: "1.0.0",
  interfaces: [
    { name: "cnit0", mac: "06:84:7D:35:03:90" },
    { name: "veth1", mac: "22:ee:98:68:37:f5" },
    { name: "eth0", mac: "DE:61:ED:D3:DC:0A", sandbox: "/run/netns/x" },
    { name: "eth1", sandbox: "/run/netns/x" },
  ],
  ips: [
    { address: "10.123.1.2/24", gateway: "10.123.1.1", interface: 2 },
    { address: "fd00:123::2/64", interface: 2 },
    { address: "10.99.0.1/16" },
  ],
  routes: [{ dst: "0.0.0.0/0" }, { dst: "10.0.0.0/8", gw: "10.123.1.254" }],
  dns: { nameservers: ["10.123.1.1"], search: ["example"] },
};

nsTest("cni result: a 1.0.0 result validates into its typed form", () => {
  const result = parseCniResult(RESULT);
  assertEquals(result.interfaces.length, 4);
  assertEquals(result.ips[0], {
    address: "10.123.1.2/24",
    gateway: "10.123.1.1",
    interface: 2,
  });
  assertEquals(result.ips[2], { address: "10.99.0.1/16" });
  assertEquals(result.routes, RESULT.routes);
  assertEquals(result.dns, {
    nameservers: ["10.123.1.1"],
    search: ["example"],
  });
});

nsTest(
  "cni result: the StatusBlock has only the sandbox's interfaces, with their addresses",
  () => {
    assertEquals(cniResultToStatus(parseCniResult(RESULT)), {
      interfaces: {
        eth0: {
          subnets: [
            { ipnet: "10.123.1.2/24", gateway: "10.123.1.1" },
            { ipnet: "fd00:123::2/64" },
          ],
          "mac_address": "de:61:ed:d3:dc:0a",
        },
        eth1: { "mac_address": "" },
      },
    });
    assertEquals(
      cniResultToStatus(parseCniResult({ cniVersion: "1.0.0" })),
      {},
    );
  },
);

nsTest("cni result: a 0.4.0 result (ips with version) converts alike", () => {
  const old = {
    cniVersion: "0.4.0",
    interfaces: [{ name: "eth0", mac: "aa:bb:cc:dd:ee:ff", sandbox: "/x" }],
    ips: [{ version: "4", address: "10.1.0.2/24", interface: 0 }],
  };
  assertEquals(cniResultToStatus(parseCniResult(old)), {
    interfaces: {
      eth0: {
        subnets: [{ ipnet: "10.1.0.2/24" }],
        "mac_address": "aa:bb:cc:dd:ee:ff",
      },
    },
  });
});

nsTest("cni result: malformed results are the plugin's error", () => {
  const cases: [unknown, string][] = [
    ["x", "not an object"],
    [{}, "no cniVersion"],
    [{ cniVersion: "1.0.0", interfaces: [{}] }, "without a name"],
    [
      { cniVersion: "1.0.0", ips: [{ gateway: "1.1.1.1" }] },
      "without an address",
    ],
    [
      { cniVersion: "1.0.0", ips: [{ address: "1.1.1.1/32", interface: 0 }] },
      "out of range",
    ],
    [{ cniVersion: "1.0.0", routes: [{ gw: "1.1.1.1" }] }, "without dst"],
  ];
  for (const [value, message] of cases) {
    const error = assertThrows(
      () => parseCniResult(value, "bridge"),
      CniPluginError,
      message,
    );
    assertEquals(error.plugin, "bridge");
    assertEquals(error.code, 999);
  }
});

nsTest("cni cache: libcni's file, read back, removed", () => {
  const dir = Deno.makeTempDirSync({ prefix: "nsnet-cni-cache-" });
  try {
    const config = JSON.stringify({ cniVersion: "1.0.0", name: "n", x: "é" });
    const path = writeCniCache(dir, {
      network: "n",
      containerId: "c1",
      ifname: "eth0",
      configBytes: config,
      cniArgs: [["IgnoreUnknown", "1"]],
      capabilityArgs: { portMappings: [] },
      result: RESULT,
    });
    assertEquals(path, `${dir}/results/n-c1-eth0`);
    assertEquals(path, cniCachePath(dir, "n", "c1", "eth0"));
    assertEquals(Deno.statSync(path).mode! & 0o777, 0o600);
    const onDisk = JSON.parse(Deno.readTextFileSync(path));
    assertEquals(onDisk.kind, "cniCacheV1");
    assertEquals(onDisk.containerId, "c1");
    assertEquals(onDisk.ifName, "eth0");
    assertEquals(onDisk.networkName, "n");
    assertEquals(atob(onDisk.config).length > 0, true);
    const entry = readCniCache(dir, "n", "c1", "eth0")!;
    assertEquals(entry.result, RESULT);
    assertEquals(cachedConfigBytes(entry), config);
    assertEquals(entry.cniArgs, [["IgnoreUnknown", "1"]]);
    assertEquals(readCniCache(dir, "n", "c1", "eth1"), undefined);
    removeCniCache(dir, "n", "c1", "eth0");
    removeCniCache(dir, "n", "c1", "eth0");
    assertEquals(readCniCache(dir, "n", "c1", "eth0"), undefined);

    Deno.writeTextFileSync(path, "{");
    assertThrows(() => readCniCache(dir, "n", "c1", "eth0"), CniConfigError);
    Deno.writeTextFileSync(path, '{"kind":"other"}');
    assertThrows(
      () => readCniCache(dir, "n", "c1", "eth0"),
      CniConfigError,
      "cniCacheV1",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

nsTest(
  "cni cache: rootless, under the mirror mounted over /var/lib/cni",
  () => {
    assertEquals(
      rootlessCniCacheDir("/run/user/1000/nsnet/rootless-netns"),
      "/run/user/1000/nsnet/rootless-netns/var/lib/cni",
    );
  },
);
