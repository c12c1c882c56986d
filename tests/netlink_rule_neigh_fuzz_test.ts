/**
 * Rule and neighbour decoder fuzzing: dumps captured from a namespace with
 * rules and neighbours of every kind this kernel keeps, plus the requests
 * nsnet builds, mutated and randomized; only NetlinkDecodeError may escape
 * (never another error, a hang, or a read out of bounds).
 *
 * NSNET_FUZZ_CASES sets the number of cases (default 100,000, half each);
 * NSNET_FUZZ_SEED replays a run.
 */
import { assert } from "./_assert.ts";
import { nsTest, run, withNamespaces } from "./_helpers.ts";
import { fuzzCases, fuzzDecoder } from "./_fixtures/fuzz.ts";
import { nameOf } from "./_fixtures/netns.ts";
import {
  decodeMessages,
  decodeNeighbour,
  decodeRule,
  FIB_RULE_HDR_SIZE,
  MessageWriter,
  NDMSG_SIZE,
  neighbourRequest,
  NetlinkSocket,
  NLM_F,
  RTM_NEIGH,
  RTM_RULE,
  ruleRequest,
} from "../lib/netlink/mod.ts";
import type { NetNS } from "../lib/netns/netns.ts";

const CASES = Math.ceil(fuzzCases() / 2);

function corpus(ns: NetNS): Uint8Array[] {
  const n = nameOf(ns);
  const ip = (...args: string[]): void => void run("ip", "-n", n, ...args);
  ip("link", "add", "v0", "type", "veth", "peer", "v1");
  ip("link", "set", "v0", "up");
  ip("rule", "add", "from", "10.0.0.0/8", "table", "100", "priority", "10");
  ip("rule", "add", "not", "fwmark", "0x1/0xff", "iif", "v0", "blackhole");
  ip(
    "rule",
    "add",
    "to",
    "10.1.0.0/16",
    "oif",
    "v1",
    "uidrange",
    "1-2",
    "ipproto",
    "tcp",
    "sport",
    "80",
    "dport",
    "1-9",
    "goto",
    "20",
    "priority",
    "15",
  );
  ip("rule", "add", "l3mdev", "priority", "20");
  ip(
    "rule",
    "add",
    "lookup",
    "main",
    "suppress_prefixlength",
    "0",
    "protocol",
    "static",
  );
  ip("-6", "rule", "add", "from", "fd00::/64", "table", "300000");
  ip("neigh", "add", "10.0.0.5", "lladdr", "02:00:00:00:00:05", "dev", "v0");
  ip(
    "neigh",
    "add",
    "10.0.0.6",
    "lladdr",
    "02:00:00:00:00:06",
    "dev",
    "v0",
    "nud",
    "stale",
  );
  ip(
    "neigh",
    "add",
    "fd00::6",
    "lladdr",
    "02:00:00:00:00:07",
    "dev",
    "v0",
    "router",
    "nud",
    "reachable",
  );
  ip("neigh", "add", "proxy", "10.0.0.9", "dev", "v0");
  using sock = NetlinkSocket.open(ns);
  const dump = (type: number, size: number, flags = 0): Uint8Array[] =>
    sock.dumpRaw(
      new MessageWriter(type, NLM_F.REQUEST | NLM_F.DUMP).struct(
        size,
        (view, at) => view.setUint8(at + 10, flags),
      ),
    );
  return [
    ...dump(RTM_RULE.GETRULE, FIB_RULE_HDR_SIZE),
    ...dump(RTM_NEIGH.GETNEIGH, NDMSG_SIZE),
    ...dump(RTM_NEIGH.GETNEIGH, NDMSG_SIZE, 0x08),
    ruleRequest(RTM_RULE.NEWRULE, NLM_F.REQUEST, {
      from: "fd00::/8",
      fwmark: 3,
      uidRange: { start: 1, end: 5 },
      destinationPorts: { start: 1, end: 2 },
      table: 1 << 20,
    }).finish(1),
    neighbourRequest(RTM_NEIGH.NEWNEIGH, NLM_F.REQUEST, {
      address: "10.0.0.1",
      lladdr: "02:00:00:00:00:01",
      device: 2,
    }, 2).finish(2),
  ];
}

function bodies(
  window: Uint8Array,
  decode: (b: Uint8Array, v: DataView, o: number, e: number) => unknown,
): void {
  decodeMessages(window);
  if (window.length >= 16) {
    const view = new DataView(
      window.buffer,
      window.byteOffset,
      window.byteLength,
    );
    decode(window, view, 16, window.length);
  }
}

nsTest(
  `rule and neighbour decoders: 2 x ${CASES} random and mutated messages raise only NetlinkDecodeError`,
  async () => {
    await withNamespaces(1, ([ns]) => {
      const seeds = corpus(ns!);
      for (
        const [decode, types] of [
          [decodeRule, [32, 33, 28, 2, 3]],
          [decodeNeighbour, [28, 29, 32, 2, 3]],
        ] as const
      ) {
        const result = fuzzDecoder({
          seeds,
          cases: CASES,
          types,
          clean: (bytes) => void decodeMessages(bytes),
          decode: (window) => bodies(window, decode),
        });
        assert(result.messages > 15, `corpus of ${result.messages} messages`);
      }
    });
  },
);
