/**
 * Traffic-control messages without a kernel: seeded random qdiscs, classes
 * and filters survive decode(encode(x)) unchanged (unknown attributes
 * included); netem's options are laid out byte for byte as the uapi
 * headers and iproute2 put them (a struct, then attributes, not a nest);
 * tc's words, handles and rate tables. Pure: no kernel, no privilege.
 *
 * NSNET_FUZZ_SEED replays a run.
 */
import { assertEquals, assertThrows } from "./_assert.ts";
import { fuzzSeed, prng } from "./_fixtures/fuzz.ts";
import {
  type BpfOptions,
  decodeMessages,
  decodeTc,
  DEFAULT_SCHED_CLOCK,
  formatClassId,
  formatQdiscHandle,
  htbClassOptions,
  type HtbOptions,
  type NetemOptions,
  netemPayload,
  parseBpfBytecode,
  parseHandle,
  parsePercent,
  parseRate,
  parseSchedClock,
  parseSize,
  parseTimeNs,
  parseTimeUs,
  type RateSpec,
  rateTable,
  type RawAttribute,
  RTM_TC,
  tbfJson,
  type TbfOptions,
  tbfOptions,
  TC_H,
  type TcAction,
  TcKindMissingError,
  type TcObject,
  type TcOptions,
  tcRequest,
  type U32Options,
  u32Options,
  xmitTime,
} from "../lib/netlink/mod.ts";
import { netemJson, parseQdiscWords } from "../lib/cli/qdisc.ts";
import { parseFilterWords } from "../lib/cli/filter.ts";

const SEED = fuzzSeed();
const CASES = 2000;

type Random = () => number;
const int = (random: Random, n: number): number => Math.floor(random() * n);
const maybe = (random: Random): boolean => random() < 0.5;
const u32 = (random: Random): number => int(random, 0x1_0000_0000);
const u16 = (random: Random): number => int(random, 0x1_0000);
const s32 = (random: Random): number => u32(random) | 0;
const big = (random: Random): number =>
  int(random, 2 ** 20) * 2 ** 32 + u32(random); // up to 2^52
const sbig = (random: Random): number =>
  maybe(random) ? big(random) : -big(random);
const bytes = (random: Random, n: number): Uint8Array =>
  Uint8Array.from({ length: n }, () => int(random, 256));

function randomUnknown(
  random: Random,
  types: readonly number[],
): RawAttribute[] | undefined {
  if (random() < 0.7) return undefined;
  return Array.from({ length: 1 + int(random, 2) }, () => ({
    type: types[int(random, types.length)]!,
    data: bytes(random, int(random, 12)),
  }));
}

function rateSpec(random: Random, rate: number): RateSpec {
  return {
    rate,
    cellLog: int(random, 256),
    linklayer: int(random, 3),
    overhead: u16(random),
    cellAlign: u16(random) - 0x8000,
    mpu: u16(random),
  };
}

function randomTbf(random: Random): TbfOptions {
  const o: TbfOptions = {
    kind: "tbf",
    rate: rateSpec(random, maybe(random) ? u32(random) : big(random)),
    peakrate: rateSpec(random, maybe(random) ? 0 : big(random)),
    limit: u32(random),
    buffer: u32(random),
    mtu: u32(random),
  };
  if (maybe(random)) o.burst = u32(random);
  if (maybe(random)) o.pburst = u32(random);
  if (maybe(random)) o.rtab = Array.from({ length: 256 }, () => u32(random));
  if (maybe(random)) o.ptab = Array.from({ length: 256 }, () => u32(random));
  return o;
}

function randomHtb(random: Random): HtbOptions {
  const o: HtbOptions = { kind: "htb" };
  if (maybe(random)) {
    o.init = {
      version: u32(random),
      rate2quantum: u32(random),
      defaultClass: u32(random),
      debug: u32(random),
      directPackets: u32(random),
    };
    if (maybe(random)) o.directQlen = u32(random);
  } else {
    o.parms = {
      rate: rateSpec(random, maybe(random) ? u32(random) : big(random)),
      ceil: rateSpec(random, maybe(random) ? u32(random) : big(random)),
      buffer: u32(random),
      cbuffer: u32(random),
      quantum: u32(random),
      level: u32(random),
      prio: u32(random),
    };
    if (maybe(random)) o.rtab = Array.from({ length: 256 }, () => u32(random));
    if (maybe(random)) o.ctab = Array.from({ length: 256 }, () => u32(random));
    if (maybe(random)) o.offload = true;
  }
  return o;
}

function randomNetem(random: Random): NetemOptions {
  const o: NetemOptions = {
    kind: "netem",
    latencyTicks: u32(random),
    limit: u32(random),
    loss: u32(random),
    gap: u32(random),
    duplicate: u32(random),
    jitterTicks: u32(random),
  };
  if (maybe(random)) o.latency = sbig(random);
  if (maybe(random)) o.jitter = sbig(random);
  if (maybe(random)) {
    o.correlation = {
      delay: u32(random),
      loss: u32(random),
      duplicate: u32(random),
    };
  }
  if (maybe(random)) {
    o.reorder = { probability: u32(random), correlation: u32(random) };
  }
  if (maybe(random)) {
    o.corrupt = { probability: u32(random), correlation: u32(random) };
  }
  if (maybe(random)) {
    o.lossState = {
      p13: u32(random),
      p31: u32(random),
      p32: u32(random),
      p14: u32(random),
      p23: u32(random),
    };
  }
  if (maybe(random)) {
    o.lossGemodel = {
      p: u32(random),
      r: u32(random),
      h: u32(random),
      k1: u32(random),
    };
  }
  if (maybe(random)) {
    o.rate = {
      rate: maybe(random) ? u32(random) : big(random),
      packetOverhead: s32(random),
      cellSize: u32(random),
      cellOverhead: s32(random),
    };
  }
  if (maybe(random)) o.ecn = maybe(random);
  if (maybe(random)) {
    o.slot = {
      minDelay: sbig(random),
      maxDelay: sbig(random),
      maxPackets: s32(random),
      maxBytes: s32(random),
      distDelay: sbig(random),
      distJitter: sbig(random),
    };
  }
  if (maybe(random)) {
    o.delayDistribution = Array.from(
      { length: int(random, 40) },
      () => u16(random) - 0x8000,
    );
  }
  if (maybe(random)) {
    o.slotDistribution = Array.from(
      { length: int(random, 40) },
      () => u16(random) - 0x8000,
    );
  }
  if (maybe(random)) {
    o.seed = ((BigInt(u32(random)) << 32n) | BigInt(u32(random))).toString();
  }
  const unknown = randomUnknown(random, [15, 16, 200]);
  if (unknown !== undefined) o.unknown = unknown;
  return o;
}

function randomActions(random: Random): TcAction[] {
  return Array.from({ length: 1 + int(random, 3) }, (_, i) => {
    const action: TcAction = maybe(random)
      ? {
        order: i + 1,
        kind: "mirred",
        mirred: {
          index: u32(random),
          capab: u32(random),
          action: s32(random),
          refcnt: s32(random),
          bindcnt: s32(random),
          eaction: s32(random),
          ifindex: u32(random),
        },
      }
      : {
        order: i + 1,
        kind: "gact",
        gact: {
          index: u32(random),
          capab: u32(random),
          action: s32(random),
          refcnt: s32(random),
          bindcnt: s32(random),
        },
      };
    if (maybe(random)) action.index = u32(random);
    return action;
  });
}

function randomU32(random: Random): U32Options {
  const o: U32Options = { kind: "u32" };
  if (maybe(random)) o.classid = u32(random);
  if (maybe(random)) o.hash = u32(random);
  if (maybe(random)) o.link = u32(random);
  if (maybe(random)) o.divisor = u32(random);
  if (maybe(random)) {
    o.selector = {
      flags: int(random, 256),
      offshift: int(random, 256),
      offmask: u16(random),
      off: u16(random),
      offoff: u16(random) - 0x8000,
      hoff: u16(random) - 0x8000,
      hmask: u32(random),
      keys: Array.from({ length: int(random, 5) }, () => ({
        mask: u32(random),
        value: u32(random),
        offset: s32(random),
        offmask: s32(random),
      })),
    };
  }
  if (maybe(random)) o.indev = `eth${int(random, 100)}`;
  if (maybe(random)) o.flags = u32(random);
  if (maybe(random)) o.actions = randomActions(random);
  const unknown = randomUnknown(random, [9, 10, 40]);
  if (unknown !== undefined) o.unknown = unknown;
  return o;
}

function randomBpf(random: Random): BpfOptions {
  const o: BpfOptions = { kind: "bpf" };
  if (maybe(random)) o.classid = u32(random);
  if (maybe(random)) {
    o.ops = Array.from({ length: 1 + int(random, 8) }, () => ({
      code: u16(random),
      jt: int(random, 256),
      jf: int(random, 256),
      k: u32(random),
    }));
  }
  if (maybe(random)) o.fd = u32(random);
  if (maybe(random)) o.name = `prog${int(random, 100)}`;
  if (maybe(random)) o.flags = u32(random);
  if (maybe(random)) o.flagsGen = u32(random);
  if (maybe(random)) {
    o.tag = Array.from(bytes(random, 8), (b) => b.toString(16).padStart(2, "0"))
      .join("");
  }
  if (maybe(random)) o.id = u32(random);
  if (maybe(random)) o.actions = randomActions(random);
  const unknown = randomUnknown(random, [12, 13, 60]);
  if (unknown !== undefined) o.unknown = unknown;
  return o;
}

function randomObject(random: Random): TcObject {
  const pick = int(random, 9);
  let options: TcOptions | undefined;
  let kind: string;
  switch (pick) {
    case 0:
      options = randomTbf(random);
      kind = "tbf";
      break;
    case 1:
      options = randomHtb(random);
      kind = "htb";
      break;
    case 2:
      kind = maybe(random) ? "pfifo" : "bfifo";
      options = { kind, limit: u32(random) } as TcOptions;
      break;
    case 3:
      options = randomNetem(random);
      kind = "netem";
      break;
    case 4:
      options = randomU32(random);
      kind = "u32";
      break;
    case 5:
      options = randomBpf(random);
      kind = "bpf";
      break;
    case 6:
      kind = maybe(random) ? "ingress" : "clsact";
      break;
    case 7: {
      kind = maybe(random) ? "fq_codel" : "fq";
      const names = kind === "fq"
        ? ["plimit", "flow_plimit", "quantum", "horizon", "horizon_drop"]
        : ["target", "limit", "interval", "ecn", "ce_threshold_selector"];
      const values: Record<string, number> = {};
      for (const name of names) {
        if (maybe(random)) {
          values[name] = name.endsWith("_drop") || name.endsWith("_selector")
            ? int(random, 256)
            : u32(random);
        }
      }
      options = { kind, values } as TcOptions;
      const unknown = randomUnknown(random, [16, 17, 30]);
      if (unknown !== undefined) {
        (options as { unknown?: RawAttribute[] }).unknown = unknown;
      }
      break;
    }
    default:
      kind = `kind${int(random, 10)}`;
      options = { kind: "raw", data: bytes(random, int(random, 40)) };
  }
  const object: TcObject = {
    family: int(random, 256),
    index: s32(random),
    handle: u32(random),
    parent: u32(random),
    info: u32(random),
    kind,
  };
  if (options !== undefined) object.options = options;
  if (maybe(random)) object.chain = u32(random);
  const unknown = randomUnknown(random, [16, 17, 100]);
  if (unknown !== undefined) object.unknown = unknown;
  return object;
}

function encode(type: number, object: TcObject): Uint8Array {
  return tcRequest(type, 0, object).finish(1);
}

Deno.test("tc messages: decode(encode(x)) == x for seeded random qdiscs, classes and filters", () => {
  const random = prng(SEED);
  const types = [RTM_TC.NEWQDISC, RTM_TC.NEWTCLASS, RTM_TC.NEWTFILTER];
  for (let i = 0; i < CASES; i++) {
    const object = randomObject(random);
    const type = types[i % 3]!;
    const message = encode(type, object);
    const view = new DataView(
      message.buffer,
      message.byteOffset,
      message.byteLength,
    );
    assertEquals(
      decodeTc(message, view, 16, message.length),
      object,
      `seed ${SEED}, case ${i}`,
    );
    const [decoded] = decodeMessages(message);
    assertEquals(
      decoded!.kind,
      ["qdisc", "class", "filter"][i % 3],
      `seed ${SEED}, case ${i}`,
    );
  }
});

Deno.test("netem options: tc_netem_qopt, then the attributes in iproute2's order, not nested", () => {
  const options: NetemOptions = {
    kind: "netem",
    latencyTicks: 0,
    limit: 1000,
    loss: parsePercent("1%"),
    gap: 0,
    duplicate: 0,
    jitterTicks: 0,
    latency: 100_000_000,
    jitter: 10_000_000,
    correlation: { delay: parsePercent("25%"), loss: 0, duplicate: 0 },
    lossGemodel: { p: 1, r: 2, h: 3, k1: 4 },
    rate: { rate: 125_000, packetOverhead: -4, cellSize: 0, cellOverhead: 0 },
  };
  const expected: number[] = [];
  const u32le = (v: number) =>
    expected.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24);
  const attr = (type: number, length: number) => {
    expected.push(length & 0xff, length >>> 8, type & 0xff, type >>> 8);
  };
  // struct tc_netem_qopt { latency, limit, loss, gap, duplicate, jitter }
  [0, 1000, 42949673, 0, 0, 0].forEach(u32le);
  attr(10, 12); // TCA_NETEM_LATENCY64, s64 ns
  u32le(100_000_000);
  u32le(0);
  attr(11, 12); // TCA_NETEM_JITTER64
  u32le(10_000_000);
  u32le(0);
  attr(1, 16); // TCA_NETEM_CORR { delay_corr, loss_corr, dup_corr }
  [1073741824, 0, 0].forEach(u32le);
  attr(5 | 0x8000, 4 + 20); // TCA_NETEM_LOSS, a real nest
  attr(2, 20); // NETEM_LOSS_GE { p, r, h, k1 }
  [1, 2, 3, 4].forEach(u32le);
  attr(6, 20); // TCA_NETEM_RATE { rate, packet_overhead, cell_size, cell_overhead }
  [125_000, 0xfffffffc, 0, 0].forEach(u32le);
  assertEquals(Array.from(netemPayload(options)), expected);
  // As TCA_OPTIONS of a request: a plain attribute (no NLA_F_NESTED) holding exactly that.
  const message = tcRequest(RTM_TC.NEWQDISC, 0, {
    index: 2,
    parent: TC_H.ROOT,
    kind: "netem",
    options,
  }).finish(1);
  const view = new DataView(message.buffer, message.byteOffset);
  const optionsAt = 16 + 20 + 12; // header, tcmsg, TCA_KIND "netem\0" padded
  assertEquals(view.getUint16(optionsAt + 2, true), 2);
  assertEquals(view.getUint16(optionsAt, true), 4 + expected.length);
  const decoded = decodeTc(message, view, 16, message.length);
  assertEquals(decoded.options, options);
});

Deno.test("tc handles read and print as tc's", () => {
  assertEquals(parseHandle("1:"), 0x10000);
  assertEquals(parseHandle("1:10"), 0x10010);
  assertEquals(parseHandle("ffff:"), 0xffff0000);
  assertEquals(parseHandle("ffff:fff2"), 0xfffffff2);
  assertEquals(parseHandle("root"), TC_H.ROOT);
  assertEquals(parseHandle("ingress"), TC_H.INGRESS);
  assertEquals(parseHandle("clsact"), TC_H.INGRESS);
  assertEquals(parseHandle(":5"), 5);
  assertEquals(parseHandle("x:y"), undefined);
  assertEquals(formatClassId(0xfffffff1), "ffff:fff1");
  assertEquals(formatClassId(0x10010), "1:10");
  assertEquals(formatClassId(0x10000), "1:");
  assertEquals(formatClassId(TC_H.ROOT), "root");
  assertEquals(formatQdiscHandle(0x80010000), "8001:");
});

Deno.test("tc's words: rates, sizes, times, percentages", () => {
  assertEquals(parseRate("10mbit"), 1_250_000);
  assertEquals(parseRate("1gbit"), 125_000_000);
  assertEquals(parseRate("125kbps"), 125_000);
  assertEquals(parseRate("8000"), 1000);
  assertEquals(parseSize("32kbit"), 4096);
  assertEquals(parseSize("15k"), 15 * 1024);
  assertEquals(parseSize("1600b"), 1600);
  assertEquals(parseTimeUs("400ms"), 400_000);
  assertEquals(parseTimeNs("10ms"), 10_000_000);
  assertEquals(parseTimeUs("1s"), 1_000_000);
  assertEquals(parsePercent("100%"), 0xffffffff);
  assertEquals(parsePercent("0"), 0);
  assertThrows(() => parseRate("fast"));
  assertThrows(() => parsePercent("101%"));
  assertThrows(() => parseBpfBytecode("2,6 0 0 0"));
  assertEquals(parseBpfBytecode("1,6 0 0 4294967295"), [
    { code: 6, jt: 0, jf: 0, k: 0xffffffff },
  ]);
});

Deno.test("rate tables and tbf as tc computes them (the psched clock of this kernel generation)", () => {
  assertEquals(
    parseSchedClock("000003e8 00000040 000f4240 3b9aca00"),
    DEFAULT_SCHED_CLOCK,
  );
  const clock = DEFAULT_SCHED_CLOCK;
  // 10mbit, 32kbit bucket, 400ms: tc 6.1 sends limit 504096, buffer 51187 ticks (3276 us).
  const tbf = tbfOptions({
    rate: parseRate("10mbit"),
    burst: parseSize("32kbit"),
    latency: parseTimeUs("400ms"),
  }, clock);
  assertEquals([tbf.limit, tbf.buffer, tbf.burst], [504096, 51187, 4096]);
  assertEquals(tbf.rtab!.length, 256);
  // cell_log 3 covers a 2047-byte mtu in 256 cells; cell 0 is 8 bytes at 1.25 MB/s.
  assertEquals(tbf.rate.cellLog, 3);
  assertEquals(tbf.rtab![0], xmitTime(1_250_000, 8, clock));
  // The kernel keeps the bucket from TCA_TBF_BURST and dumps 51200 ticks, which tc reads as 4095 bytes.
  assertEquals(tbfJson({ ...tbf, buffer: 51200 }, clock), {
    rate: 1250000,
    burst: 4095,
    lat: 400000,
  });
  const table = rateTable(tbf.rate, 1600, clock);
  assertEquals(table.spec.cellLog, 3);
  const htb = htbClassOptions({ rate: parseRate("10mbit") }, clock);
  assertEquals(htb.parms!.ceil.rate, 1_250_000);
  assertEquals(htb.rtab!.length, 256);
  assertEquals(htb.ctab!.length, 256);
});

Deno.test("TcKindMissingError names the config option", () => {
  const error = new TcKindMissingError("qdisc", "netem");
  assertEquals(error.config, "CONFIG_NET_SCH_NETEM");
  assertEquals(
    new TcKindMissingError("action", "gact").config,
    "CONFIG_NET_ACT_GACT",
  );
  assertEquals(
    new TcKindMissingError("qdisc", "fq_codel").config,
    "CONFIG_NET_SCH_FQ_CODEL",
  );
});

Deno.test("u32Options: match all, a flowid or an action makes the selector terminal", () => {
  const all = u32Options([], { actions: [] });
  assertEquals(all.selector!.keys, [{
    mask: 0,
    value: 0,
    offset: 0,
    offmask: 0,
  }]);
  const dst = u32Options(
    [{ type: "ip", field: "dst", prefix: "10.0.0.0/24" }],
    {
      classid: 0x10010,
    },
  );
  assertEquals(dst.selector!.flags, 1);
  assertEquals(dst.selector!.keys, [{
    mask: 0xffffff00,
    value: 0x0a000000,
    offset: 16,
    offmask: 0,
  }]);
});

Deno.test("nsnet qdisc words: tc's own lines, an optional namespace first", () => {
  const clock = DEFAULT_SCHED_CLOCK;
  const tbf = parseQdiscWords(
    "ns1 dev v2 root tbf rate 10mbit burst 32kbit latency 400ms".split(" "),
    true,
    clock,
  );
  assertEquals(tbf.netns, "ns1");
  assertEquals(tbf.spec.parent, TC_H.ROOT);
  assertEquals(
    tbf.spec.options,
    tbfOptions({ rate: 1_250_000, burst: 4096, latency: 400_000 }, clock),
  );
  const ingress = parseQdiscWords(["dev", "v1", "ingress"], true, clock);
  assertEquals([ingress.netns, ingress.spec.kind, ingress.spec.parent], [
    undefined,
    "ingress",
    TC_H.INGRESS,
  ]);
  const htb = parseQdiscWords(
    "dev v1 root handle 1: htb default 10".split(" "),
    true,
    clock,
  );
  assertEquals(htb.spec.handle, 0x10000);
  assertEquals(
    (htb.spec.options as HtbOptions).init!.defaultClass,
    0x10,
  );
  const netem = parseQdiscWords(
    "dev v2 root netem delay 100ms 10ms 25% loss 1%".split(" "),
    true,
    clock,
  );
  const o = netem.spec.options as NetemOptions;
  assertEquals([o.latency, o.jitter, o.loss, o.limit], [
    100_000_000,
    10_000_000,
    parsePercent("1%"),
    1000,
  ]);
  assertEquals(o.correlation, {
    delay: parsePercent("25%"),
    loss: 0,
    duplicate: 0,
  });
  const json = netemJson(o);
  assertEquals(Object.keys(json), [
    "limit",
    "delay",
    "loss-random",
    "ecn",
    "gap",
  ]);
  assertEquals((json.delay as Record<string, number>).delay, 0.1);
  assertThrows(() =>
    parseQdiscWords("dev v2 root netem gap 5".split(" "), true, clock)
  );
  assertThrows(() =>
    parseQdiscWords(
      "dev v2 root netem delay 1ms distribution normal".split(" "),
      true,
      clock,
    )
  );
  assertThrows(() =>
    parseQdiscWords("dev v2 tbf rate 1mbit".split(" "), true, clock)
  );
  const del = parseQdiscWords("dev v2 root".split(" "), false, clock);
  assertEquals(del.spec.kind, undefined);
});

Deno.test("nsnet filter words: u32 match all with a mirred redirect to an ifb", () => {
  const parsed = parseFilterWords(
    "ns1 dev v1 parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev ifb0"
      .split(" "),
  );
  assertEquals(parsed.netns, "ns1");
  const spec = parsed.build((device) => device === "ifb0" ? 7 : 0);
  assertEquals(spec.parent, 0xffff0000);
  assertEquals(spec.kind, "u32");
  const options = spec.options as U32Options;
  assertEquals(options.selector!.flags, 1);
  assertEquals(options.actions![0]!.mirred!.ifindex, 7);
  assertEquals(options.actions![0]!.mirred!.eaction, 1);
  const bpf = parseFilterWords(
    ["dev", "v1", "ingress", "bpf", "bytecode", "1,6 0 0 4294967295", "da"],
  ).build(() => 0);
  assertEquals(bpf.parent, 0xfffffff2);
  assertEquals((bpf.options as BpfOptions).flags, 1);
  assertThrows(() =>
    parseFilterWords("dev v1 parent ffff: bpf obj x.o".split(" ")).build(() =>
      0
    )
  );
});
