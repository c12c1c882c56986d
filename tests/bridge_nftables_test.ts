/**
 * The bridge firewall batch: masquerading per network, isolation between
 * networks, applied again without duplicates, gone with the last network.
 * Applied in namespaces made for the test.
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { nsTest, run, withNamespaces } from "./_helpers.ts";
import {
  applyFirewall,
  firewallBatch,
  NftablesError,
} from "../lib/bridge/nftables.ts";
import type { NetworkConfig } from "../lib/bridge/network.ts";
import type { NetNS } from "../lib/netns/netns.ts";

const A: NetworkConfig = {
  name: "a",
  bridge: "bra",
  subnet: "10.123.80.0/24",
  gateway: "10.123.80.1",
};
const B: NetworkConfig = {
  name: "b",
  bridge: "brb",
  subnet: "10.123.81.0/24",
  gateway: "10.123.81.1",
  internal: true,
};

function ruleset(ns: NetNS): string {
  const name = ns.path.slice(ns.path.lastIndexOf("/") + 1);
  return run("ip", "netns", "exec", name, "nft", "list", "ruleset");
}

nsTest(
  "firewallBatch: no network deletes the table, whether it exists or not",
  () => {
    assertEquals(
      firewallBatch([], "t"),
      "table ip t {}\ndelete table ip t\ntable ip6 t {}\ndelete table ip6 t\n",
    );
  },
);

nsTest(
  "applyFirewall: rules per network, idempotent, removed with the last network",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      const target = { ns: ns!, nsPath: ns!.path, viaNsenter: false };
      await applyFirewall(target, [A, B]);
      const first = ruleset(ns!);
      await applyFirewall(target, [A, B]);
      assertEquals(ruleset(ns!), first);
      assert(
        first.includes(
          "ip saddr 10.123.80.0/24 ip daddr != 10.123.80.0/24 masquerade",
        ),
      );
      // An internal network gets no masquerading, and no traffic in or out.
      assert(!first.includes("ip saddr 10.123.81.0/24"));
      assert(first.includes('iifname "brb" oifname != "brb" drop'));
      assert(first.includes('iifname "bra" oifname "brb" drop'));
      assert(first.includes('iifname "brb" oifname "bra" drop'));
      await applyFirewall(target, [A]);
      const one = ruleset(ns!);
      assert(!one.includes("brb"));
      assert(!one.includes('oifname "'));
      await applyFirewall(target, []);
      assertEquals(ruleset(ns!), "");
      await applyFirewall(target, []);
      assertEquals(ruleset(ns!), "");
    });
  },
);

nsTest(
  "applyFirewall: nft's own message comes back in NftablesError",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      const target = { ns: ns!, nsPath: ns!.path, viaNsenter: false };
      await assertRejects(
        () => applyFirewall(target, [{ ...A, subnet: "10.123.80.0/33" }]),
        NftablesError,
        "nftables:",
      );
      assertEquals(ruleset(ns!), "");
    });
  },
);
