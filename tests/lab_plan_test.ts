/**
 * Lab specs and plans, pure: what parseLabSpec rejects (the exact field and
 * message), what readLabSpecFile says about files, and what planLab makes of
 * chains, switches and mixed topologies (names, addresses, routes).
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertRejects,
  assertThrows,
} from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { validateNSName } from "../lib/netns/name.ts";
import {
  labAddress,
  labLinkBetween,
  labNetnsPrefix,
  labNodeNetns,
  labSwitchNetns,
  MAX_LAB_NETNS_BYTES,
  planLab,
} from "../lib/lab/plan.ts";
import {
  LabSpecError,
  MAX_SPEC_BYTES,
  parseImpairment,
  parseLabSpec,
  readLabSpecFile,
  validateLabName,
} from "../lib/lab/spec.ts";
import type {
  LabPlan,
  LabSpec,
  PlannedNode,
  PlannedRoute,
} from "../lib/lab/types.ts";
import {
  type IPPrefix,
  parsePrefix,
  prefixContains,
} from "../lib/netlink/ip_address.ts";

const CHAIN: LabSpec = {
  nodes: { a: {}, r: { router: true }, b: {} },
  links: [
    { ends: ["a", "r"], rate: "20mbit" },
    { ends: ["r", "b"], loss: "20%", delay: "10ms", jitter: "2ms" },
  ],
};

function node(plan: LabPlan, name: string): PlannedNode {
  const found = plan.nodes.find((n) => n.name === name);
  assert(found !== undefined, `node ${name} planned`);
  return found;
}

/** The ULA /64 prefix of a plan's first segment, e.g. `fd77:2a97:`. */
function ulaHead(plan: LabPlan): string {
  const subnet6 = plan.segments[0]!.subnet6!;
  const groups = subnet6.split(":");
  return `${groups[0]}:${groups[1]}:`;
}

nsTest("lab plan: the 3-node chain of the issue", () => {
  const plan = planLab(CHAIN, "demo");
  assertEquals(plan.name, "demo");
  assertEquals(plan.nodes.map((n) => [n.name, n.netns, n.router]), [
    ["a", "nsnet-lab-demo.a", false],
    ["r", "nsnet-lab-demo.r", true],
    ["b", "nsnet-lab-demo.b", false],
  ]);
  const h = ulaHead(plan);
  assertMatch(h, /^fd77:[0-9a-f]{1,4}:$/);
  assertEquals(plan.segments, [
    {
      id: "link:0",
      kind: "link",
      nodes: ["a", "r"],
      subnet: "10.77.0.0/24",
      subnet6: `${h}:/64`,
      impairment: { rate: "20mbit" },
    },
    {
      id: "link:1",
      kind: "link",
      nodes: ["r", "b"],
      subnet: "10.77.1.0/24",
      subnet6: `${h}0:1::/64`,
      impairment: { loss: "20%", delay: "10ms", jitter: "2ms" },
    },
  ]);
  const a = node(plan, "a");
  assertEquals(a.interfaces, [
    {
      name: "eth0",
      segment: "link:0",
      addresses: ["10.77.0.1/24", `${h}:1/64`],
    },
  ]);
  // a reaches b's subnet through r, on both families.
  assertEquals(a.routes, [
    { destination: "10.77.1.0/24", via: "10.77.0.2", dev: "eth0" },
    { destination: `${h}0:1::/64`, via: `${h}:2`, dev: "eth0" },
  ]);
  const r = node(plan, "r");
  assertEquals(r.interfaces.map((i) => [i.name, i.segment, i.addresses]), [
    ["eth0", "link:0", ["10.77.0.2/24", `${h}:2/64`]],
    ["eth1", "link:1", ["10.77.1.1/24", `${h}0:1::1/64`]],
  ]);
  assertEquals(r.routes, [], "r is on every subnet");
  // b back through r.
  assertEquals(node(plan, "b").routes, [
    { destination: "10.77.0.0/24", via: "10.77.1.1", dev: "eth0" },
    { destination: `${h}:/64`, via: `${h}0:1::1`, dev: "eth0" },
  ]);
  assertEquals(labAddress(plan, "b"), "10.77.1.2");
  assertEquals(labAddress(plan, "b", { family: 6 }), `${h}0:1::2`);
  assertEquals(labAddress(plan, "r", { towards: "b" }), "10.77.1.1");
  assertEquals(labAddress(plan, "r", { towards: "a" }), "10.77.0.2");
  assertEquals(labLinkBetween(plan, "b", "r")?.id, "link:1");
  assertEquals(labLinkBetween(plan, "a", "b"), undefined);
});

nsTest(
  "lab plan: without a router in the middle, only the middle is reached",
  () => {
    const plan = planLab({ ...CHAIN, nodes: { a: {}, r: {}, b: {} } }, "x");
    // r forwards nothing, but its own address on the far link is one hop away.
    assertEquals(node(plan, "a").routes.map((r) => [r.destination, r.via]), [
      ["10.77.1.0/24", "10.77.0.2"],
      [
        plan.segments[1]!.subnet6,
        plan.segments[0]!.subnet6!.replace("/64", "2"),
      ],
    ]);
    assertEquals(node(plan, "r").routes, []);
    assertEquals(node(plan, "b").routes.map((r) => r.via)[0], "10.77.1.1");
    // Through two non-routers, nothing at all.
    const longer = planLab({
      nodes: { a: {}, m: {}, n: {}, b: {} },
      links: [{ ends: ["a", "m"] }, { ends: ["m", "n"] }, { ends: ["n", "b"] }],
      ipv6: false,
    }, "x");
    assertEquals(node(longer, "a").routes.map((r) => r.destination), [
      "10.77.1.0/24",
    ]);
  },
);

nsTest("lab plan: a switch with 5 nodes, all on one subnet", () => {
  const names = ["n1", "n2", "n3", "n4", "n5"];
  const plan = planLab({
    nodes: Object.fromEntries(names.map((n) => [n, {}])),
    switches: { s1: { nodes: names, loss: "1%" } },
  }, "star");
  const h = ulaHead(plan);
  assertEquals(plan.segments, [{
    id: "switch:s1",
    kind: "switch",
    nodes: names,
    subnet: "10.77.0.0/24",
    subnet6: `${h}:/64`,
    impairment: { loss: "1%" },
    netns: "nsnet-lab-star.sw.s1",
    bridge: "br0",
    ports: ["port0", "port1", "port2", "port3", "port4"],
  }]);
  names.forEach((name, k) => {
    const n = node(plan, name);
    assertEquals(n.interfaces, [{
      name: "eth0",
      segment: "switch:s1",
      addresses: [`10.77.0.${k + 1}/24`, `${h}:${k + 1}/64`],
    }]);
    assertEquals(n.routes, [], "members reach each other directly");
  });
  assertEquals(labAddress(plan, "n4", { towards: "n1" }), "10.77.0.4");
});

nsTest(
  "lab plan: links first, then switches, in each node's interfaces",
  () => {
    const plan = planLab({
      nodes: { a: {}, b: {}, c: {} },
      switches: { s: { nodes: ["c", "a"] } },
      links: [{ ends: ["b", "a"] }],
    }, "order");
    assertEquals(
      node(plan, "a").interfaces.map((
        i,
      ) => [i.name, i.segment, i.addresses[0]]),
      [["eth0", "link:0", "10.77.0.2/24"], [
        "eth1",
        "switch:s",
        "10.77.1.2/24",
      ]],
    );
    assertEquals(node(plan, "c").interfaces.map((i) => i.addresses[0]), [
      "10.77.1.1/24",
    ]);
  },
);

nsTest("lab plan: the shortest path avoids a non-router", () => {
  // a - n - c - d is shortest, but n forwards nothing: a goes a - r1 - r2 - c.
  const plan = planLab({
    nodes: {
      a: {},
      n: {},
      r1: { router: true },
      r2: { router: true },
      c: { router: true },
      d: {},
    },
    links: [
      { ends: ["a", "n"] }, // 10.77.0.0/24
      { ends: ["n", "c"] }, // 10.77.1.0/24
      { ends: ["a", "r1"] }, // 10.77.2.0/24
      { ends: ["r1", "r2"] }, // 10.77.3.0/24
      { ends: ["r2", "c"] }, // 10.77.4.0/24
      { ends: ["c", "d"] }, // 10.77.5.0/24
    ],
    ipv6: false,
  }, "mixed");
  const routes = (name: string): string[] =>
    node(plan, name).routes.map((r) => `${r.destination} ${r.via} ${r.dev}`);
  assertEquals(routes("a"), [
    "10.77.1.0/24 10.77.0.2 eth0", // n's own address there: n is the end
    "10.77.3.0/24 10.77.2.2 eth1",
    "10.77.4.0/23 10.77.2.2 eth1", // 4 and 5, not through n
  ]);
  assertEquals(routes("d"), [
    "10.77.0.0/22 10.77.5.1 eth0", // 0 to 3, merged
    "10.77.4.0/24 10.77.5.1 eth0",
  ]);
  // n is no router: only its neighbours' subnets are one hop away.
  assertEquals(routes("n"), [
    "10.77.2.0/24 10.77.0.1 eth0",
    "10.77.3.0/24 10.77.1.2 eth1",
    "10.77.4.0/23 10.77.1.2 eth1",
  ]);
  // r1 reaches a - n at a (one hop, a is on it) but n - c through r2 and c,
  // not through a, which forwards nothing.
  assertEquals(routes("r1"), [
    "10.77.0.0/24 10.77.2.1 eth0",
    "10.77.1.0/24 10.77.3.2 eth1",
    "10.77.4.0/23 10.77.3.2 eth1",
  ]);
  assertEquals(labAddress(plan, "d", { towards: "a" }), "10.77.5.2");
  assertEquals(labAddress(plan, "c", { towards: "a" }), "10.77.1.2");
});

nsTest(
  "lab plan: ties go to the first interface, and unreachable subnets get no route",
  () => {
    // a reaches d's subnet through r1 or r2, both two hops: r1's link is first.
    const plan = planLab({
      nodes: {
        a: {},
        r1: { router: true },
        r2: { router: true },
        d: {},
        island: {},
        alone: {},
        z: {},
      },
      links: [
        { ends: ["a", "r2"] },
        { ends: ["r1", "d"] },
        { ends: ["r2", "d"] },
        { ends: ["a", "r1"] },
        { ends: ["island", "z"] },
      ],
      ipv6: false,
    }, "ties");
    const a = node(plan, "a");
    assertEquals(a.routes, [
      { destination: "10.77.1.0/24", via: "10.77.3.2", dev: "eth1" },
      { destination: "10.77.2.0/24", via: "10.77.0.2", dev: "eth0" },
    ]);
    assertEquals(node(plan, "island").routes, []);
    assertEquals(node(plan, "alone").interfaces, []);
    assertEquals(node(plan, "alone").routes, []);
    assertThrows(
      () => labAddress(plan, "alone"),
      InvalidArgumentError,
      "has no IPv4 address",
    );
    assertThrows(
      () => labAddress(plan, "ghost"),
      InvalidArgumentError,
      `no node named "ghost"`,
    );
  },
);

nsTest("lab plan: given subnets and addresses are kept and skipped", () => {
  const plan = planLab({
    nodes: { a: {}, b: {}, c: {}, d: {} },
    links: [
      { ends: ["a", "b"] },
      {
        ends: ["b", "c"],
        subnet: "10.77.0.0/24",
        addresses: ["10.77.0.2", "10.77.0.9/24"],
      },
      { ends: ["c", "d"], addresses: ["10.77.1.1/24", "10.77.1.200/24"] },
      { ends: ["a", "d"] },
      { ends: ["a", "c"], subnet: "10.77.2.0/30" },
    ],
    switches: {
      s: { nodes: ["a", "b", "c"], addresses: { b: "10.77.3.1/24" } },
      t: {
        nodes: ["b", "d"],
        subnet: "10.77.200.0/24",
        addresses: { d: "10.77.200.1" },
      },
    },
    ipv6: false,
  }, "given");
  assertEquals(plan.segments.map((s) => s.subnet), [
    "10.77.4.0/24", // 0, 1, 2 and 3 are given or taken from addresses
    "10.77.0.0/24",
    "10.77.1.0/24",
    "10.77.5.0/24",
    "10.77.2.0/30",
    "10.77.3.0/24",
    "10.77.200.0/24",
  ]);
  const addr = (name: string, segment: string): string | undefined =>
    node(plan, name).interfaces.find((i) => i.segment === segment)
      ?.addresses[0];
  assertEquals(addr("a", "link:0"), "10.77.4.1/24");
  assertEquals(addr("b", "link:1"), "10.77.0.2/24");
  assertEquals(addr("c", "link:1"), "10.77.0.9/24");
  assertEquals(addr("d", "link:2"), "10.77.1.200/24");
  assertEquals(addr("a", "link:4"), "10.77.2.1/30");
  assertEquals(addr("c", "link:4"), "10.77.2.2/30");
  // b holds .1 of s: a and c get the lowest free ones, in order.
  assertEquals(addr("a", "switch:s"), "10.77.3.2/24");
  assertEquals(addr("b", "switch:s"), "10.77.3.1/24");
  assertEquals(addr("c", "switch:s"), "10.77.3.3/24");
  assertEquals(addr("b", "switch:t"), "10.77.200.2/24");
  assertEquals(addr("d", "switch:t"), "10.77.200.1/24");
});

nsTest("lab plan: node names that are also Object's own names", () => {
  const plan = planLab({
    nodes: { constructor: {}, toString: { router: true }, hasOwnProperty: {} },
    links: [{ ends: ["constructor", "toString"] }],
    switches: {
      valueOf: { nodes: ["toString", "hasOwnProperty"], addresses: {} },
    },
  }, "proto");
  assertEquals(
    plan.nodes.map((n) => n.interfaces.map((i) => i.addresses[0])),
    [["10.77.0.1/24"], ["10.77.0.2/24", "10.77.1.1/24"], ["10.77.1.2/24"]],
  );
  assertEquals(node(plan, "constructor").routes[0]?.via, "10.77.0.2");
});

nsTest("lab plan: another pool, and ipv6 off", () => {
  const plan = planLab({
    nodes: { a: {}, b: {} },
    links: [{ ends: ["a", "b"] }],
    pool: "192.168.0.0/23",
    ipv6: false,
  }, "p");
  assertEquals(plan.segments[0]!.subnet, "192.168.0.0/24");
  assertEquals(plan.segments[0]!.subnet6, undefined);
  assertEquals(node(plan, "a").interfaces[0]!.addresses, ["192.168.0.1/24"]);
  assertThrows(
    () => labAddress(plan, "a", { family: 6 }),
    InvalidArgumentError,
    "has no IPv6 address",
  );
});

nsTest("lab plan: deterministic, and named after the lab", () => {
  const one = planLab(CHAIN, "demo");
  const two = planLab(structuredClone(CHAIN), "demo");
  assertEquals(JSON.stringify(one), JSON.stringify(two));
  const other = planLab(CHAIN, "demo2");
  assert(ulaHead(other) !== ulaHead(one), "another lab, another ULA prefix");
  assertEquals(node(other, "a").netns, "nsnet-lab-demo2.a");
  // The spec given is not changed.
  assertEquals(CHAIN.links![0], { ends: ["a", "r"], rate: "20mbit" });
});

nsTest(
  "lab plan: long lab names get a short hashed prefix that still fits",
  () => {
    const long = "a-very-long-lab-name-for-ci-job-123456";
    const prefix = labNetnsPrefix(long);
    assertMatch(prefix, /^nsnet-lab-a-very-l~[0-9a-f]{8}\.$/);
    assertEquals(labNetnsPrefix(long), prefix, "deterministic");
    assert(labNetnsPrefix(long + "x") !== prefix);
    const max = "x".repeat(63);
    for (const lab of ["demo", "abcdefghijklmnopq", long, max]) {
      for (
        const ns of [
          labNodeNetns(lab, "n".repeat(15)),
          labSwitchNetns(lab, "s".repeat(15)),
        ]
      ) {
        validateNSName(ns);
        assert(ns.length <= MAX_LAB_NETNS_BYTES, `${ns} fits`);
        assert(ns.startsWith(labNetnsPrefix(lab)));
      }
    }
    assertEquals(
      labNetnsPrefix("abcdefghijklmnopq"),
      "nsnet-lab-abcdefghijklmnopq.",
    );
    const plan = planLab({
      nodes: { a: {} },
      switches: { s: { nodes: ["a"] } },
    }, long);
    assertEquals(plan.nodes[0]!.netns, `${prefix}a`);
    assertEquals(plan.segments[0]!.netns, `${prefix}sw.s`);
  },
);

nsTest("lab plan: bad lab names", () => {
  for (const bad of ["", "a.b", "-x", "a b", "x".repeat(64), "ü"]) {
    const error = assertThrows(() => validateLabName(bad), LabSpecError);
    assertMatch(error.message, /^invalid lab name /);
    assertThrows(() => planLab(CHAIN, bad), LabSpecError, "invalid lab name");
  }
});

nsTest("lab plan: a 200-node chain plans in linear time", () => {
  const chain = (n: number): LabSpec => ({
    nodes: Object.fromEntries(
      Array.from({ length: n }, (_, i) => [`n${i}`, { router: true }]),
    ),
    links: Array.from(
      { length: n - 1 },
      (_, i) => ({ ends: [`n${i}`, `n${i + 1}`] as [string, string] }),
    ),
  });
  const started = performance.now();
  const plan = planLab(chain(200), "long");
  const took = performance.now() - started;
  assertEquals(plan.segments.length, 199);
  assertEquals(plan.segments[198]!.subnet, "10.77.198.0/24");
  const first = plan.nodes[0]!;
  // 198 subnets on one side, merged: a prefix per set bit of the run, not
  // one route each (2·198), so that the whole chain has n·log n routes.
  assert(
    first.routes.length <= 2 * 2 * 8,
    `${first.routes.length} routes`,
  );
  assert(first.routes.every((r) => r.dev === "eth0"));
  const last = plan.nodes[199]!;
  assertEquals(last.routes[0], {
    destination: "10.77.0.0/17",
    via: "10.77.198.1",
    dev: "eth0",
  });
  const total = plan.nodes.reduce((sum, n) => sum + n.routes.length, 0);
  assert(total < 200 * 2 * 2 * 8, `${total} routes in all`);
  assert(took < 2000, `planned in ${took.toFixed(0)} ms`);
});

// ------------------------------------------------------------ bad specs

const NODES = { a: {}, r: { router: true }, b: {} };

const BAD: [string, unknown, string, string][] = [
  ["not an object", [], "", `must be an object (a lab spec`],
  [
    "unknown top key",
    { nodes: NODES, link: [] },
    "link",
    `unknown key (did you mean "links"?)`,
  ],
  ["no nodes", {}, "nodes", "is missing"],
  ["empty nodes", { nodes: {} }, "nodes", "has no nodes"],
  ["nodes an array", { nodes: ["a"] }, "nodes", "must be an object"],
  [
    "bad node name",
    { nodes: { "a b": {} } },
    `nodes["a b"]`,
    `"a b" is not a valid node name: it may hold only letters, digits, - and _, and starts with a letter or digit`,
  ],
  [
    "long node name",
    { nodes: { abcdefghijklmnop: {} } },
    "nodes.abcdefghijklmnop",
    `"abcdefghijklmnop" is not a valid node name: it is 16 bytes long, the limit is 15`,
  ],
  [
    "node key typo",
    { nodes: { r: { routr: true } } },
    "nodes.r.routr",
    `unknown key (did you mean "router"?)`,
  ],
  [
    "router not boolean",
    { nodes: { r: { router: "yes" } } },
    "nodes.r.router",
    `must be true or false, not the string "yes"`,
  ],
  [
    "links not an array",
    { nodes: NODES, links: {} },
    "links",
    "must be an array of links",
  ],
  [
    "link without ends",
    { nodes: NODES, links: [{}] },
    "links[0].ends",
    "is missing",
  ],
  [
    "link with one end",
    { nodes: NODES, links: [{ ends: ["a"] }] },
    "links[0].ends",
    "must name exactly two nodes",
  ],
  [
    "unknown node",
    { nodes: NODES, links: [{ ends: ["a", "x"] }] },
    "links[0].ends[1]",
    `no node named "x" (nodes: a, r, b)`,
  ],
  [
    "link to itself",
    { nodes: NODES, links: [{ ends: ["a", "r"] }, { ends: ["a", "a"] }] },
    "links[1].ends",
    `"a" is joined to itself (a link joins two different nodes)`,
  ],
  [
    "two links between one pair",
    { nodes: NODES, links: [{ ends: ["a", "r"] }, { ends: ["r", "a"] }] },
    "links[1].ends",
    `"r" and "a" are already joined by links[0]`,
  ],
  [
    "rate typo",
    { nodes: NODES, links: [{ ends: ["a", "r"], rtae: "1mbit" }] },
    "links[0].rtae",
    `unknown key (did you mean "rate"?)`,
  ],
  [
    "rate in bytes",
    {
      nodes: NODES,
      links: [{ ends: ["a", "r"] }, { ends: ["r", "b"] }, {
        ends: ["a", "b"],
        rate: "20mbps",
      }],
    },
    "links[2].rate",
    `"20mbps" is not a rate (use tc's words: 20mbit, 512kbit; tc reads "mbps" as bytes per second: write 160mbit if that was meant)`,
  ],
  [
    "rate nonsense",
    { nodes: NODES, links: [{ ends: ["a", "r"], rate: "fast" }] },
    "links[0].rate",
    `"fast" is not a rate (use tc's words: 20mbit, 512kbit)`,
  ],
  [
    "zero rate",
    { nodes: NODES, links: [{ ends: ["a", "r"], rate: "0kbit" }] },
    "links[0].rate",
    `"0kbit" is no rate at all`,
  ],
  [
    "rate a number",
    { nodes: NODES, links: [{ ends: ["a", "r"], rate: 20 }] },
    "links[0].rate",
    `must be a string such as "20mbit", not number 20`,
  ],
  [
    "loss over 100%",
    { nodes: NODES, links: [{ ends: ["a", "r"], loss: "120%" }] },
    "links[0].loss",
    `"120%" is not a percentage between 0% and 100%`,
  ],
  [
    "corrupt not a percentage",
    { nodes: NODES, links: [{ ends: ["a", "r"], corrupt: "a lot" }] },
    "links[0].corrupt",
    `"a lot" is not a percentage between 0% and 100%`,
  ],
  [
    "bad delay",
    { nodes: NODES, links: [{ ends: ["a", "r"], delay: "10 minutes" }] },
    "links[0].delay",
    `"10 minutes" is not a time (use tc's words: 10ms, 1s, 500us)`,
  ],
  [
    "jitter without delay",
    { nodes: NODES, links: [{ ends: ["a", "r"], jitter: "2ms" }] },
    "links[0].jitter",
    `needs "delay"`,
  ],
  [
    "reorder without delay",
    { nodes: NODES, links: [{ ends: ["a", "r"], reorder: "25%" }] },
    "links[0].reorder",
    `needs "delay"`,
  ],
  [
    "from not an end",
    { nodes: NODES, links: [{ ends: ["a", "r"], from: "b" }] },
    "links[0].from",
    `"b" is not one of the link's ends (a, r)`,
  ],
  [
    "addresses not two",
    {
      nodes: NODES,
      links: [{ ends: ["a", "r"], addresses: ["10.77.0.1/24"] }],
    },
    "links[0].addresses",
    "must give the two ends' addresses",
  ],
  [
    "address not IP",
    {
      nodes: NODES,
      links: [{ ends: ["a", "r"], addresses: ["10.77.0.1/24", "ten"] }],
    },
    "links[0].addresses[1]",
    `"ten" is not an IPv4 address`,
  ],
  [
    "address IPv6",
    {
      nodes: NODES,
      links: [{ ends: ["a", "r"], addresses: ["fd00::1/64", "fd00::2/64"] }],
    },
    "links[0].addresses[0]",
    `"fd00::1/64" is IPv6`,
  ],
  [
    "address outside its subnet",
    {
      nodes: NODES,
      links: [{
        ends: ["a", "r"],
        subnet: "10.77.0.0/24",
        addresses: ["10.77.1.1/24", "10.77.0.2"],
      }],
    },
    "links[0].addresses[0]",
    "10.77.1.1 is not inside the link's subnet 10.77.0.0/24 (give an address of 10.77.0.0/24, or change the subnet)",
  ],
  [
    "address with another prefix",
    {
      nodes: NODES,
      links: [{
        ends: ["a", "r"],
        subnet: "10.77.0.0/24",
        addresses: ["10.77.0.1/16", "10.77.0.2"],
      }],
    },
    "links[0].addresses[0]",
    `"10.77.0.1/16" has prefix /16, but the link's subnet is 10.77.0.0/24 (write 10.77.0.1/24)`,
  ],
  [
    "bare addresses, no subnet",
    {
      nodes: NODES,
      links: [{ ends: ["a", "r"], addresses: ["10.77.0.1", "10.77.0.2"] }],
    },
    "links[0].addresses[0]",
    `"10.77.0.1" has no prefix length (write e.g. 10.77.0.1/24, or give links[0].subnet)`,
  ],
  [
    "network address",
    {
      nodes: NODES,
      links: [{
        ends: ["a", "r"],
        subnet: "10.77.0.0/24",
        addresses: ["10.77.0.0", "10.77.0.2"],
      }],
    },
    "links[0].addresses[0]",
    "10.77.0.0 is the network address of 10.77.0.0/24 (give a host address, 10.77.0.1 to 10.77.0.254)",
  ],
  [
    "broadcast address",
    {
      nodes: NODES,
      links: [{
        ends: ["a", "r"],
        subnet: "10.77.0.0/24",
        addresses: ["10.77.0.1", "10.77.0.255"],
      }],
    },
    "links[0].addresses[1]",
    "10.77.0.255 is the broadcast address of 10.77.0.0/24",
  ],
  [
    "duplicate address in a link",
    {
      nodes: NODES,
      links: [{
        ends: ["a", "r"],
        addresses: ["10.77.0.1/24", "10.77.0.1/24"],
      }],
    },
    "links[0].addresses[1]",
    "10.77.0.1 is already the address of links[0].addresses[0] (every address in a lab is used once)",
  ],
  [
    "duplicate address across the lab",
    {
      nodes: NODES,
      links: [{
        ends: ["a", "r"],
        addresses: ["10.77.0.1/24", "10.77.0.2/24"],
      }],
      switches: { s: { nodes: ["a", "b"], addresses: { b: "10.77.0.2/24" } } },
    },
    "switches.s.addresses.b",
    "10.77.0.2 is already the address of links[0].addresses[1]",
  ],
  [
    "subnet with host bits",
    { nodes: NODES, links: [{ ends: ["a", "r"], subnet: "10.77.0.1/24" }] },
    "links[0].subnet",
    `"10.77.0.1/24" has host bits set (did you mean 10.77.0.0/24?)`,
  ],
  [
    "subnet /31",
    { nodes: NODES, links: [{ ends: ["a", "r"], subnet: "10.77.0.0/31" }] },
    "links[0].subnet",
    `"10.77.0.0/31" has prefix /31, it must be /8 to /30 (a /31 or /32 leaves no room for two hosts)`,
  ],
  [
    "subnet IPv6",
    { nodes: NODES, links: [{ ends: ["a", "r"], subnet: "fd00::/64" }] },
    "links[0].subnet",
    `"fd00::/64" is IPv6`,
  ],
  [
    "subnet without prefix",
    { nodes: NODES, links: [{ ends: ["a", "r"], subnet: "10.77.0.0" }] },
    "links[0].subnet",
    `"10.77.0.0" has no prefix length (write it as CIDR, e.g. 10.77.0.0/24)`,
  ],
  [
    "overlapping subnets",
    {
      nodes: NODES,
      links: [{ ends: ["a", "r"], subnet: "10.77.0.0/23" }, {
        ends: ["r", "b"],
        subnet: "10.77.1.0/24",
      }],
    },
    "links[1].subnet",
    "10.77.1.0/24 overlaps links[0]'s subnet 10.77.0.0/23 (the subnets of a lab are disjoint)",
  ],
  [
    "subnet outside the pool",
    { nodes: NODES, links: [{ ends: ["a", "r"], subnet: "192.168.1.0/24" }] },
    "links[0].subnet",
    `192.168.1.0/24 is not inside the pool 10.77.0.0/16 (give a subnet of the pool, or set "pool" to a range that holds it)`,
  ],
  [
    "addresses outside the pool",
    {
      nodes: NODES,
      links: [{
        ends: ["a", "r"],
        addresses: ["192.168.1.1/24", "192.168.1.2/24"],
      }],
    },
    "links[0].addresses[0]",
    "192.168.1.0/24 is not inside the pool 10.77.0.0/16",
  ],
  [
    "bad pool",
    { nodes: NODES, pool: "10.77.0.0/25" },
    "pool",
    `"10.77.0.0/25" has prefix /25, it must be /8 to /24 (the pool hands out a /24 to each link and switch)`,
  ],
  [
    "pool full",
    {
      nodes: NODES,
      pool: "10.0.0.0/24",
      links: [{ ends: ["a", "r"] }],
      switches: { s: { nodes: ["a", "b"] } },
    },
    "switches.s",
    `no /24 is left for it in the pool 10.0.0.0/24 (set a larger "pool", e.g. 10.0.0.0/8, or give it a "subnet")`,
  ],
  [
    "pool full because of a given subnet",
    {
      nodes: NODES,
      pool: "10.1.0.0/24",
      links: [{ ends: ["a", "r"] }, {
        ends: ["r", "b"],
        subnet: "10.1.0.0/25",
      }],
    },
    "links[0]",
    "no /24 is left for it in the pool 10.1.0.0/24",
  ],
  [
    "switch subnet too small",
    {
      nodes: NODES,
      switches: { s: { nodes: ["a", "r", "b"], subnet: "10.77.5.0/30" } },
    },
    "switches.s.subnet",
    "10.77.5.0/30 has 2 host addresses, the switch has 3 members (use a larger subnet, e.g. a /24)",
  ],
  [
    "ipv6 not boolean",
    { nodes: NODES, ipv6: "no" },
    "ipv6",
    "must be true or false",
  ],
  [
    "switches an array",
    { nodes: NODES, switches: [] },
    "switches",
    "must be an object (the switches by name",
  ],
  [
    "bad switch name",
    { nodes: NODES, switches: { "s.1": { nodes: ["a"] } } },
    `switches["s.1"]`,
    `"s.1" is not a valid switch name`,
  ],
  [
    "switch without nodes",
    { nodes: NODES, switches: { s: {} } },
    "switches.s.nodes",
    "is missing",
  ],
  [
    "switch with no nodes",
    { nodes: NODES, switches: { s: { nodes: [] } } },
    "switches.s.nodes",
    "is empty",
  ],
  [
    "switch lists a node twice",
    { nodes: NODES, switches: { s: { nodes: ["a", "b", "a"] } } },
    "switches.s.nodes[2]",
    `"a" is listed twice (also switches.s.nodes[0]; a node joins a switch once)`,
  ],
  [
    "switch lists an unknown node",
    { nodes: NODES, switches: { s: { nodes: ["a", "q"] } } },
    "switches.s.nodes[1]",
    `no node named "q" (nodes: a, r, b)`,
  ],
  [
    "switch address of a non-member",
    {
      nodes: NODES,
      switches: { s: { nodes: ["a", "b"], addresses: { r: "10.77.0.9/24" } } },
    },
    "switches.s.addresses.r",
    `"r" is not a member of switch "s" (members: a, b)`,
  ],
  [
    "switch from",
    { nodes: NODES, switches: { s: { nodes: ["a", "b"], from: "a" } } },
    "switches.s.from",
    "unknown key (the keys here are",
  ],
  [
    "switch jitter without delay",
    { nodes: NODES, switches: { s: { nodes: ["a", "b"], jitter: "1ms" } } },
    "switches.s.jitter",
    `needs "delay"`,
  ],
];

nsTest("lab spec: each mistake is one error naming the field", () => {
  const wrong: string[] = [];
  for (const [what, spec, field, problem] of BAD) {
    const error = assertThrows(
      () => parseLabSpec(spec, "lab.json"),
      LabSpecError,
    );
    assertInstanceOf(error, InvalidArgumentError);
    const prefix = field === "" ? "lab.json: " : `lab.json: ${field}: `;
    if (
      error.field !== field || error.source !== "lab.json" ||
      !error.message.startsWith(prefix + problem)
    ) {
      wrong.push(`${what}: got ${JSON.stringify(error.message)}`);
    }
    // planLab checks a spec written in code the same way.
    const again = assertThrows(
      () => planLab(spec as LabSpec, "x"),
      LabSpecError,
    );
    if (again.field !== field) wrong.push(`${what} (planLab): ${again.field}`);
  }
  assertEquals(wrong, []);
});

nsTest(
  "lab spec: good specs come back clean, unknown nodes allowed alone",
  () => {
    assertEquals(parseLabSpec(CHAIN), CHAIN);
    const spec = parseLabSpec({
      nodes: { a: {}, b: { uplink: true }, lonely: {} },
      links: [{
        ends: ["a", "b"],
        from: "b",
        duplicate: "1%",
        delay: "5ms",
        reorder: "10%",
      }],
      switches: { s: { nodes: ["a"], rate: "1gbit" } },
      pool: "10.0.0.0/8",
      ipv6: false,
    });
    assertEquals(spec.links![0]!.from, "b");
    assertEquals(spec.nodes.lonely, {});
    assertEquals(spec.switches!.s!.rate, "1gbit");
  },
);

nsTest("lab spec: parseImpairment for live changes", () => {
  assertEquals(parseImpairment({ loss: "5%", rate: "1mbit" }), {
    rate: "1mbit",
    loss: "5%",
  });
  assertEquals(parseImpairment({}), {});
  assertThrows(
    () => parseImpairment({ los: "5%" }),
    LabSpecError,
    `impairment.los: unknown key (did you mean "loss"?)`,
  );
  assertThrows(
    () => parseImpairment({ ends: ["a", "b"] }, "--loss"),
    LabSpecError,
    "--loss.ends: unknown key",
  );
  assertThrows(
    () => parseImpairment({ jitter: "1ms" }),
    LabSpecError,
    `impairment.jitter: needs "delay"`,
  );
});

// ------------------------------------------------------------ files

async function withFile(
  content: string | Uint8Array,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({
    dir: "/tmp",
    prefix: "nsnet-lab-spec-",
  });
  try {
    const path = `${dir}/lab.json`;
    await Deno.writeFile(
      path,
      typeof content === "string" ? new TextEncoder().encode(content) : content,
    );
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

nsTest("lab spec file: read, and its errors name the file", async () => {
  await withFile(JSON.stringify(CHAIN, null, 2), async (path) => {
    assertEquals(await readLabSpecFile(path), CHAIN);
  });
  await withFile(
    JSON.stringify({ nodes: { a: {} }, links: [{ ends: ["a", "b"] }] }),
    async (path) => {
      const error = await assertRejects(
        () => readLabSpecFile(path),
        LabSpecError,
      );
      assertEquals(
        error.message,
        `${path}: links[0].ends[1]: no node named "b" (nodes: a)`,
      );
      assertEquals(error.source, path);
    },
  );
  await withFile(
    '{\n  "nodes": {"a": {}}\n  "links": []\n}\n',
    async (path) => {
      await assertRejects(
        () => readLabSpecFile(path),
        LabSpecError,
        `${path}: is not JSON: line 3, column 3: Expected ',' or '}' after property value (fix the JSON there)`,
      );
    },
  );
  await withFile('{"nodes": {"a": x}}', async (path) => {
    await assertRejects(
      () => readLabSpecFile(path),
      LabSpecError,
      `${path}: is not JSON: line 1, column 17: Unexpected token 'x'`,
    );
  });
  await withFile('{"nodes": {', async (path) => {
    await assertRejects(
      () => readLabSpecFile(path),
      LabSpecError,
      `${path}: is not JSON: it ends too early, at line 1, column 12: Expected property name or '}' (close what is still open)`,
    );
  });
  await withFile("  \n", async (path) => {
    await assertRejects(
      () => readLabSpecFile(path),
      LabSpecError,
      `${path}: is not JSON: it is empty`,
    );
  });
  await withFile(Uint8Array.of(0x7b, 0xff, 0x7d), async (path) => {
    await assertRejects(
      () => readLabSpecFile(path),
      LabSpecError,
      `${path}: is not UTF-8 text`,
    );
  });
  await withFile(" ".repeat(MAX_SPEC_BYTES + 1), async (path) => {
    await assertRejects(
      () => readLabSpecFile(path),
      LabSpecError,
      `${path}: is larger than ${MAX_SPEC_BYTES} bytes`,
    );
  });
  await withFile("{}", async (path) => {
    const dir = path.slice(0, path.lastIndexOf("/"));
    await assertRejects(
      () => readLabSpecFile(dir),
      LabSpecError,
      `${dir}: is a directory`,
    );
    await assertRejects(
      () => readLabSpecFile(`${dir}/missing.json`),
      LabSpecError,
      `${dir}/missing.json: no such file (give the path of a lab spec, a JSON file)`,
    );
  });
});

// ------------------------------------------------------------ property

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomSpec(rand: () => number): LabSpec {
  const n = 2 + Math.floor(rand() * 9);
  const names = Array.from({ length: n }, (_, i) => `n${i}`);
  const spec: LabSpec = {
    nodes: Object.fromEntries(
      names.map((name) => [name, rand() < 0.5 ? { router: true } : {}]),
    ),
    links: [],
    switches: {},
    ipv6: rand() < 0.7,
  };
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (rand() < 0.25) {
        spec.links!.push({
          ends: rand() < 0.5 ? [names[i]!, names[j]!] : [names[j]!, names[i]!],
        });
      }
    }
  }
  const switches = Math.floor(rand() * 3);
  for (let s = 0; s < switches; s++) {
    const members = names.filter(() => rand() < 0.4);
    if (members.length > 0) spec.switches![`s${s}`] = { nodes: members };
  }
  return spec;
}

/** The most specific of `routes` whose destination holds all of `subnet`. */
function longestMatch(
  routes: readonly PlannedRoute[],
  subnet: IPPrefix,
): PlannedRoute | undefined {
  let best: PlannedRoute | undefined;
  let bestLength = -1;
  for (const r of routes) {
    const p = parsePrefix(r.destination);
    if (
      p.prefixLength <= subnet.prefixLength && p.prefixLength > bestLength &&
      prefixContains(p, subnet)
    ) {
      best = r;
      bestLength = p.prefixLength;
    }
  }
  return best;
}

/**
 * A merged route covers nothing but subnets of the lab: the subnets inside
 * it fill it exactly (so no address outside the lab gets a route).
 */
function checkRoutesExact(plan: LabPlan, seed: number): void {
  const subnets = plan.segments.flatMap((s) =>
    [s.subnet, s.subnet6].filter((x) => x !== undefined).map((x) =>
      parsePrefix(x)
    )
  );
  for (const node of plan.nodes) {
    for (const r of node.routes) {
      const p = parsePrefix(r.destination);
      const bits = p.bytes.length * 8;
      const inside = subnets.filter((x) =>
        x.prefixLength >= p.prefixLength && prefixContains(p, x)
      );
      // Sizes in /32s (IPv4) or /64s (IPv6: the lab's subnets are /64s).
      const unit = bits === 32 ? 32 : 64;
      const covered = inside.reduce(
        (sum, x) => sum + 2 ** (unit - x.prefixLength),
        0,
      );
      const size = 2 ** (unit - p.prefixLength);
      assertEquals(
        covered,
        size,
        `seed ${seed}: ${node.name}'s ${r.destination} holds only lab subnets`,
      );
    }
  }
}

/**
 * Every route leads, hop by hop, through routers to a node on its subnet in
 * as many hops as the shortest such path has; a subnet gets a route exactly
 * when such a path exists; no route to a subnet the node is on.
 */
function checkRoutes(plan: LabPlan, seed: number): void {
  const byName = new Map(plan.nodes.map((n) => [n.name, n]));
  const members = new Map(plan.segments.map((s) => [s.id, s.nodes]));
  const on = (n: PlannedNode, segment: string): boolean =>
    n.interfaces.some((i) => i.segment === segment);
  // Shortest hop counts from `from` to any member of `segment`, intermediate nodes routers.
  const distance = (from: PlannedNode, segment: string): number | undefined => {
    const seen = new Map([[from.name, 0]]);
    const queue = [from];
    for (let head = 0; head < queue.length; head++) {
      const at = queue[head]!;
      const d = seen.get(at.name)!;
      if (at !== from && on(at, segment)) return d;
      if (at !== from && !at.router) continue;
      for (const iface of at.interfaces) {
        for (const next of members.get(iface.segment)!) {
          if (seen.has(next)) continue;
          seen.set(next, d + 1);
          queue.push(byName.get(next)!);
        }
      }
    }
    return undefined;
  };
  for (const node of plan.nodes) {
    for (const segment of plan.segments) {
      for (const family of segment.subnet6 === undefined ? [0] : [0, 1]) {
        const destination = family === 0 ? segment.subnet : segment.subnet6!;
        const what = `seed ${seed}: ${node.name} to ${destination}`;
        // The route the kernel would pick: the longest prefix holding the subnet.
        const network = parsePrefix(destination);
        const route = (n: PlannedNode) => longestMatch(n.routes, network);
        if (on(node, segment.id)) {
          assertEquals(route(node), undefined, `${what}: it is on it`);
          continue;
        }
        const shortest = distance(node, segment.id);
        if (shortest === undefined) {
          assertEquals(route(node), undefined, `${what}: unreachable`);
          continue;
        }
        let at = node;
        let hops = 0;
        while (!on(at, segment.id)) {
          assert(at === node || at.router, `${what}: ${at.name} forwards`);
          const r = route(at);
          assert(r !== undefined, `${what}: ${at.name} has a route`);
          const dev = at.interfaces.find((i) => i.name === r.dev);
          assert(dev !== undefined, `${what}: ${at.name} has ${r.dev}`);
          const next = members.get(dev.segment)!.map((m) => byName.get(m)!)
            .find((m) =>
              m !== at &&
              m.interfaces.some((i) =>
                i.segment === dev.segment &&
                i.addresses[family] === `${r.via}/${family === 0 ? 24 : 64}`
              )
            );
          assert(
            next !== undefined,
            `${what}: ${r.via} is a neighbour of ${at.name}`,
          );
          at = next;
          hops++;
          assert(hops <= plan.nodes.length, `${what}: no loop`);
        }
        assertEquals(hops, shortest, `${what}: a shortest path`);
      }
    }
  }
}

nsTest(
  "lab plan: on random topologies, routes lead by shortest paths through routers",
  () => {
    const base = Number(Deno.env.get("LAB_PLAN_SEED") ?? 20261202);
    for (let k = 0; k < 300; k++) {
      const seed = base + k;
      const spec = randomSpec(mulberry32(seed));
      const plan = planLab(spec, "prop");
      checkRoutes(plan, seed);
      checkRoutesExact(plan, seed);
      assertEquals(JSON.stringify(planLab(spec, "prop")), JSON.stringify(plan));
    }
  },
);
