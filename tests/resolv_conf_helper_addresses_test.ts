import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  addToIPv4,
  DEFAULT_HELPER_CIDR,
  helperAddresses,
  helperDnsAddress,
  parseIPv4Cidr,
} from "../lib/resolv_conf/mod.ts";
import { InvalidArgumentError } from "../lib/errors.ts";

nsTest("helperDnsAddress: the third address of the subnet", () => {
  assertEquals(DEFAULT_HELPER_CIDR, "10.0.2.0/24");
  assertEquals(helperDnsAddress(), "10.0.2.3");
  const cases: [string, string][] = [
    ["10.0.2.0/24", "10.0.2.3"],
    ["10.0.2.77/24", "10.0.2.3"],
    ["192.168.100.0/22", "192.168.100.3"],
    ["192.168.103.9/22", "192.168.100.3"],
    ["172.16.0.8/29", "172.16.0.11"],
    ["0.0.0.0/0", "0.0.0.3"],
    ["255.255.255.0/24", "255.255.255.3"],
    [" 10.0.2.0/24 ", "10.0.2.3"],
  ];
  for (const [cidr, dns] of cases) {
    assertEquals(helperDnsAddress(cidr), dns, cidr);
  }
});

nsTest("helperAddresses: gateway .2, DNS .3, guest .100", () => {
  assertEquals(helperAddresses(), {
    cidr: "10.0.2.0/24",
    prefixLength: 24,
    gateway: "10.0.2.2",
    dns: "10.0.2.3",
    guest: "10.0.2.100",
  });
  assertEquals(helperAddresses("10.1.2.130/25"), {
    cidr: "10.1.2.128/25",
    prefixLength: 25,
    gateway: "10.1.2.130",
    dns: "10.1.2.131",
    guest: "10.1.2.228",
  });
  assertEquals(helperAddresses("10.255.255.0/16").guest, "10.255.0.100");
});

nsTest(
  "helper addresses: a subnet too small is refused with the size needed",
  () => {
    for (const cidr of ["10.0.2.0/30", "10.0.2.0/31", "10.0.2.0/32"]) {
      const error = assertThrows(
        () => helperDnsAddress(cidr),
        InvalidArgumentError,
        "too small",
      );
      assert(error.hint?.includes("/29"), error.hint);
    }
    assertEquals(helperDnsAddress("10.0.2.0/26"), "10.0.2.3");
    const error = assertThrows(
      () => helperAddresses("10.0.2.0/26"),
      InvalidArgumentError,
      "guest",
    );
    assert(error.hint?.includes("/25"), error.hint);
  },
);

nsTest(
  "helper addresses: malformed or non-IPv4 subnets are refused clearly",
  () => {
    const bad: [string, string][] = [
      ["", "no prefix length"],
      ["10.0.2.0", "no prefix length"],
      ["10.0.2.0/33", "prefix length"],
      ["10.0.2.0/-1", "prefix length"],
      ["10.0.2.0/024", "prefix length"],
      ["10.0.2.0/24/8", "prefix length"],
      ["10.0.2.0/", "prefix length"],
      ["300.0.2.0/24", "not an IPv4 address"],
      ["10.0.2/24", "not an IPv4 address"],
      ["010.0.2.0/24", "not an IPv4 address"],
      ["10.0.2.0 /24", "not an IPv4 address"],
      ["fd00::/64", "must be IPv4"],
      ["::ffff:10.0.2.0/120", "must be IPv4"],
      ["slirp/24", "not an IPv4 address"],
    ];
    for (const [cidr, message] of bad) {
      const error = assertThrows(
        () => helperDnsAddress(cidr),
        InvalidArgumentError,
        message,
      );
      assert(error.hint !== undefined, cidr);
    }
  },
);

nsTest("addToIPv4: stays inside the subnet, never past its end", () => {
  assertEquals(addToIPv4("10.0.2.0/24", 254), "10.0.2.254");
  assertThrows(
    () => addToIPv4("10.0.2.0/24", 255),
    InvalidArgumentError,
    "too small",
  );
  assertThrows(
    () => addToIPv4("255.255.255.0/24", 300),
    InvalidArgumentError,
    "too small",
  );
  assertThrows(() => addToIPv4("10.0.2.0/24", 0), InvalidArgumentError);
  assertThrows(() => addToIPv4("10.0.2.0/24", 1.5), InvalidArgumentError);
  assertEquals(parseIPv4Cidr("10.0.2.9/24"), {
    network: "10.0.2.0",
    prefixLength: 24,
    cidr: "10.0.2.0/24",
  });
});
