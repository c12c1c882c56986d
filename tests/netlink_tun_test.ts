/**
 * tun/tap devices made as `ip tuntap add` makes them (Linux refuses them over
 * rtnetlink): through the library and through `nsnet link add NS NAME type
 * tun|tap`, checked with `ip -j -d link`, deleted with the library.
 */
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { nsnet, nsTest, withNamespaces } from "./_helpers.ts";
import { cli } from "./_fixtures/cli.ts";
import { ipJson, type Json, nameOf } from "./_fixtures/netns.ts";
import { linkCommand } from "../lib/cli/link.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { createLink, deleteLink } from "../lib/netlink/link.ts";
import { NetlinkError } from "../lib/netlink/errors.ts";
import { NetlinkSocket } from "../lib/netlink/socket.ts";
import type { NetNS } from "../lib/netns/netns.ts";

function linkOf(ns: NetNS, name: string): Json {
  const found = ipJson(ns, "-d", "link", "show").find((l) => l.ifname === name);
  assert(found !== undefined, `no link ${name}`);
  return found;
}

function infoOf(l: Json): Json {
  return (l.linkinfo ?? {}) as Json;
}

function dataOf(l: Json): Json {
  return (infoOf(l).info_data ?? {}) as Json;
}

function names(ns: NetNS): unknown[] {
  return ipJson(ns, "link", "show").map((l) => l.ifname);
}

// No passwd or group entry has these ids, so ip prints them as numbers.
const OWNER = 54321;
const GROUP = 54322;

nsTest(
  "createLink makes tun and tap devices through /dev/net/tun",
  async () => {
    await withNamespaces(1, (namespaces) => {
      const ns = namespaces[0]!;
      using sock = NetlinkSocket.open(ns);
      createLink(sock, { kind: "bridge", name: "br0" });
      createLink(sock, { kind: "tun", type: "tun", name: "t0", netns: ns });
      createLink(sock, {
        kind: "tun",
        type: "tap",
        name: "t1",
        netns: ns,
        vnetHdr: true,
        multiQueue: true,
        owner: OWNER,
        group: GROUP,
        mtu: 1400,
        mac: "02:00:00:00:aa:01",
        master: "br0",
        up: true,
      });
      createLink(sock, {
        kind: "tun",
        type: "tun",
        name: "t2",
        netns: ns,
        pi: true,
      });

      const t0 = linkOf(ns, "t0");
      assertEquals(infoOf(t0).info_kind, "tun");
      assertEquals(dataOf(t0).type, "tun");
      assertEquals(dataOf(t0).pi, false);
      assertEquals(dataOf(t0).vnet_hdr, false);
      assertEquals(dataOf(t0).multi_queue, false);
      assertEquals(dataOf(t0).persist, true);
      assertEquals(dataOf(t0).user, undefined);

      const t1 = linkOf(ns, "t1");
      assertEquals(infoOf(t1).info_kind, "tun");
      assertEquals(dataOf(t1).type, "tap");
      assertEquals(dataOf(t1).pi, false);
      assertEquals(dataOf(t1).vnet_hdr, true);
      assertEquals(dataOf(t1).multi_queue, true);
      assertEquals(dataOf(t1).persist, true);
      assertEquals(dataOf(t1).user, OWNER);
      assertEquals(dataOf(t1).group, GROUP);
      assertEquals(t1.mtu, 1400);
      assertEquals(t1.address, "02:00:00:00:aa:01");
      assertEquals(t1.master, "br0");
      assert((t1.flags as string[]).includes("UP"), "t1 is not up");

      assertEquals(dataOf(linkOf(ns, "t2")).pi, true);

      // A taken name is EEXIST, as for every other kind, and changes nothing.
      for (const name of ["t0", "br0"]) {
        const error = assertThrows(
          () => createLink(sock, { kind: "tun", type: "tap", name, netns: ns }),
          NetlinkError,
        );
        assertEquals(error.code, "EEXIST");
      }
      assertEquals(dataOf(linkOf(ns, "t0")).type, "tun");
      assertThrows(
        () =>
          createLink(sock, {
            kind: "tun",
            type: "tun",
            name: "t3",
            netns: ns,
            persist: false,
          }),
        InvalidArgumentError,
      );

      for (const name of ["t0", "t1", "t2", "br0"]) deleteLink(sock, name);
      assertEquals(names(ns), ["lo"]);
    });
  },
);

nsTest(
  "createLink refuses a tun made outside the socket's namespace and removes it",
  async () => {
    await withNamespaces(1, (namespaces) => {
      const ns = namespaces[0]!;
      using sock = NetlinkSocket.open(ns);
      // No netns: the device is made in the thread's namespace, not the socket's.
      const name = `nt${Deno.pid % 100000}`;
      assertThrows(
        () => createLink(sock, { kind: "tun", type: "tun", name }),
        InvalidArgumentError,
        "not in the namespace",
      );
      const here = new Deno.Command("ip", {
        args: ["link", "show", name],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      assert(!here.success, `${name} was left in the thread's namespace`);
      assertEquals(names(ns), ["lo"]);
    });
  },
);

nsTest("nsnet link add NS NAME type tun|tap", async () => {
  await withNamespaces(1, async (namespaces) => {
    const ns = namespaces[0]!;
    const name = nameOf(ns);
    await cli(linkCommand(), "link", "add", name, "t0", "type", "tun");
    await cli(linkCommand(), "link", "add", name, "t1", "type", "tap", "up");
    const t0 = linkOf(ns, "t0");
    assertEquals(infoOf(t0).info_kind, "tun");
    assertEquals(dataOf(t0).type, "tun");
    assertEquals(dataOf(t0).persist, true);
    const t1 = linkOf(ns, "t1");
    assertEquals(infoOf(t1).info_kind, "tun");
    assertEquals(dataOf(t1).type, "tap");
    assertEquals(dataOf(t1).pi, false);
    assert((t1.flags as string[]).includes("UP"), "t1 is not up");
    // The real command line too, in its own process.
    const out = await nsnet("link", "add", name, "t2", "type", "tap");
    assertEquals(out.code, 0, out.stderr);
    assertEquals(dataOf(linkOf(ns, "t2")).type, "tap");
    using sock = NetlinkSocket.open(ns);
    for (const link of ["t0", "t1", "t2"]) deleteLink(sock, link);
    assertEquals(names(ns), ["lo"]);
  });
});
