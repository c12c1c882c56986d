/** Podman's network definitions: reading, validating, the default network, the dirs. */
import { assertEquals, assertThrows } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  defaultPodmanNetworksDir,
  getPodmanNetwork,
  InvalidPodmanNetworkError,
  ipv4Subnet,
  listPodmanNetworks,
  parsePodmanNetwork,
  PODMAN_DEFAULT_NETWORK,
  validatePodmanNetwork,
} from "../lib/netavark/mod.ts";
import { NetworkNotFoundError } from "../lib/errors.ts";
import { withDir } from "./_fixtures/dirs.ts";

/** A file as `podman network create --subnet 10.124.3.0/24 --ipv6 …` (4.3) writes it. */
const WRITTEN_BY_PODMAN = `{
     "name": "navt-written",
     "id": "5e8ca4ea2bea4c4d0a5d2c3c4e1b0a6c8d3f2e1a0b9c8d7e6f5a4b3c2d1e0f9a",
     "driver": "bridge",
     "network_interface": "podman1",
     "created": "2026-11-30T01:00:00.000000000Z",
     "subnets": [
          {
               "subnet": "10.124.3.0/24",
               "gateway": "10.124.3.1"
          },
          {
               "subnet": "fd0c:1b2a:3c4d::/64",
               "gateway": "fd0c:1b2a:3c4d::1"
          }
     ],
     "ipv6_enabled": true,
     "internal": false,
     "dns_enabled": true,
     "ipam_options": {
          "driver": "host-local"
     }
}
`;

nsTest("podman network: a file Podman wrote is read as it is", () => {
  const network = parsePodmanNetwork(WRITTEN_BY_PODMAN, "navt-written.json");
  assertEquals(network.name, "navt-written");
  assertEquals(network.network_interface, "podman1");
  assertEquals(network.subnets?.length, 2);
  assertEquals(network.dns_enabled, true);
  assertEquals(ipv4Subnet(network), {
    subnet: "10.124.3.0/24",
    gateway: "10.124.3.1",
  });
  // Unknown fields are kept: netavark gets the definition as Podman wrote it.
  const extra = { ...JSON.parse(WRITTEN_BY_PODMAN), "future_field": 1 };
  assertEquals(validatePodmanNetwork(extra), extra);
});

nsTest(
  "podman network: invalid definitions are refused, naming the problem",
  () => {
    const base = JSON.parse(WRITTEN_BY_PODMAN);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, name: "bad name" }, "is not a valid network name"],
      [{ ...base, id: "xyz" }, "id is not 64 hex digits"],
      [{ ...base, driver: "overlay" }, 'driver "overlay" is not one of'],
      [
        { ...base, "network_interface": "a-very-long-bridge-name" },
        "interface",
      ],
      [{ ...base, internal: "no" }, "internal is not a boolean"],
      [{ ...base, subnets: [{ subnet: "10.124.3.0" }] }, "not in CIDR form"],
      [{ ...base, subnets: [{ subnet: "10.124.3.0/33" }] }, "not in CIDR form"],
      [
        { ...base, subnets: [{ subnet: "10.124.3.0/24", gateway: "fd00::1" }] },
        "not an address of its family",
      ],
      [{ ...base, options: { mtu: 1500 } }, "options is not a map of strings"],
    ];
    for (const [value, message] of cases) {
      assertThrows(
        () => validatePodmanNetwork(value, "test.json"),
        InvalidPodmanNetworkError,
        message,
      );
    }
    assertThrows(
      () => parsePodmanNetwork("{", "broken.json"),
      InvalidPodmanNetworkError,
      "invalid Podman network broken.json: not JSON",
    );
  },
);

nsTest(
  "podman network: a dir lists its files and Podman's default network",
  () => {
    withDir((dir) => {
      assertEquals(listPodmanNetworks({ dir }), [PODMAN_DEFAULT_NETWORK]);
      Deno.writeTextFileSync(`${dir}/navt-written.json`, WRITTEN_BY_PODMAN);
      // Podman finds a network by the name inside the file, whatever the file is called.
      const renamed = JSON.parse(WRITTEN_BY_PODMAN);
      renamed.name = "navt-other";
      renamed.id = "a".repeat(64);
      Deno.writeTextFileSync(`${dir}/other-file.json`, JSON.stringify(renamed));
      Deno.writeTextFileSync(`${dir}/notes.txt`, "not a network");
      assertEquals(
        listPodmanNetworks({ dir }).map((n) => n.name),
        ["navt-other", "navt-written", "podman"],
      );
      assertEquals(getPodmanNetwork("navt-written", { dir }).id.length, 64);
      assertEquals(getPodmanNetwork("navt-other", { dir }).id, "a".repeat(64));
      assertEquals(getPodmanNetwork("podman", { dir }), PODMAN_DEFAULT_NETWORK);
      assertThrows(
        () => getPodmanNetwork("nosuch", { dir }),
        NetworkNotFoundError,
        `no Podman network named "nosuch" in ${dir}`,
      );
      // A podman.json replaces the built-in default.
      const custom = {
        ...PODMAN_DEFAULT_NETWORK,
        "network_interface": "navt9",
      };
      Deno.writeTextFileSync(`${dir}/podman.json`, JSON.stringify(custom));
      assertEquals(
        getPodmanNetwork("podman", { dir }).network_interface,
        "navt9",
      );
      Deno.writeTextFileSync(`${dir}/dup.json`, JSON.stringify(renamed));
      assertThrows(
        () => listPodmanNetworks({ dir }),
        InvalidPodmanNetworkError,
        "navt-other is defined twice",
      );
    });
    assertEquals(
      listPodmanNetworks({ dir: "/nonexistent/networks" }),
      [PODMAN_DEFAULT_NETWORK],
    );
  },
);

nsTest("podman network: the dirs Podman uses, root and rootless", () => {
  assertEquals(defaultPodmanNetworksDir(false), "/etc/containers/networks");
  const saved = {
    home: Deno.env.get("HOME"),
    data: Deno.env.get("XDG_DATA_HOME"),
  };
  try {
    Deno.env.set("HOME", "/home/someone");
    Deno.env.delete("XDG_DATA_HOME");
    assertEquals(
      defaultPodmanNetworksDir(true),
      "/home/someone/.local/share/containers/storage/networks",
    );
    Deno.env.set("XDG_DATA_HOME", "/data");
    assertEquals(
      defaultPodmanNetworksDir(true),
      "/data/containers/storage/networks",
    );
  } finally {
    if (saved.home === undefined) Deno.env.delete("HOME");
    else Deno.env.set("HOME", saved.home);
    if (saved.data === undefined) Deno.env.delete("XDG_DATA_HOME");
    else Deno.env.set("XDG_DATA_HOME", saved.data);
  }
});
