/**
 * Changing links, addresses and routes, checked with `ip -j`; kernel errors
 * as typed errors with the kernel's text. Everything happens in namespaces
 * made for the test.
 */
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { nsTest, withNamespaces } from "./_helpers.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import {
  addAddress,
  addRoute,
  createLink,
  deleteAddress,
  deleteLink,
  deleteRoute,
  getLink,
  IFF,
  LinkNotFoundError,
  listAddresses,
  listLinks,
  listRoutes,
  moveLink,
  NetlinkError,
  NetlinkSocket,
  replaceRoute,
  setLink,
} from "../lib/netlink/mod.ts";
import { ipJson, type Json } from "./_fixtures/netns.ts";

function ipLink(ns: NetNS, name: string): Json | undefined {
  return ipJson(ns, "-d", "link", "show").find((l) => l.ifname === name);
}

nsTest(
  "createLink: veth with its peer straight into another namespace",
  async () => {
    await withNamespaces(2, ([a, b]) => {
      using sock = NetlinkSocket.open(a!);
      createLink(sock, {
        kind: "veth",
        name: "ve0",
        mtu: 1400,
        mac: "02:00:00:00:aa:01",
        up: true,
        peer: { name: "ve1", netns: b!, mac: "02:00:00:00:aa:02" },
      });
      const here = ipLink(a!, "ve0")!;
      assertEquals((here.linkinfo as Json).info_kind, "veth");
      assertEquals([here.mtu, here.address], [1400, "02:00:00:00:aa:01"]);
      assert((here.flags as string[]).includes("UP"));
      const there = ipLink(b!, "ve1")!;
      assertEquals([there.mtu, there.address], [1400, "02:00:00:00:aa:02"]);
      const ours = getLink(sock, "ve0");
      assertEquals([ours.kind, ours.link, ours.linkNetnsId !== undefined], [
        "veth",
        there.ifindex,
        true,
      ]);
      assertEquals(ipLink(a!, "ve1"), undefined);
    });
  },
);

nsTest(
  "createLink: bridge and ifb; setLink: up, MTU, MAC, name and master in one request each",
  async () => {
    await withNamespaces(1, ([ns]) => {
      using sock = NetlinkSocket.open(ns!);
      createLink(sock, { kind: "bridge", name: "br0" });
      createLink(sock, { kind: "ifb", name: "ifb0", mtu: 1300 });
      createLink(sock, {
        kind: "veth",
        name: "p0",
        peer: { name: "p1" },
        master: "br0",
      });
      assertEquals(ipLink(ns!, "p0")!.master, "br0");
      assertEquals(ipLink(ns!, "ifb0")!.mtu, 1300);

      setLink(sock, "br0", { up: true, mtu: 1450, mac: "02:00:00:00:bb:01" });
      const br = getLink(sock, "br0");
      assertEquals([br.mtu, br.mac, (br.flags & IFF.UP) !== 0], [
        1450,
        "02:00:00:00:bb:01",
        true,
      ]);
      assertEquals(ipLink(ns!, "br0")!.address, "02:00:00:00:bb:01");

      setLink(sock, "br0", { up: false });
      assert((getLink(sock, "br0").flags & IFF.UP) === 0);

      setLink(sock, "ifb0", { name: "ifb9" });
      assertEquals(ipLink(ns!, "ifb0"), undefined);
      assertEquals(ipLink(ns!, "ifb9")!.mtu, 1300);

      setLink(sock, "p0", { master: null });
      assertEquals(ipLink(ns!, "p0")!.master, undefined);
      setLink(sock, getLink(sock, "p1").index, { master: "br0" });
      assertEquals(ipLink(ns!, "p1")!.master, "br0");
    });
  },
);

nsTest(
  "moveLink: a link moves to another namespace by fd; deleteLink removes it",
  async () => {
    await withNamespaces(2, ([a, b]) => {
      using sockA = NetlinkSocket.open(a!);
      using sockB = NetlinkSocket.open(b!);
      createLink(sockA, { kind: "ifb", name: "mv0" });
      moveLink(sockA, "mv0", b!);
      assertEquals(ipLink(a!, "mv0"), undefined);
      assert(ipLink(b!, "mv0") !== undefined);
      assertEquals(getLink(sockB, "mv0").kind, "ifb");
      deleteLink(sockB, "mv0");
      assertEquals(ipLink(b!, "mv0"), undefined);
      createLink(sockA, { kind: "veth", name: "x0", peer: { name: "x1" } });
      deleteLink(sockA, getLink(sockA, "x0").index);
      assertEquals(
        listLinks(sockA).map((l) => l.name),
        ["lo"],
        "a veth goes with its peer",
      );
    });
  },
);

nsTest("createLink: macvlan and vxlan when the kernel has them", async () => {
  await withNamespaces(1, ([ns]) => {
    using sock = NetlinkSocket.open(ns!);
    createLink(sock, { kind: "veth", name: "up0", peer: { name: "up1" } });
    const tried: string[] = [];
    try {
      createLink(sock, {
        kind: "macvlan",
        name: "mac0",
        parent: "up0",
        mode: "bridge",
      });
      const info = ipLink(ns!, "mac0")!.linkinfo as Json;
      assertEquals([info.info_kind, (info.info_data as Json).mode], [
        "macvlan",
        "bridge",
      ]);
      assertEquals(ipLink(ns!, "mac0")!.link, "up0");
      tried.push("macvlan");
    } catch (error) {
      if (!(error instanceof NetlinkError && error.code === "EOPNOTSUPP")) {
        throw error;
      }
    }
    try {
      createLink(sock, {
        kind: "vxlan",
        name: "vx0",
        vni: 4242,
        port: 4790,
        local: "10.9.9.9",
      });
      const data = (ipLink(ns!, "vx0")!.linkinfo as Json).info_data as Json;
      assertEquals([data.id, data.port, data.local], [4242, 4790, "10.9.9.9"]);
      tried.push("vxlan");
    } catch (error) {
      if (!(error instanceof NetlinkError && error.code === "EOPNOTSUPP")) {
        throw error;
      }
    }
    console.log(
      `  feature-detected: ${tried.join(", ") || "neither macvlan nor vxlan"}`,
    );
  });
});

nsTest("addAddress/deleteAddress: IPv4 and IPv6, as ip sees them", async () => {
  await withNamespaces(1, ([ns]) => {
    using sock = NetlinkSocket.open(ns!);
    createLink(sock, { kind: "ifb", name: "if0", up: true });
    addAddress(sock, "if0", "10.44.0.1/24");
    addAddress(sock, "if0", "fd00:44::1/64", { noDad: true });
    const shown = (): string[] =>
      (ipJson(ns!, "addr", "show", "dev", "if0")[0]!.addr_info as Json[])
        .filter((a) => a.scope === "global")
        .map((a) => `${a.local}/${a.prefixlen}`);
    assertEquals(shown(), ["10.44.0.1/24", "fd00:44::1/64"]);
    const v6 = listAddresses(sock, { link: "if0" }).find((a) =>
      a.address === "fd00:44::1"
    )!;
    assert((v6.flags & 0x40) === 0, "nodad: not tentative");
    deleteAddress(sock, "if0", "10.44.0.1/24");
    deleteAddress(sock, "if0", "fd00:44::1/64");
    assertEquals(shown(), []);
  });
});

nsTest(
  "addRoute/replaceRoute/deleteRoute: default route, other tables, IPv6",
  async () => {
    await withNamespaces(1, ([ns]) => {
      using sock = NetlinkSocket.open(ns!);
      createLink(sock, {
        kind: "veth",
        name: "r0",
        peer: { name: "r1" },
        up: true,
      });
      setLink(sock, "r1", { up: true });
      addAddress(sock, "r0", "10.66.0.2/24");
      addAddress(sock, "r0", "fd00:66::2/64", { noDad: true });
      addRoute(sock, { destination: "default", gateway: "10.66.0.1" });
      addRoute(sock, {
        destination: "10.100.0.0/16",
        device: "r0",
        table: 1000,
      });
      addRoute(sock, {
        destination: "default",
        gateway: "fd00:66::1",
        device: "r0",
      });
      addRoute(sock, {
        destination: "10.101.0.0/16",
        gateway: "10.66.0.3",
        priority: 20,
      });
      const v4 = ipJson(ns!, "route", "show");
      assert(
        v4.some((r) =>
          r.dst === "default" && r.gateway === "10.66.0.1" && r.dev === "r0"
        ),
      );
      assert(
        v4.some((r) =>
          r.dst === "10.101.0.0/16" && r.metric === 20 &&
          r.protocol === "static"
        ),
      );
      assertEquals(
        ipJson(ns!, "route", "show", "table", "1000").map((
          r,
        ) => [r.dst, r.dev, r.scope]),
        [["10.100.0.0/16", "r0", "link"]],
      );
      assert(
        ipJson(ns!, "-6", "route", "show").some((r) =>
          r.dst === "default" && r.gateway === "fd00:66::1"
        ),
      );

      replaceRoute(sock, { destination: "default", gateway: "10.66.0.9" });
      const defaults = ipJson(ns!, "route", "show").filter((r) =>
        r.dst === "default"
      );
      assertEquals(
        defaults.map((r) => r.gateway),
        ["10.66.0.9"],
      );

      deleteRoute(sock, { destination: "default" });
      deleteRoute(sock, { destination: "10.100.0.0/16", table: 1000 });
      deleteRoute(sock, { destination: "default", family: 10 });
      assertEquals(
        ipJson(ns!, "route", "show").filter((r) => r.dst === "default"),
        [],
      );
      assertEquals(ipJson(ns!, "route", "show", "table", "1000"), []);
      assertEquals(
        listRoutes(sock, { table: 254 }).filter((r) =>
          r.destination === undefined
        ),
        [],
      );
    });
  },
);

nsTest(
  "errors: a duplicate address is EEXIST with the kernel's text",
  async () => {
    await withNamespaces(1, ([ns]) => {
      using sock = NetlinkSocket.open(ns!);
      createLink(sock, { kind: "ifb", name: "e0" });
      addAddress(sock, "e0", "10.3.0.1/24");
      const error = assertThrows(
        () => addAddress(sock, "e0", "10.3.0.1/24"),
        NetlinkError,
      );
      assertEquals([error.errno, error.code], [17, "EEXIST"]);
      assertEquals(error.kernelMessage, "ipv4: Address already assigned");
      assert(error.message.includes("ipv4: Address already assigned"));
      const duplicate = assertThrows(
        () => createLink(sock, { kind: "ifb", name: "e0" }),
        NetlinkError,
      );
      assertEquals(duplicate.code, "EEXIST");
    });
  },
);

nsTest(
  "errors: a missing link is LinkNotFoundError (ENODEV), by name and by index",
  async () => {
    await withNamespaces(1, ([ns]) => {
      using sock = NetlinkSocket.open(ns!);
      for (const link of ["nope0", 4242] as const) {
        const error = assertThrows(
          () => getLink(sock, link),
          LinkNotFoundError,
        );
        assertEquals([error.errno, error.code, error.link], [
          19,
          "ENODEV",
          link,
        ]);
        assertThrows(() => deleteLink(sock, link), LinkNotFoundError);
        assertThrows(
          () => setLink(sock, link, { up: true }),
          LinkNotFoundError,
        );
      }
      assertThrows(
        () => addAddress(sock, "nope0", "10.0.0.1/8"),
        LinkNotFoundError,
      );
    });
  },
);

nsTest(
  "errors: a bad namespace fd is refused with the kernel's errno",
  async () => {
    await withNamespaces(1, ([ns]) => {
      using sock = NetlinkSocket.open(ns!);
      createLink(sock, { kind: "ifb", name: "b0" });
      const closed = assertThrows(
        () => setLink(sock, "b0", { netnsFd: 99999 }),
        NetlinkError,
      );
      assertEquals(closed.code, "EBADF");
      const notNetns = assertThrows(
        () => setLink(sock, "b0", { netnsFd: 0 }),
        NetlinkError,
      );
      assertEquals(notNetns.code, "EINVAL");
      const unknownKind = assertThrows(
        () => createLink(sock, { kind: "dummy" as "ifb", name: "d0" }),
        NetlinkError,
      );
      assertEquals([unknownKind.code, unknownKind.kernelMessage], [
        "EOPNOTSUPP",
        "Unknown device type",
      ]);
      assert(ipLink(ns!, "b0") !== undefined, "the link stayed where it was");
    });
  },
);

nsTest(
  "NetlinkSocket: a closed socket refuses requests; close is idempotent",
  async () => {
    await withNamespaces(1, ([ns]) => {
      const sock = NetlinkSocket.open(ns!);
      assert(sock.portId > 0);
      sock.close();
      sock.close();
      assert(sock.closed);
      assertThrows(() => listLinks(sock), Error, "closed");
    });
  },
);
