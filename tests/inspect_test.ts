/**
 * inspectNetNS (S15) and `nsnet inspect`: Podman's StatusBlock, field for field.
 */
import { assertEquals } from "./_assert.ts";
import { nsTest, run, withNamespaces } from "./_helpers.ts";
import { inspectCommand } from "../lib/cli/inspect.ts";
import { inspectNetNS } from "../lib/inspect.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { nameOf } from "./_fixtures/netns.ts";
import { cli } from "./_fixtures/cli.ts";

function ip(ns: NetNS, ...args: string[]): string {
  return run("ip", "-n", nameOf(ns), ...args);
}

nsTest(
  "inspectNetNS: S15 — loopback and address-less skipped, link-local dropped, gateway by subnet",
  async () => {
    await withNamespaces(2, ([ns, other]) => {
      ip(ns!, "link", "set", "lo", "up");
      ip(
        ns!,
        "link",
        "add",
        "eth0",
        "address",
        "02:00:00:00:00:01",
        "type",
        "veth",
        "peer",
        "name",
        "p0",
        "netns",
        nameOf(other!),
      );
      ip(
        ns!,
        "link",
        "add",
        "eth1",
        "address",
        "02:00:00:00:00:02",
        "type",
        "veth",
        "peer",
        "name",
        "p1",
        "netns",
        nameOf(other!),
      );
      ip(ns!, "link", "add", "br0", "type", "bridge");
      ip(ns!, "link", "set", "eth0", "up");
      ip(ns!, "addr", "add", "10.88.0.2/16", "dev", "eth0");
      ip(ns!, "addr", "add", "172.30.0.2/24", "dev", "eth0");
      ip(ns!, "addr", "add", "fd00:88::2/64", "dev", "eth0", "nodad");
      ip(ns!, "addr", "add", "fe80::1234/64", "dev", "eth1", "nodad");
      ip(ns!, "addr", "add", "169.254.1.1/16", "dev", "eth1");
      ip(ns!, "route", "add", "default", "via", "10.88.0.1");
      ip(ns!, "-6", "route", "add", "default", "via", "fd00:88::1");
      assertEquals(inspectNetNS(ns!), {
        interfaces: {
          eth0: {
            subnets: [
              { ipnet: "10.88.0.2/16", gateway: "10.88.0.1" },
              { ipnet: "172.30.0.2/24" },
              { ipnet: "fd00:88::2/64", gateway: "fd00:88::1" },
            ],
            "mac_address": "02:00:00:00:00:01",
          },
          eth1: { "mac_address": "02:00:00:00:00:02" },
        },
      });
    });
  },
);

nsTest(
  "inspectNetNS: a namespace with nothing configured is an empty StatusBlock",
  async () => {
    await withNamespaces(1, ([ns]) => {
      assertEquals(inspectNetNS(ns!), {});
    });
  },
);

nsTest(
  "nsnet inspect --json: Podman's JSON field for field; the table names each subnet",
  async () => {
    await withNamespaces(2, async ([ns, other]) => {
      ip(
        ns!,
        "link",
        "add",
        "eth0",
        "address",
        "02:00:00:00:00:09",
        "type",
        "veth",
        "peer",
        "name",
        "p0",
        "netns",
        nameOf(other!),
      );
      ip(ns!, "link", "set", "eth0", "up");
      ip(ns!, "addr", "add", "10.89.0.5/24", "dev", "eth0");
      ip(ns!, "route", "add", "default", "via", "10.89.0.1");
      const json = await cli(
        inspectCommand(),
        "inspect",
        nameOf(ns!),
        "--json",
      );
      assertEquals(
        json,
        JSON.stringify(
          {
            interfaces: {
              eth0: {
                subnets: [{ ipnet: "10.89.0.5/24", gateway: "10.89.0.1" }],
                "mac_address": "02:00:00:00:00:09",
              },
            },
          },
          null,
          2,
        ),
      );
      const table = await cli(inspectCommand(), "inspect", ns!.path);
      assertEquals(table.split("\n"), [
        "INTERFACE  MAC                SUBNET        GATEWAY",
        "eth0       02:00:00:00:00:09  10.89.0.5/24  10.89.0.1",
      ]);
    });
  },
);
