/**
 * Reading links, addresses and routes from the kernel, with `ip -j` as the
 * oracle: every field that both report must agree, IPv4 and IPv6.
 */
import { assert, assertEquals } from "./_assert.ts";
import { nsTest, run, withNamespaces } from "./_helpers.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import {
  AF,
  getLink,
  type Link,
  linkFlagNames,
  type LinkStats,
  listAddresses,
  listLinks,
  listRoutes,
  NetlinkSocket,
  type Route,
  routeProtocolName,
  routeTypeName,
  scopeName,
  tableName,
} from "../lib/netlink/mod.ts";
import { ipJson, type Json, nameOf } from "./_fixtures/netns.ts";

/** Runs `fn` with `count` fresh namespaces, removed afterwards whatever happens. */

/** A namespace with a veth (peer in `other`), a bridge with a port, an ifb, addresses and routes. */
function populate(ns: NetNS, other: NetNS): void {
  const sh = (...args: string[]): string =>
    run("ip", "-n", nameOf(ns), ...args);
  sh(
    "link",
    "add",
    "eth0",
    "type",
    "veth",
    "peer",
    "name",
    "peer0",
    "netns",
    nameOf(other),
  );
  sh("link", "add", "br0", "type", "bridge");
  sh("link", "add", "port0", "type", "veth", "peer", "name", "port1");
  sh("link", "set", "port0", "master", "br0");
  sh("link", "add", "ifb0", "mtu", "1400", "type", "ifb");
  for (const link of ["lo", "eth0", "br0", "port0", "port1"]) {
    sh("link", "set", link, "up");
  }
  run("ip", "-n", nameOf(other), "link", "set", "peer0", "up");
  sh("addr", "add", "10.77.0.2/24", "dev", "eth0");
  sh("addr", "add", "10.77.1.2/24", "dev", "eth0");
  sh("addr", "add", "fd00:77::2/64", "dev", "eth0", "nodad");
  sh("addr", "add", "192.168.5.1/16", "dev", "br0");
  sh("route", "add", "default", "via", "10.77.0.1");
  sh("-6", "route", "add", "default", "via", "fd00:77::1", "metric", "1024");
  sh(
    "route",
    "add",
    "10.200.0.0/16",
    "via",
    "10.77.1.1",
    "metric",
    "50",
    "proto",
    "static",
  );
  sh("route", "add", "10.201.0.0/16", "dev", "br0", "table", "1000");
  sh("route", "add", "blackhole", "10.202.0.0/16");
  sh("-6", "route", "add", "2001:db8::/48", "via", "fd00:77::1", "table", "7");
}

const RX_KEYS: Record<string, keyof LinkStats> = {
  bytes: "rxBytes",
  packets: "rxPackets",
  errors: "rxErrors",
  dropped: "rxDropped",
  "over_errors": "rxOverErrors",
  multicast: "multicast",
  "length_errors": "rxLengthErrors",
  "crc_errors": "rxCrcErrors",
  "frame_errors": "rxFrameErrors",
  "fifo_errors": "rxFifoErrors",
  "missed_errors": "rxMissedErrors",
  compressed: "rxCompressed",
  nohandler: "rxNohandler",
  otherhost: "rxOtherhostDropped",
};
const TX_KEYS: Record<string, keyof LinkStats> = {
  bytes: "txBytes",
  packets: "txPackets",
  errors: "txErrors",
  dropped: "txDropped",
  "carrier_errors": "txCarrierErrors",
  collisions: "collisions",
  "aborted_errors": "txAbortedErrors",
  "fifo_errors": "txFifoErrors",
  "window_errors": "txWindowErrors",
  "heartbeat_errors": "txHeartbeatErrors",
  compressed: "txCompressed",
};

function checkStats(name: string, before: Json, after: Json, ours: Link): void {
  const stats = ours.stats;
  assert(stats !== undefined, `${name}: stats64`);
  for (const [dir, keys] of [["rx", RX_KEYS], ["tx", TX_KEYS]] as const) {
    const lo = before[dir] as Record<string, number>;
    const hi = after[dir] as Record<string, number>;
    for (const [key, value] of Object.entries(lo)) {
      if (key === "carrier_changes") {
        assert(
          ours.carrierChanges! >= value && ours.carrierChanges! <= hi[key]!,
        );
        continue;
      }
      const field = keys[key];
      assert(field !== undefined, `${name}: unmapped ip counter ${dir}.${key}`);
      const mine = stats[field];
      assert(
        mine >= value && mine <= hi[key]!,
        `${name}: ${dir}.${key} ip ${value}..${hi[key]} ours ${mine}`,
      );
    }
  }
}

nsTest(
  "listLinks: every field ip -d -s -s link show reports agrees",
  async () => {
    await withNamespaces(2, ([ns, other]) => {
      populate(ns!, other!);
      const before = ipJson(ns!, "-d", "-s", "-s", "link", "show");
      using sock = NetlinkSocket.open(ns!);
      const links = listLinks(sock);
      const after = ipJson(ns!, "-d", "-s", "-s", "link", "show");
      assertEquals(links.map((l) => l.index), before.map((l) => l.ifindex));
      const byIndex = new Map(links.map((l) => [l.index, l]));
      for (const [i, ip] of before.entries()) {
        const ours = byIndex.get(ip.ifindex as number)!;
        const name = ours.name;
        assertEquals(ours.name, ip.ifname);
        assertEquals(ours.mtu, ip.mtu, `${name} mtu`);
        assertEquals(ours.mac, ip.address, `${name} address`);
        assertEquals(ours.broadcast, ip.broadcast, `${name} broadcast`);
        assertEquals(ours.operstate, ip.operstate, `${name} operstate`);
        assertEquals(linkFlagNames(ours.flags), ip.flags, `${name} flags`);
        assertEquals(ours.qdisc, ip.qdisc, `${name} qdisc`);
        assertEquals(ours.txqlen, ip.txqlen, `${name} txqlen`);
        assertEquals(ours.minMtu, ip.min_mtu, `${name} min_mtu`);
        assertEquals(ours.maxMtu, ip.max_mtu, `${name} max_mtu`);
        assertEquals(ours.promiscuity, ip.promiscuity, `${name} promiscuity`);
        const info = ip.linkinfo as Json | undefined;
        assertEquals(ours.kind, info?.info_kind, `${name} kind`);
        assertEquals(
          ours.slaveKind,
          info?.info_slave_kind,
          `${name} slave kind`,
        );
        const master = ip.master === undefined
          ? undefined
          : links.find((l) => l.name === ip.master)?.index;
        assertEquals(ours.master, master, `${name} master`);
        if (ip.link_netnsid !== undefined) {
          assertEquals(
            ours.linkNetnsId,
            ip.link_netnsid,
            `${name} link_netnsid`,
          );
          assertEquals(ours.link, ip.link_index, `${name} link_index`);
        } else if (ip.link !== undefined) {
          assertEquals(
            ours.link,
            links.find((l) => l.name === ip.link)?.index,
            `${name} link`,
          );
        }
        checkStats(name, ip.stats64 as Json, after[i]!.stats64 as Json, ours);
      }
      const kinds = new Map(links.map((l) => [l.name, l.kind]));
      assertEquals(
        [
          kinds.get("eth0"),
          kinds.get("br0"),
          kinds.get("ifb0"),
          kinds.get("lo"),
        ],
        ["veth", "bridge", "ifb", undefined],
      );
    });
  },
);

nsTest(
  "getLink: one link by name or index without a dump, as the dump shows it",
  async () => {
    await withNamespaces(2, ([ns, other]) => {
      populate(ns!, other!);
      using sock = NetlinkSocket.open(ns!);
      const listed = listLinks(sock, { stats: false }).find((l) =>
        l.name === "ifb0"
      )!;
      const byName = getLink(sock, "ifb0", { stats: false });
      assertEquals(byName, listed);
      assertEquals(getLink(sock, listed.index, { stats: false }), listed);
      assertEquals(byName.mtu, 1400);
      assert(getLink(sock, "ifb0").stats !== undefined);
    });
  },
);

function addressRows(ip: Json[]): unknown[][] {
  return ip.flatMap((link) =>
    (link.addr_info as Json[]).map((a) => [
      link.ifindex,
      a.family,
      a.local,
      a.prefixlen,
      a.scope,
      a.label,
      a.valid_life_time,
      a.preferred_life_time,
      a.nodad === true,
    ])
  );
}

nsTest(
  "listAddresses: every address ip -j addr show reports agrees, v4 and v6",
  async () => {
    await withNamespaces(2, ([ns, other]) => {
      populate(ns!, other!);
      using sock = NetlinkSocket.open(ns!);
      const ip = addressRows(ipJson(ns!, "addr", "show"));
      const ours = listAddresses(sock);
      const rows = ours.map((a) => [
        a.index,
        a.family === AF.INET ? "inet" : "inet6",
        a.address,
        a.prefixLength,
        scopeName(a.scope),
        a.label,
        a.validLifetime,
        a.preferredLifetime,
        (a.flags & 0x2) !== 0,
      ]);
      const key = (r: unknown[]): string => `${r[0]} ${r[1]} ${r[2]}`;
      const sortRows = (r: unknown[][]): unknown[][] =>
        [...r].sort((a, b) => key(a).localeCompare(key(b)));
      assertEquals(sortRows(rows), sortRows(ip));
      assert(
        ours.some((a) => a.address === "fd00:77::2" && a.prefixLength === 64),
      );
      const v4 = listAddresses(sock, { family: AF.INET });
      assert(v4.length > 0 && v4.every((a) => a.family === AF.INET));
      const onEth0 = listAddresses(sock, { link: "eth0", family: AF.INET });
      assertEquals(onEth0.map((a) => a.address), ["10.77.0.2", "10.77.1.2"]);
    });
  },
);

function ipRoute(r: Json): Json {
  return {
    type: r.type ?? "unicast",
    dst: r.dst,
    gateway: r.gateway,
    dev: r.dev,
    table: r.table ?? "main",
    protocol: r.protocol ?? "boot",
    scope: r.scope ?? "global",
    metric: r.metric,
    prefsrc: r.prefsrc,
  };
}

function ourRoute(r: Route, names: Map<number, string>): Json {
  const max = r.family === AF.INET ? 32 : 128;
  const dst = r.destination === undefined
    ? "default"
    : r.destinationLength === max
    ? r.destination
    : `${r.destination}/${r.destinationLength}`;
  return {
    type: routeTypeName(r.type),
    dst,
    gateway: r.gateway,
    dev: r.outputIndex === undefined ? undefined : names.get(r.outputIndex),
    table: tableName(r.table),
    protocol: routeProtocolName(r.protocol),
    scope: scopeName(r.scope),
    metric: r.priority,
    prefsrc: r.preferredSource,
  };
}

nsTest(
  "listRoutes: every route ip -j route show table all reports agrees, v4 and v6",
  async () => {
    await withNamespaces(2, ([ns, other]) => {
      populate(ns!, other!);
      using sock = NetlinkSocket.open(ns!);
      const names = new Map(
        listLinks(sock, { stats: false }).map((l) => [l.index, l.name]),
      );
      for (
        const [family, flag] of [[AF.INET, "-4"], [AF.INET6, "-6"]] as const
      ) {
        const ip = ipJson(ns!, flag, "route", "show", "table", "all").map(
          ipRoute,
        );
        const ours = listRoutes(sock, { family }).map((r) =>
          ourRoute(r, names)
        );
        assertEquals(ours, ip, `family ${family}`);
      }
      const main = listRoutes(sock, { table: 254 });
      assert(main.length > 0 && main.every((r) => r.table === 254));
      assert(
        listRoutes(sock, { table: 1000 }).some((r) =>
          r.destination === "10.201.0.0"
        ),
      );
      const def = main.filter((r) =>
        r.destination === undefined && r.destinationLength === 0
      );
      assertEquals(def.map((r) => r.gateway).sort(), [
        "10.77.0.1",
        "fd00:77::1",
      ]);
    });
  },
);

nsTest(
  "a link message over 32 KiB (330 long altnames) is read whole: the buffer grows, nothing is cut",
  async () => {
    await withNamespaces(1, (namespaces) => {
      const ns = namespaces[0]!;
      const name = ns.path.slice(ns.path.lastIndexOf("/") + 1);
      run("ip", "-n", name, "link", "add", "big0", "type", "ifb");
      const altNames = Array.from(
        { length: 330 },
        (_, i) => `a${String(i).padStart(3, "0")}${"x".repeat(120)}`,
      );
      const batch = altNames.map((a) =>
        `link property add dev big0 altname ${a}`
      ).join("\n") + "\n";
      const file = Deno.makeTempFileSync();
      try {
        Deno.writeTextFileSync(file, batch);
        run("ip", "-n", name, "-batch", file);
      } finally {
        Deno.removeSync(file);
      }
      using sock = NetlinkSocket.open(ns, { bufferSize: 32 * 1024 });
      const dumped = listLinks(sock).find((l) =>
        l.name === "big0"
      );
      assert(dumped !== undefined, "big0 missing from the dump");
      assertEquals(dumped.altNames, altNames);
      const single = getLink(sock, "big0");
      assertEquals(single.altNames.length, 330);
      const oracle =
        JSON.parse(run("ip", "-n", name, "-j", "link", "show", "big0"))[0];
      assertEquals(single.index, oracle.ifindex);
      assertEquals(oracle.altnames.length, 330);
    });
  },
);
