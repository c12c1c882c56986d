/**
 * Fuzzing the traffic-control decoders: real qdisc, class and filter dumps
 * (with statistics, a u32 and a bpf filter with mirred actions), nsnet's own
 * requests for every kind it encodes (netem and gact included, which this
 * kernel lacks), mutated; only NetlinkDecodeError may come out.
 * NSNET_FUZZ_CASES sets the number of cases, NSNET_FUZZ_SEED replays a run.
 */
import { assert } from "./_assert.ts";
import { nsTest, run, withNamespaces } from "./_helpers.ts";
import { fuzzCases, fuzzDecoder } from "./_fixtures/fuzz.ts";
import { nameOf } from "./_fixtures/netns.ts";
import {
  bpfOptions,
  decodeMessages,
  gactAction,
  htbClassOptions,
  htbQdiscOptions,
  mirredAction,
  NetlinkSocket,
  NLM_F,
  parseBpfBytecode,
  parsePercent,
  RTM_TC,
  tbfOptions,
  TC_H,
  tcRequest,
  u32Options,
} from "../lib/netlink/mod.ts";

const CASES = fuzzCases();

nsTest(
  "tc decoders: fuzzed qdisc, class and filter messages raise only NetlinkDecodeError",
  async () => {
    await withNamespaces(1, (namespaces) => {
      const ns = namespaces[0]!;
      const n = nameOf(ns);
      run(
        "ip",
        "-n",
        n,
        "link",
        "add",
        "v1",
        "type",
        "veth",
        "peer",
        "name",
        "v2",
      );
      run("ip", "-n", n, "link", "add", "ifb0", "type", "ifb");
      for (const dev of ["v1", "v2", "ifb0"]) {
        run("ip", "-n", n, "link", "set", dev, "up");
      }
      const tc = (...args: string[]): string => run("tc", "-n", n, ...args);
      tc(
        "qdisc",
        "add",
        "dev",
        "v1",
        "root",
        "handle",
        "1:",
        "htb",
        "default",
        "10",
      );
      tc(
        "class",
        "add",
        "dev",
        "v1",
        "parent",
        "1:",
        "classid",
        "1:10",
        "htb",
        "rate",
        "5mbit",
        "ceil",
        "10mbit",
      );
      tc(
        "filter",
        "add",
        "dev",
        "v1",
        "parent",
        "1:",
        "protocol",
        "ip",
        "prio",
        "2",
        "u32",
        "match",
        "ip",
        "dst",
        "10.0.0.0/8",
        "flowid",
        "1:10",
      );
      tc("qdisc", "add", "dev", "v1", "ingress");
      tc(
        "filter",
        "add",
        "dev",
        "v1",
        "parent",
        "ffff:",
        "protocol",
        "all",
        "u32",
        "match",
        "u32",
        "0",
        "0",
        "action",
        "mirred",
        "egress",
        "redirect",
        "dev",
        "ifb0",
      );
      tc("qdisc", "add", "dev", "v2", "clsact");
      tc(
        "filter",
        "add",
        "dev",
        "v2",
        "ingress",
        "bpf",
        "bytecode",
        "1,6 0 0 4294967295",
        "action",
        "mirred",
        "egress",
        "mirror",
        "dev",
        "ifb0",
      );
      tc(
        "qdisc",
        "add",
        "dev",
        "ifb0",
        "root",
        "tbf",
        "rate",
        "10mbit",
        "burst",
        "32kbit",
        "latency",
        "400ms",
      );
      using sock = NetlinkSocket.open(ns);
      const dump = NLM_F.REQUEST | NLM_F.DUMP;
      const seeds: Uint8Array[] = [
        ...sock.dumpRaw(tcRequest(RTM_TC.GETQDISC, dump, { index: 0 })),
      ];
      for (const dev of ["v1", "v2", "ifb0"]) {
        const index = Number(
          JSON.parse(run("ip", "-n", n, "-j", "link", "show", dev))[0].ifindex,
        );
        seeds.push(
          ...sock.dumpRaw(tcRequest(RTM_TC.GETTCLASS, dump, { index })),
          ...sock.dumpRaw(
            tcRequest(RTM_TC.GETTFILTER, dump, { index, parent: 0x10000 }),
          ),
          ...sock.dumpRaw(
            tcRequest(RTM_TC.GETTFILTER, dump, { index, parent: 0xffff0000 }),
          ),
          ...sock.dumpRaw(
            tcRequest(RTM_TC.GETTFILTER, dump, { index, parent: 0xfffffff2 }),
          ),
        );
      }
      const requests = [
        tcRequest(RTM_TC.NEWQDISC, 0, {
          index: 2,
          parent: TC_H.ROOT,
          kind: "tbf",
          options: tbfOptions({
            rate: 1_250_000,
            burst: 4096,
            latency: 400_000,
            peakrate: 2_500_000,
            mtu: 1600,
          }),
        }),
        tcRequest(RTM_TC.NEWQDISC, 0, {
          index: 2,
          parent: TC_H.ROOT,
          kind: "htb",
          options: htbQdiscOptions({ defaultClass: 0x10, directQlen: 100 }),
        }),
        tcRequest(RTM_TC.NEWTCLASS, 0, {
          index: 2,
          parent: 0x10000,
          handle: 0x10010,
          kind: "htb",
          options: htbClassOptions({ rate: 2 ** 33, ceil: 2 ** 34 }),
        }),
        tcRequest(RTM_TC.NEWQDISC, 0, {
          index: 2,
          parent: TC_H.ROOT,
          kind: "netem",
          options: {
            kind: "netem",
            latencyTicks: 0,
            limit: 1000,
            loss: parsePercent("1%"),
            gap: 1,
            duplicate: parsePercent("2%"),
            jitterTicks: 0,
            latency: 100_000_000,
            jitter: 10_000_000,
            correlation: { delay: 1, loss: 2, duplicate: 3 },
            reorder: { probability: 4, correlation: 5 },
            corrupt: { probability: 6, correlation: 7 },
            lossState: { p13: 1, p31: 2, p32: 3, p14: 4, p23: 5 },
            rate: {
              rate: 2 ** 33,
              packetOverhead: -4,
              cellSize: 53,
              cellOverhead: 5,
            },
            ecn: true,
            slot: {
              minDelay: 1,
              maxDelay: 2,
              maxPackets: 3,
              maxBytes: 4,
              distDelay: 5,
              distJitter: 6,
            },
            delayDistribution: [1, -2, 3],
            seed: "12345678901234567890",
          },
        }),
        tcRequest(RTM_TC.NEWTFILTER, 0, {
          index: 2,
          parent: 0xffff0000,
          info: 0x30000,
          kind: "u32",
          options: u32Options([{
            type: "ip",
            field: "src",
            prefix: "10.1.0.0/16",
          }], {
            classid: 0x10010,
            actions: [mirredAction({ ifindex: 3 }), gactAction("drop", 2)],
          }),
        }),
        tcRequest(RTM_TC.NEWTFILTER, 0, {
          index: 2,
          parent: 0xfffffff2,
          kind: "bpf",
          options: bpfOptions(
            parseBpfBytecode("2,40 0 0 12,6 0 0 4294967295"),
            {
              directAction: true,
              actions: [
                mirredAction({
                  ifindex: 3,
                  mode: "mirror",
                  direction: "ingress",
                }),
              ],
            },
          ),
        }),
      ];
      requests.push(
        tcRequest(RTM_TC.NEWQDISC, 0, {
          index: 2,
          parent: TC_H.ROOT,
          kind: "fq_codel",
          options: {
            kind: "fq_codel",
            values: {
              target: 5000,
              limit: 10240,
              interval: 100000,
              ecn: 1,
              ce_threshold_selector: 1,
            },
          },
        }),
        tcRequest(RTM_TC.NEWQDISC, 0, {
          index: 2,
          parent: TC_H.ROOT,
          kind: "fq",
          options: { kind: "fq", values: { plimit: 10000, horizon_drop: 1 } },
        }),
      );
      requests.forEach((r, i) => seeds.push(r.finish(i + 1)));
      const kinds = new Set(
        seeds.flatMap((s) => decodeMessages(s)).map((m) => m.kind),
      );
      assert(
        kinds.has("qdisc") && kinds.has("class") && kinds.has("filter"),
        [...kinds].join(","),
      );
      fuzzDecoder({
        seeds,
        cases: CASES,
        decode: (bytes) => void decodeMessages(bytes),
        types: [36, 37, 40, 41, 44, 45, 2, 3],
      });
    });
  },
);
