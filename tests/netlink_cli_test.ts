/**
 * `nsnet link|addr|route`: enough to wire two namespaces together from a
 * shell script without `ip`; `ip -j` checks the result.
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { nsTest, run, withNamespaces } from "./_helpers.ts";
import { cliOf } from "./_fixtures/cli.ts";
import { addrCommand } from "../lib/cli/addr.ts";
import { linkCommand } from "../lib/cli/link.ts";
import { routeCommand } from "../lib/cli/route.ts";
import { LinkNotFoundError, NetlinkError } from "../lib/netlink/mod.ts";
import { ipJson, type Json, nameOf } from "./_fixtures/netns.ts";

/** `nsnet ARGS…` in-process with these commands; returns what it printed. */
const nsnet = cliOf(() => [linkCommand(), addrCommand(), routeCommand()]);

nsTest("nsnet link/addr/route: two namespaces wired without ip", async () => {
  await withNamespaces(2, async ([a, b]) => {
    const [na, nb] = [nameOf(a!), nameOf(b!)];
    await nsnet(
      "link",
      "add",
      "eth0",
      "--type",
      "veth",
      "-n",
      na,
      "--peer",
      "eth1",
      "--peer-netns",
      nb,
      "--mtu",
      "1400",
    );
    await nsnet("link", "set", "eth0", "-n", na, "--up");
    await nsnet(
      "link",
      "set",
      "eth1",
      "-n",
      b!.path,
      "--up",
      "--mac",
      "02:00:00:00:cc:01",
    );
    await nsnet("addr", "add", "10.123.0.1/24", "--dev", "eth0", "-n", na);
    await nsnet("addr", "add", "10.123.0.2/24", "--dev", "eth1", "-n", nb);
    await nsnet(
      "addr",
      "add",
      "fd00:123::1/64",
      "--dev",
      "eth0",
      "-n",
      na,
      "--nodad",
    );
    await nsnet("route", "add", "default", "--via", "10.123.0.2", "-n", na);
    await nsnet(
      "route",
      "add",
      "10.200.0.0/16",
      "--dev",
      "eth0",
      "--table",
      "100",
      "--metric",
      "5",
      "-n",
      na,
    );

    const eth1 = ipJson(b!, "link", "show", "eth1")[0]!;
    assertEquals([eth1.mtu, eth1.address], [1400, "02:00:00:00:cc:01"]);
    const addrs =
      (ipJson(a!, "addr", "show", "dev", "eth0")[0]!.addr_info as Json[])
        .filter((x) => x.scope === "global").map((x) =>
          `${x.local}/${x.prefixlen}`
        );
    assertEquals(addrs, ["10.123.0.1/24", "fd00:123::1/64"]);
    assert(
      ipJson(a!, "route", "show").some((r) =>
        r.dst === "default" && r.gateway === "10.123.0.2"
      ),
    );
    assertEquals(
      ipJson(a!, "route", "show", "table", "100").map((r) => [r.dst, r.metric]),
      [["10.200.0.0/16", 5]],
    );
    run("ip", "netns", "exec", na, "true"); // the namespace is usable by ip as well

    // --json is ip's JSON (ifname, stats64 with -s), not nsnet's Link.
    const links = JSON.parse(await nsnet("link", "list", na, "--json", "-s"));
    assertEquals(links.map((l: Json) => l.ifname), ["lo", "eth0"]);
    assert(links[1].stats64.rx.bytes >= 0);
    const table = (await nsnet("link", "list", na)).split("\n");
    assert(table[0]!.startsWith("INDEX  NAME  KIND"));
    assert(
      table.some((l) => /^\d+\s+eth0\s+veth\s+/.test(l)),
      table.join("\n"),
    );

    const v4 = JSON.parse(await nsnet("addr", "list", na, "-4", "--json"));
    assertEquals(
      v4.flatMap((l: Json) =>
        (l.addr_info as Json[]).map((x) =>
          `${l.ifname} ${x.local}/${x.prefixlen}`
        )
      ),
      ["eth0 10.123.0.1/24"],
    );
    const routes = JSON.parse(await nsnet("route", "list", na, "--json"));
    assert(
      routes.some((r: Json) =>
        r.dst === "default" && r.gateway === "10.123.0.2" &&
        r.dev === "eth0"
      ),
    );
    const all = JSON.parse(
      await nsnet("route", "list", na, "--table", "all", "--json"),
    );
    assert(
      all.length > routes.length && all.some((r: Json) => r.table === "100"),
    );
    assert(
      /^DESTINATION\s+GATEWAY\s+DEVICE/.test(await nsnet("route", "list", na)),
    );

    await nsnet(
      "route",
      "add",
      "default",
      "--via",
      "10.123.0.9",
      "--replace",
      "-n",
      na,
    );
    assertEquals(
      ipJson(a!, "route", "show").filter((r) => r.dst === "default").map((r) =>
        r.gateway
      ),
      ["10.123.0.9"],
    );
    await nsnet("route", "del", "default", "-n", na);
    await nsnet("addr", "del", "10.123.0.1/24", "--dev", "eth0", "-n", na);
    await nsnet("link", "set", "eth0", "-n", na, "--name", "wan0", "--down");
    assertEquals(ipJson(a!, "link", "show", "wan0")[0]!.operstate, "DOWN");
    await nsnet("link", "add", "br0", "-t", "bridge", "-n", na);
    await nsnet("link", "set", "wan0", "-n", na, "--master", "br0");
    assertEquals(ipJson(a!, "link", "show", "wan0")[0]!.master, "br0");
    await nsnet("link", "set", "wan0", "-n", na, "--move-to", nb);
    assert(ipJson(b!, "link", "show").some((l) => l.ifname === "wan0"));
    await nsnet("link", "del", "wan0", "-n", nb);
    assertEquals(ipJson(b!, "link", "show").map((l) => l.ifname), ["lo"]);
  });
});

nsTest("nsnet link/addr: errors are the typed netlink errors", async () => {
  await withNamespaces(1, async ([ns]) => {
    const n = nameOf(ns!);
    await assertRejects(
      () => nsnet("link", "del", "nope0", "-n", n),
      LinkNotFoundError,
    );
    await nsnet("link", "add", "i0", "-t", "ifb", "-n", n);
    await nsnet("addr", "add", "10.9.0.1/24", "--dev", "i0", "-n", n);
    const error = await assertRejects(
      () => nsnet("addr", "add", "10.9.0.1/24", "--dev", "i0", "-n", n),
      NetlinkError,
    );
    assertEquals(error.kernelMessage, "ipv4: Address already assigned");
  });
});
