/**
 * Route decoder fuzzing: a real route dump with every shape nsnet decodes
 * (multipath v4/v6, RTA_VIA, metrics with a congestion algorithm, IPv6
 * cache info and preference, blackhole/unreachable/prohibit, a table above
 * 255) and the route requests nsnet builds, mutated, may only ever raise
 * the codec's own NetlinkDecodeError. The mutations stay on route message
 * types, so the nested RTA_MULTIPATH and RTA_METRICS walks get the cases.
 *
 * NSNET_FUZZ_CASES sets the number of cases (default 100,000);
 * NSNET_FUZZ_SEED replays a run.
 */
import { assert } from "./_assert.ts";
import { nsTest, run } from "./_helpers.ts";
import { fuzzDecoder } from "./_fixtures/fuzz.ts";
import { newNS } from "../lib/netns/create.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import {
  decodeMessages,
  MessageWriter,
  NetlinkSocket,
  NLM_F,
  routeRequest,
  RTM,
  RTNH_F,
  SIZE,
} from "../lib/netlink/mod.ts";

function corpus(): Uint8Array[] {
  const ns = newNS();
  try {
    const name = ns.path.slice(ns.path.lastIndexOf("/") + 1);
    const ip = (...words: string[]): string => run("ip", "-n", name, ...words);
    ip("link", "add", "v1", "type", "veth", "peer", "name", "v2");
    ip("link", "set", "v1", "up");
    ip("link", "set", "v2", "up");
    ip("addr", "add", "10.0.0.2/24", "dev", "v1");
    ip("addr", "add", "fd00::2/64", "dev", "v1", "nodad");
    ip(
      ..."route add 10.2.0.0/16 nexthop via 10.0.0.3 weight 3 nexthop via 192.0.2.1 dev v2 onlink"
        .split(" "),
    );
    ip(
      ..."route add 10.3.0.0/16 via 10.0.0.1 mtu lock 1400 advmss 1300 rtt 100ms congctl cubic features ecn table 70000"
        .split(" "),
    );
    ip(..."route add 10.5.0.0/16 via inet6 fe80::1 dev v1".split(" "));
    ip(..."route add blackhole 10.9.0.0/16".split(" "));
    ip(..."route add unreachable 10.8.0.0/16 table 300".split(" "));
    ip(..."route add prohibit 10.7.0.0/16".split(" "));
    ip(
      ..."-6 route add fd01::/64 via fd00::1 pref high expires 300".split(" "),
    );
    ip(
      ..."-6 route add fd02::/64 nexthop via fd00::1 dev v1 nexthop via fd00::5 dev v1 weight 4"
        .split(" "),
    );
    using sock = NetlinkSocket.open(ns);
    const dump = sock.dumpRaw(
      new MessageWriter(RTM.GETROUTE, NLM_F.REQUEST | NLM_F.DUMP).struct(
        SIZE.RTMSG,
        () => {},
      ),
    );
    const indexOf = (): number => 3;
    const requests = [
      routeRequest(RTM.NEWROUTE, NLM_F.REQUEST, {
        destination: "10.4.0.0/16",
        nexthops: [
          { gateway: "10.0.0.1", device: "v1", weight: 2 },
          { gateway: "fe80::1", device: "v1", flags: RTNH_F.ONLINK },
        ],
        metrics: { mtu: 1400, congctl: "reno", lock: 4 },
        table: 100000,
      }, indexOf),
      routeRequest(RTM.NEWROUTE, NLM_F.REQUEST, {
        destination: "fd03::/64",
        gateway: "fd00::1",
        preference: 3,
        expires: 60,
      }, indexOf),
    ].map((writer, i) => writer.finish(i + 1));
    return [...dump, ...requests];
  } finally {
    unmountNS(ns);
  }
}

nsTest(
  "routes: mutated route dumps and requests raise only NetlinkDecodeError",
  () => {
    const seeds = corpus();
    const routes = seeds.flatMap((bytes) => decodeMessages(bytes))
      .flatMap((m) => m.kind === "route" ? [m.route] : []);
    assert(
      routes.some((r) => (r.nexthops?.length ?? 0) > 1),
      "multipath seeds",
    );
    assert(
      routes.some((r) => r.metrics?.congctl !== undefined),
      "metrics seeds",
    );
    assert(routes.some((r) => r.via !== undefined), "RTA_VIA seeds");
    const result = fuzzDecoder({
      seeds,
      decode: (bytes) => decodeMessages(bytes),
      types: [RTM.NEWROUTE, RTM.DELROUTE],
    });
    assert(result.messages > 10);
  },
);
