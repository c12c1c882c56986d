/**
 * `nsnet link add|set|del` take `ip link`'s own words, so that a line from an
 * `ip` script works after `nsnet`: each link is made, changed and deleted
 * with ip's words and checked with `ip -j -d link`; a word nsnet does not
 * take is one clear error that creates nothing.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "./_assert.ts";
import { nsnet as nsnetProcess, nsTest, withNamespaces } from "./_helpers.ts";
import { cli } from "./_fixtures/cli.ts";
import { ipJson, type Json, nameOf } from "./_fixtures/netns.ts";
import { linkCommand } from "../lib/cli/link.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import type { NetNS } from "../lib/netns/netns.ts";

/** `nsnet link WORDS…` in-process, the words split on spaces as a shell would. */
function link(line: string): Promise<string> {
  return cli(linkCommand(), "link", ...line.split(" "));
}

function linkOf(ns: NetNS, name: string): Json {
  const found = ipJson(ns, "-d", "link", "show").find((l) => l.ifname === name);
  assert(found !== undefined, `no link ${name}`);
  return found;
}

function kindOf(l: Json): unknown {
  return (l.linkinfo as Json | undefined)?.info_kind;
}

function dataOf(l: Json): Json {
  return ((l.linkinfo as Json | undefined)?.info_data ?? {}) as Json;
}

function names(ns: NetNS): unknown[] {
  return ipJson(ns, "link", "show").map((l) => l.ifname);
}

nsTest(
  "nsnet link add|set|del: ip's own words make, change and delete links",
  async () => {
    await withNamespaces(2, async ([a, b]) => {
      const [na, nb] = [nameOf(a!), nameOf(b!)];
      // A veth pair with its peer in the other namespace.
      await link(`add ${na} v0 type veth peer name v1 netns ${nb}`);
      assertEquals(kindOf(linkOf(a!, "v0")), "veth");
      assertEquals(kindOf(linkOf(b!, "v1")), "veth");
      // A second pair, both ends here, the peer named without `name`.
      await link(`add ${na} p0 type veth peer p1`);
      assertEquals(kindOf(linkOf(a!, "p1")), "veth");
      await link(`add ${na} br0 type bridge`);
      assertEquals(kindOf(linkOf(a!, "br0")), "bridge");
      await link(`add ${na} link v0 name mv0 type macvlan mode private`);
      const mv0 = linkOf(a!, "mv0");
      assertEquals(kindOf(mv0), "macvlan");
      assertEquals(dataOf(mv0).mode, "private");
      assertEquals(mv0.link, "v0");
      await link(
        `add ${na} vx0 type vxlan id 42 dstport 4790 local 10.0.0.1 ` +
          "remote 10.0.0.2 dev v0 ttl 64 tos 0x10 nolearning",
      );
      const vx0 = dataOf(linkOf(a!, "vx0"));
      assertEquals(kindOf(linkOf(a!, "vx0")), "vxlan");
      assertEquals(
        [
          vx0.id,
          vx0.port,
          vx0.local,
          vx0.remote,
          vx0.link,
          vx0.ttl,
          vx0.learning,
        ],
        [42, 4790, "10.0.0.1", "10.0.0.2", "v0", 64, false],
      );
      assertEquals(vx0.tos, "0x10");
      // The kind without `type`, and common words with it.
      await link(`add ${na} ifb0 ifb mtu 1400 address 02:00:00:00:0b:01`);
      const ifb0 = linkOf(a!, "ifb0");
      assertEquals(
        [kindOf(ifb0), ifb0.mtu, ifb0.address],
        ["ifb", 1400, "02:00:00:00:0b:01"],
      );

      await link(`set ${na} dev v0 up mtu 1450 address 02:00:00:00:0b:02`);
      const v0 = linkOf(a!, "v0");
      assertEquals(v0.mtu, 1450);
      assertEquals(v0.address, "02:00:00:00:0b:02");
      assert((v0.flags as string[]).includes("UP"), "v0 is not up");
      await link(`set ${na} p0 master br0 up`);
      assertEquals(linkOf(a!, "p0").master, "br0");
      await link(`set ${na} p0 nomaster down`);
      const p0 = linkOf(a!, "p0");
      assertEquals(p0.master, undefined);
      assert(!(p0.flags as string[]).includes("UP"), "p0 is still up");
      await link(`set ${na} dev p1 name q1`);
      await link(`set ${na} q1 netns ${nb}`);
      assert(names(b!).includes("q1"), "q1 did not move");
      assert(!names(a!).includes("q1"), "q1 is still here");
      // Without a namespace word: -n still works, and `dev` alone names the link.
      await link(`set dev ifb0 up -n ${na}`);
      assert((linkOf(a!, "ifb0").flags as string[]).includes("UP"));

      await link(`del ${na} dev mv0`);
      await link(`del ${na} vx0`);
      await link(`del ifb0 -n ${na}`);
      await link(`del ${na} br0`);
      await link(`delete ${na} p0`);
      await link(`del ${na} v0`);
      assertEquals(names(a!), ["lo"]);
      assertEquals(names(b!), ["lo"]);
    });
  },
);

nsTest(
  "nsnet link: a word it does not take is one clear error and creates nothing",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      const n = nameOf(ns!);
      const cases: [string, string][] = [
        [
          `add ${n} x0 type bridge bogus`,
          '"bogus" is not a word nsnet link add takes for a bridge',
        ],
        [
          `add ${n} x1 type vxlan id 1 mode l2`,
          '"mode" is not a word nsnet link add takes for a vxlan',
        ],
        [
          `add ${n} x2 type veth peer name y2 up`,
          '"up" is not a word nsnet takes for a veth peer',
        ],
        [
          `add ${n} x3 type macvlan mode private`,
          "a macvlan needs a parent link",
        ],
        [
          `add ${n} x4 type macvlan link lo mode sideways`,
          'invalid macvlan mode "sideways"',
        ],
        [
          `add ${n} x5 type vxlan id 7 local nowhere`,
          'invalid local address "nowhere"',
        ],
        [`add ${n} x6 type frobnicator`, 'unknown link type "frobnicator"'],
        [`add ${n} x7 type bridge mtu`, '"mtu" needs a value'],
        [
          `add ${n} x8 frob type bridge`,
          `"frob" is not a word nsnet link add takes before the link's type`,
        ],
        [`add ${n} x9 type bridge -n ${n}`, `two namespaces: ${n} and -n ${n}`],
        [`set ${n} lo flap`, '"flap" is not a word nsnet link set takes'],
        [`set ${n} lo up down`, '"down" is said twice or contradicts itself'],
        [`del ${n} lo extra`, "is not one link"],
      ];
      for (const [line, message] of cases) {
        const error = await assertRejects(
          () => link(line),
          InvalidArgumentError,
        );
        assertStringIncludes(error.message, message, line);
      }
      assertEquals(names(ns!), ["lo"]);
      // The program itself: one line on stderr and a failure status, as for `nsnet route`.
      const out = await nsnetProcess(
        "link",
        "add",
        n,
        "x0",
        "type",
        "bridge",
        "bogus",
      );
      assertEquals(out.code, 1);
      assertStringIncludes(out.stderr, '"bogus"');
      assertEquals(out.stderr.trim().split("\n").length, 1, out.stderr);
      assertEquals(names(ns!), ["lo"]);
    });
  },
);
