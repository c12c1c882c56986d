import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  FALLBACK_NAMESERVERS,
  FALLBACK_NAMESERVERS_IPV6,
  formatResolvConf,
  generateResolvConf,
  localStubUpstream,
  parseResolvConf,
  planResolvConf,
  type ResolvConf,
  type ResolvConfGenerateOptions,
  type ResolvConfSources,
} from "../lib/resolv_conf/mod.ts";
import { InvalidArgumentError } from "../lib/errors.ts";

// ---------------------------------------------------------------- parsing

interface ParseCase {
  name: string;
  text: string;
  expect: Partial<ResolvConf>;
}

const PARSE_CASES: ParseCase[] = [
  {
    name: "a plain file",
    text:
      "search example.com\nnameserver 192.168.1.1\nnameserver 2001:db8::1\noptions ndots:2 edns0\n",
    expect: {
      search: ["example.com"],
      nameservers: ["192.168.1.1", "2001:db8::1"],
      options: ["ndots:2", "edns0"],
    },
  },
  {
    name: "comments with # and ;, at the start and after words",
    text:
      "# generated\n; also a comment\nnameserver 1.1.1.1 # primary\nnameserver 9.9.9.9;secondary\n#nameserver 8.8.8.8\n",
    expect: { nameservers: ["1.1.1.1", "9.9.9.9"] },
  },
  {
    name: "repeated search lines: the last wins",
    text: "search a.example b.example\nsearch c.example\n",
    expect: { search: ["c.example"] },
  },
  {
    name: "domain, then search: the later line wins",
    text: "domain corp.example\nsearch lab.example\n",
    expect: { search: ["lab.example"] },
  },
  {
    name: "search, then domain: the later line wins",
    text: "search lab.example other.example\ndomain corp.example extra\n",
    expect: { search: ["corp.example"] },
  },
  {
    name: "options add up; a later option of the same name replaces",
    text: "options ndots:1 rotate\noptions ndots:5 timeout:2\n",
    expect: { options: ["rotate", "ndots:5", "timeout:2"] },
  },
  {
    name: "tabs, CRLF and surrounding whitespace",
    text:
      "\tnameserver\t10.1.1.1\r\n  search\t a.example\t\tb.example  \r\noptions\tedns0\r\n",
    expect: {
      nameservers: ["10.1.1.1"],
      search: ["a.example", "b.example"],
      options: ["edns0"],
    },
  },
  {
    name:
      "trailing garbage after an address, malformed addresses, unknown keywords",
    text: [
      "nameserver 10.0.0.1 garbage here",
      "nameserver 10.0.0.256",
      "nameserver 127.1",
      "nameserver not-an-ip",
      "nameserver",
      "nameserver fe80::1%eth0",
      "nameserver ::ffff:10.0.0.9",
      "sortlist 130.155.160.0/255.255.240.0",
      "lookup file bind",
      "NAMESERVER 10.9.9.9",
    ].join("\n"),
    expect: { nameservers: ["10.0.0.1", "fe80::1%eth0", "::ffff:10.0.0.9"] },
  },
  {
    name: "duplicate nameservers are listed once",
    text: "nameserver 10.0.0.1\nnameserver 10.0.0.1\n",
    expect: { nameservers: ["10.0.0.1"] },
  },
  {
    name: "no newline at the end",
    text: "nameserver 10.0.0.1\nsearch x.example",
    expect: { nameservers: ["10.0.0.1"], search: ["x.example"] },
  },
  {
    name: "words with control or non-ASCII characters are dropped",
    text:
      "search ok.example b\u0000d.example caf\u00e9.example\noptions edns0 \u0007bell\n",
    expect: { search: ["ok.example"], options: ["edns0"] },
  },
  {
    name: "an empty file",
    text: "",
    expect: { nameservers: [], search: [], options: [] },
  },
];

for (const c of PARSE_CASES) {
  nsTest(`parseResolvConf: ${c.name}`, () => {
    const conf = parseResolvConf(c.text);
    for (const key of Object.keys(c.expect) as (keyof ResolvConf)[]) {
      assertEquals(conf[key], c.expect[key], key);
    }
  });
}

// ---------------------------------------------------------------- generation rules

interface GenerateCase {
  name: string;
  sources: ResolvConfSources | string;
  options?: ResolvConfGenerateOptions;
  expect: Partial<ResolvConf>;
  origin?: string;
  fallback?: boolean;
  dropped?: string[];
}

const SLIRP = { nameservers: ["10.0.2.3"], keepHostServers: true };

const GENERATE_CASES: GenerateCase[] = [
  {
    name: "the helper's DNS first, then the host's nameservers (S4)",
    sources: "nameserver 192.168.1.1\nnameserver 1.1.1.1\n",
    options: SLIRP,
    expect: { nameservers: ["10.0.2.3", "192.168.1.1", "1.1.1.1"] },
  },
  {
    name: "given nameservers replace the host's unless kept",
    sources: "nameserver 192.168.1.1\n",
    options: { nameservers: ["10.0.2.3"] },
    expect: { nameservers: ["10.0.2.3"] },
  },
  {
    name: "no given nameservers: the host's",
    sources: "nameserver 192.168.1.1\n",
    expect: { nameservers: ["192.168.1.1"] },
  },
  {
    name: "127.x, ::1 and unspecified addresses are dropped",
    sources:
      "nameserver 127.0.0.11\nnameserver 127.255.0.1\nnameserver 10.0.0.1\nnameserver ::1\nnameserver 0.0.0.0\nnameserver ::\nnameserver ::ffff:127.0.0.1\n",
    options: { ipv6: true },
    expect: { nameservers: ["10.0.0.1"] },
    dropped: [
      "127.0.0.11",
      "127.255.0.1",
      "::1",
      "0.0.0.0",
      "::",
      "::ffff:127.0.0.1",
    ],
  },
  {
    name: "IPv6 nameservers are dropped when IPv6 is off",
    sources: "nameserver 2001:db8::53\nnameserver 10.0.0.1\n",
    expect: { nameservers: ["10.0.0.1"] },
    dropped: ["2001:db8::53"],
  },
  {
    name: "IPv6 nameservers are kept when IPv6 is on",
    sources: "nameserver 2001:db8::53\nnameserver 10.0.0.1\n",
    options: { ...SLIRP, ipv6: true },
    expect: { nameservers: ["10.0.2.3", "2001:db8::53", "10.0.0.1"] },
  },
  {
    name: "zoned and link-local IPv6 nameservers never, even with IPv6 on",
    sources:
      "nameserver fe80::1%eth0\nnameserver fe80::2\nnameserver 2001:db8::1%3\nnameserver 2001:db8::53\n",
    options: { ipv6: true },
    expect: { nameservers: ["2001:db8::53"] },
    dropped: ["fe80::1%eth0", "fe80::2", "2001:db8::1%3"],
  },
  {
    name:
      "systemd-resolved's stub: its upstream list, domains and options (#13599)",
    sources: {
      host: "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n",
      systemdResolved:
        "nameserver 192.168.1.1\nnameserver 2001:db8::1\nsearch lan corp.example\n",
    },
    options: SLIRP,
    expect: {
      nameservers: ["10.0.2.3", "192.168.1.1"],
      search: ["lan", "corp.example"],
      options: [],
    },
    origin: "systemd-resolved",
  },
  {
    name: "NetworkManager's dnsmasq at 127.0.0.1: its upstream list",
    sources: {
      host: "nameserver 127.0.0.1\n",
      networkManager: "nameserver 10.20.30.40\n",
      systemdResolved: "nameserver 6.6.6.6\n",
    },
    options: SLIRP,
    expect: { nameservers: ["10.0.2.3", "10.20.30.40"] },
    origin: "NetworkManager",
  },
  {
    name: "a stub whose upstream file is missing: only the given servers",
    sources: { host: "nameserver 127.0.0.53\nsearch lan\n" },
    options: SLIRP,
    expect: { nameservers: ["10.0.2.3"], search: ["lan"] },
    origin: "host",
    fallback: false,
  },
  {
    name: "a stub beside a real server is no stub: the real server stays",
    sources: {
      host: "nameserver 127.0.0.53\nnameserver 9.9.9.9\n",
      systemdResolved: "nameserver 6.6.6.6\n",
    },
    expect: { nameservers: ["9.9.9.9"] },
    origin: "host",
  },
  {
    name:
      "an unknown local resolver (127.0.0.11) is dropped, with no upstream to read",
    sources: {
      host: "nameserver 127.0.0.11\n",
      systemdResolved: "nameserver 6.6.6.6\n",
    },
    expect: { nameservers: [...FALLBACK_NAMESERVERS] },
    fallback: true,
  },
  {
    name: "nothing left at all: the fallback, IPv4 only",
    sources: "nameserver 127.0.0.11\nnameserver 2001:db8::1\n",
    expect: { nameservers: [...FALLBACK_NAMESERVERS] },
    fallback: true,
  },
  {
    name: "nothing left at all with IPv6 on: the fallback with IPv6 servers",
    sources: "",
    options: { ipv6: true },
    expect: {
      nameservers: [...FALLBACK_NAMESERVERS, ...FALLBACK_NAMESERVERS_IPV6],
    },
    fallback: true,
  },
  {
    name: "a fallback of one's own",
    sources: "# empty\n",
    options: { fallbackNameservers: ["10.10.10.10"] },
    expect: { nameservers: ["10.10.10.10"] },
    fallback: true,
  },
  {
    name: "no fallback when the helper's DNS is there",
    sources: "nameserver 127.0.0.1\n",
    options: SLIRP,
    expect: { nameservers: ["10.0.2.3"] },
    fallback: false,
  },
  {
    name: "search domains and options are kept from the host",
    sources:
      "search a.example b.example\nnameserver 10.0.0.1\noptions ndots:2 edns0\n",
    options: SLIRP,
    expect: {
      search: ["a.example", "b.example"],
      options: ["ndots:2", "edns0"],
    },
  },
  {
    name: "given search domains and options replace the host's",
    sources: "search a.example\nnameserver 10.0.0.1\noptions ndots:2\n",
    options: { ...SLIRP, searches: ["mine.example"], options: ["timeout:1"] },
    expect: { search: ["mine.example"], options: ["timeout:1"] },
  },
  {
    name:
      "keepHostSearches and keepHostOptions append the host's; a given option wins",
    sources:
      "search a.example mine.example\nnameserver 10.0.0.1\noptions ndots:2 rotate\n",
    options: {
      searches: ["mine.example"],
      options: ["ndots:5"],
      keepHostSearches: true,
      keepHostOptions: true,
    },
    expect: {
      search: ["mine.example", "a.example"],
      options: ["ndots:5", "rotate"],
    },
  },
  {
    name: "search . clears the domains, even with keepHostSearches",
    sources: "search a.example\nnameserver 10.0.0.1\n",
    options: { searches: ["."], keepHostSearches: true },
    expect: { search: [] },
  },
  {
    name: "search . in the host's file means no domains",
    sources: "search .\nnameserver 10.0.0.1\n",
    expect: { search: [] },
  },
  {
    name: "the helper's DNS is listed once even when the host has it too",
    sources: "nameserver 10.0.2.3\nnameserver 10.0.0.1\n",
    options: SLIRP,
    expect: { nameservers: ["10.0.2.3", "10.0.0.1"] },
  },
  {
    name: "everything given: the host's file does not matter",
    sources: "search host.example\nnameserver 10.0.0.1\noptions rotate\n",
    options: {
      nameservers: ["10.0.2.3"],
      searches: ["x.example"],
      options: ["edns0"],
    },
    expect: {
      nameservers: ["10.0.2.3"],
      search: ["x.example"],
      options: ["edns0"],
    },
  },
];

for (const c of GENERATE_CASES) {
  nsTest(`planResolvConf: ${c.name}`, () => {
    const sources = typeof c.sources === "string"
      ? { host: c.sources }
      : c.sources;
    const plan = planResolvConf(sources, c.options);
    for (const key of Object.keys(c.expect) as (keyof ResolvConf)[]) {
      assertEquals(plan.conf[key], c.expect[key], key);
    }
    if (c.origin !== undefined) assertEquals(plan.origin, c.origin);
    if (c.fallback !== undefined) assertEquals(plan.usedFallback, c.fallback);
    if (c.dropped !== undefined) {
      assertEquals(plan.dropped.map((d) => d.address), c.dropped);
    }
    assertValidOutput(generateResolvConf(sources, c.options), plan.conf);
  });
}

nsTest("formatResolvConf: search, nameservers, options, in that order", () => {
  const text = formatResolvConf({
    nameservers: ["10.0.2.3", "1.1.1.1"],
    search: ["a.example", "b.example"],
    options: ["ndots:2", "edns0"],
  });
  assertEquals(
    text,
    [
      "# Generated by nsnet for a private network namespace.",
      "search a.example b.example",
      "nameserver 10.0.2.3",
      "nameserver 1.1.1.1",
      "options ndots:2 edns0",
      "",
    ].join("\n"),
  );
  assertEquals(
    formatResolvConf({ nameservers: ["10.0.2.3"], search: [], options: [] }),
    "# Generated by nsnet for a private network namespace.\nnameserver 10.0.2.3\n",
  );
});

nsTest("localStubUpstream: only when every nameserver is local", () => {
  const stub = (text: string): string | undefined =>
    localStubUpstream(parseResolvConf(text));
  assertEquals(stub("nameserver 127.0.0.53\n"), "systemd-resolved");
  assertEquals(stub("nameserver 127.0.0.1\n"), "NetworkManager");
  assertEquals(
    stub("nameserver ::1\nnameserver 127.0.0.53\n"),
    "systemd-resolved",
  );
  assertEquals(stub("nameserver 127.0.0.53\nnameserver 10.0.0.1\n"), undefined);
  assertEquals(stub("nameserver 127.0.0.11\n"), undefined);
  assertEquals(stub(""), undefined);
});

nsTest("planResolvConf: malformed given values are refused clearly", () => {
  const bad: ResolvConfGenerateOptions[] = [
    { nameservers: ["10.0.2.300"] },
    { nameservers: ["dns.example"] },
    { searches: ["two words"] },
    { searches: ["semi;colon"] },
    { options: ["ndots:1 rotate"] },
    { options: [""] },
  ];
  for (const options of bad) {
    const error = assertThrows(
      () => planResolvConf({ host: "" }, options),
      InvalidArgumentError,
    );
    assert(error.hint !== undefined, error.message);
  }
});

// ---------------------------------------------------------------- malformed input

const VALID_LINE =
  /^(# [\x20-\x7e]*|search( [\x21-\x7e]+)+|nameserver [\x21-\x7e]+|options( [\x21-\x7e]+)+)$/;

/** The text is a well-formed resolv.conf, and reads back as `conf`. */
function assertValidOutput(text: string, conf?: ResolvConf): void {
  assert(text.endsWith("\n"), "ends with a newline");
  const lines = text.slice(0, -1).split("\n");
  for (const line of lines) {
    assert(VALID_LINE.test(line), `bad line ${JSON.stringify(line)}`);
  }
  assert(lines.some((l) => l.startsWith("nameserver ")), "has a nameserver");
  if (conf !== undefined) {
    const back = parseResolvConf(text);
    assertEquals(back.nameservers, conf.nameservers);
    assertEquals(back.search, conf.search);
    assertEquals(back.options, conf.options);
  }
}

function junk(seed: number, size: number, alphabet?: string): string {
  let state = seed;
  const next = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 8;
  };
  if (alphabet === undefined) {
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) bytes[i] = next() & 0xff;
    return new TextDecoder().decode(bytes);
  }
  let out = "";
  for (let i = 0; i < size; i++) out += alphabet[next() % alphabet.length];
  return out;
}

nsTest("generateResolvConf: binary bytes give a valid file", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const host = junk(seed, 1 + (seed * 37) % 2000);
    for (const options of [{}, SLIRP, { ipv6: true }]) {
      const plan = planResolvConf({ host }, options);
      assertValidOutput(formatResolvConf(plan.conf), plan.conf);
    }
  }
});

nsTest("generateResolvConf: keyword-shaped junk gives a valid file", () => {
  const alphabet =
    "nameserver search domain options 0123456789.:%#;\t\n\r abcdef\u0000\u00ff";
  for (let seed = 1; seed <= 200; seed++) {
    const host = junk(seed, 500, alphabet);
    const plan = planResolvConf({ host }, { ...SLIRP, ipv6: seed % 2 === 0 });
    assertValidOutput(formatResolvConf(plan.conf), plan.conf);
  }
});

nsTest(
  "generateResolvConf: 1 MB of junk, with or without newlines, is handled quickly",
  () => {
    const started = performance.now();
    const oneLine = junk(7, 1 << 20, "abc def.ghi:012;#\t");
    const manyLines = junk(8, 1 << 20, "nameserver 10.0.0.1\nsearch x\n\0\xff");
    const binary = junk(9, 1 << 20);
    for (
      const host of [
        oneLine,
        manyLines,
        binary,
        `nameserver 10.1.1.1\n${oneLine}`,
      ]
    ) {
      const plan = planResolvConf({ host }, SLIRP);
      assertValidOutput(formatResolvConf(plan.conf), plan.conf);
    }
    assertEquals(
      planResolvConf({ host: `nameserver 10.1.1.1\n${oneLine}` }).conf
        .nameservers,
      ["10.1.1.1"],
    );
    assert(
      performance.now() - started < 5_000,
      "parsing 1 MB should take well under a second",
    );
  },
);

nsTest("generateResolvConf: a file without a final newline", () => {
  assertEquals(
    generateResolvConf(
      { host: "search a.example\nnameserver 10.0.0.1" },
      SLIRP,
    ),
    "# Generated by nsnet for a private network namespace.\nsearch a.example\nnameserver 10.0.2.3\nnameserver 10.0.0.1\n",
  );
});
