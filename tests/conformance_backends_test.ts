/**
 * Every sandbox network backend (builtin, CNI, netavark) passes the same
 * conformance cases (`_fixtures/backend_conformance.ts`), as root through
 * the library and rootless through the CLI as the test user, each on a network
 * of its own that the test defines and removes, with the firewall tables
 * CNI and netavark leave by design removed afterwards.
 */
import { succeeds } from "./_helpers.ts";
import {
  backendConformance,
  type BackendUnderTest,
} from "./_fixtures/backend_conformance.ts";
import { rootDriver, rootlessDriver } from "./_fixtures/sandbox_drivers.ts";
import { findInPath } from "../lib/rootless/helper_options.ts";

const builtin: BackendUnderTest = {
  backend: "builtin",
  available: true,
  network: "nsntc-builtin",
  subnet: "10.126.1.0/24",
  gateway: "10.126.1.1",
  bridge: "nsntc1",
  leavesTables: false,
  configure(dir): Record<string, string> {
    Deno.writeTextFileSync(
      `${dir}/${this.network}.json`,
      JSON.stringify({
        name: this.network,
        bridge: this.bridge,
        subnet: this.subnet,
        gateway: this.gateway,
      }),
    );
    return { NSNET_NETWORKS_DIR: dir };
  },
};

const cni: BackendUnderTest = {
  backend: "cni",
  available: succeeds("test", "-x", "/usr/lib/cni/bridge"),
  network: "nsntc-cni",
  subnet: "10.126.2.0/24",
  gateway: "10.126.2.1",
  bridge: "nsntc2",
  leavesTables: true,
  configure(dir): Record<string, string> {
    Deno.writeTextFileSync(
      `${dir}/${this.network}.conflist`,
      JSON.stringify({
        cniVersion: "1.0.0",
        name: this.network,
        plugins: [{
          type: "bridge",
          bridge: this.bridge,
          isGateway: true,
          ipMasq: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: this.subnet, gateway: this.gateway }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        }],
      }),
    );
    return { NSNET_CNI_CONF_DIR: dir };
  },
};

const netavark: BackendUnderTest = {
  backend: "netavark",
  available: ["/usr/libexec/podman/netavark", "/usr/lib/podman/netavark"]
    .some((p) => succeeds("test", "-x", p)) ||
    findInPath("netavark") !== undefined,
  network: "nsntc-netavark",
  subnet: "10.126.3.0/24",
  gateway: "10.126.3.1",
  bridge: "nsntc3",
  leavesTables: true,
  configure(dir): Record<string, string> {
    Deno.writeTextFileSync(
      `${dir}/${this.network}.json`,
      JSON.stringify({
        name: this.network,
        id: "c".repeat(64),
        driver: "bridge",
        network_interface: this.bridge,
        subnets: [{ subnet: this.subnet, gateway: this.gateway }],
        ipv6_enabled: false,
        internal: false,
        dns_enabled: false,
        ipam_options: { driver: "host-local" },
      }),
    );
    return { NSNET_PODMAN_NETWORKS_DIR: dir };
  },
};

for (const driver of [rootDriver, rootlessDriver]) {
  for (const backend of [builtin, cni, netavark]) {
    backendConformance(backend, driver);
  }
}
