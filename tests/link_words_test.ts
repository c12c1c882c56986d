/**
 * `ip link add|set|del`'s words, as nsnet's link commands read them: where
 * the namespace ends and the link begins, what each kind takes, and the one
 * error a word out of place gives. No kernel: parsing only.
 */
import { assertEquals, assertThrows } from "./_assert.ts";
import {
  linkSpecOf,
  parseLinkAddWords,
  parseLinkDelWords,
  parseLinkSetWords,
} from "../lib/cli/link.ts";
import { InvalidArgumentError } from "../lib/errors.ts";

function add(line: string): [string | undefined, unknown] {
  const parsed = parseLinkAddWords(line.split(" "));
  // Compared as JSON prints it: a setting left out and one left undefined are the same.
  const spec = JSON.parse(
    JSON.stringify(linkSpecOf(parsed.value, parsed.netns)),
  );
  return [parsed.netns, spec];
}

Deno.test("link add: an ip line, with and without a namespace first", () => {
  assertEquals(add("ns1 v0 type veth peer name v1"), ["ns1", {
    name: "v0",
    up: false,
    kind: "veth",
    peer: { name: "v1" },
  }]);
  assertEquals(add("v0 type veth peer v1 mtu 1400")[0], undefined);
  assertEquals(add("br0 bridge"), [undefined, {
    name: "br0",
    up: false,
    kind: "bridge",
  }]);
  assertEquals(add("ns1 br0 bridge")[0], "ns1");
  // `link PARENT` and `name NAME` before the type, as ip's manual writes them.
  assertEquals(add("ns1 link eth0 name mv0 type macvlan mode vepa"), ["ns1", {
    name: "mv0",
    up: false,
    kind: "macvlan",
    parent: "eth0",
    mode: "vepa",
  }]);
  assertEquals(add("eth0 link v0 type macvtap")[0], undefined);
  assertEquals(add("ns1 mtu 1400 v0 type bridge")[0], "ns1");
  assertEquals(add("eth0 mtu 1400 up type bridge")[0], undefined);
});

Deno.test("link add: each kind's own words", () => {
  assertEquals(
    add(
      "vx0 type vxlan id 42 dstport 4790 local 10.0.0.1 group 239.1.1.1 " +
        "dev eth0 ttl auto tos inherit learning",
    )[1],
    {
      name: "vx0",
      up: false,
      kind: "vxlan",
      vni: 42,
      port: 4790,
      parent: "eth0",
      local: "10.0.0.1",
      remote: "239.1.1.1",
      ttl: 0,
      tos: 1,
      learning: true,
    },
  );
  assertEquals(add("v5 link eth0 type vlan id 5 protocol 802.1AD")[1], {
    name: "v5",
    up: false,
    kind: "vlan",
    parent: "eth0",
    id: 5,
    protocol: "802.1ad",
  });
  assertEquals(add("ip0 type ipvlan link eth0 mode l3s private")[1], {
    name: "ip0",
    up: false,
    kind: "ipvlan",
    parent: "eth0",
    mode: "l3s",
    flag: "private",
  });
  assertEquals(
    add("ifb0 address 02:00:00:00:00:01 master br0 up type ifb")[1],
    {
      name: "ifb0",
      mac: "02:00:00:00:00:01",
      up: true,
      master: "br0",
      kind: "ifb",
    },
  );
});

Deno.test("link add: a word out of place is one error naming it", () => {
  const cases: [string, string][] = [
    [
      "x type bridge bogus",
      '"bogus" is not a word nsnet link add takes for a bridge',
    ],
    [
      "x type vxlan id 1 mode l2",
      '"mode" is not a word nsnet link add takes for a vxlan',
    ],
    [
      "x type veth peer name y up",
      '"up" is not a word nsnet takes for a veth peer',
    ],
    [
      "x type vxlan id 1 name y",
      '"name" is not a word nsnet link add takes for a vxlan',
    ],
    ["x type vlan link eth0", "a vlan needs an id"],
    ["x type veth", "a veth needs a peer"],
    ["x type bridge txqueuelen 10", "cannot set the queue length"],
    ["x netns ns2 type bridge", "makes the link where it runs"],
    ["x type vxlan id 1 ttl 300", 'TTL "300" is not 0-255'],
    ["x type bridge type ifb", "the type is already bridge"],
    ["ns1 x", "the link x needs a type"],
  ];
  for (const [line, message] of cases) {
    assertThrows(() => add(line), InvalidArgumentError, message);
  }
});

Deno.test("link set: [NS] [dev] LINK and ip's changes", () => {
  assertEquals(parseLinkSetWords("eth0 up mtu 1400".split(" ")), {
    netns: undefined,
    value: {
      link: "eth0",
      changes: { up: true, mtu: 1400 },
      moveTo: undefined,
    },
  });
  assertEquals(
    parseLinkSetWords(
      "ns1 dev eth0 nomaster name wan0 address 02:00:00:00:00:02 netns ns2"
        .split(" "),
    ),
    {
      netns: "ns1",
      value: {
        link: "eth0",
        changes: { master: null, name: "wan0", mac: "02:00:00:00:00:02" },
        moveTo: "ns2",
      },
    },
  );
  assertEquals(parseLinkSetWords("up dev eth0".split(" ")).netns, undefined);
  assertEquals(parseLinkSetWords("ns1 up dev eth0".split(" ")).netns, "ns1");
  assertEquals(parseLinkSetWords(["3", "down"]).value.link, 3);
  for (
    const [line, message] of [
      ["ns1 eth0 up flap", '"flap" is not a word nsnet link set takes'],
      ["eth0 master br0 nomaster", '"nomaster" is said twice'],
      ["dev eth0 dev eth1", '"dev eth1" is said twice'],
      ["up", "which link?"],
    ] as const
  ) {
    assertThrows(
      () => parseLinkSetWords(line.split(" ")),
      InvalidArgumentError,
      message,
    );
  }
});

Deno.test("link del: [NS] [dev] LINK and nothing more", () => {
  assertEquals(parseLinkDelWords(["eth0"]), {
    netns: undefined,
    value: "eth0",
  });
  assertEquals(parseLinkDelWords(["dev", "eth0"]).value, "eth0");
  assertEquals(parseLinkDelWords(["ns1", "eth0"]), {
    netns: "ns1",
    value: "eth0",
  });
  assertEquals(parseLinkDelWords(["ns1", "dev", "7"]), {
    netns: "ns1",
    value: 7,
  });
  assertThrows(
    () => parseLinkDelWords(["ns1", "eth0", "extra"]),
    InvalidArgumentError,
    "is not one link",
  );
});
