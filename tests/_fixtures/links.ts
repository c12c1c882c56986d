/**
 * Seeded random links for round-trip, fuzz and differential tests: random
 * `IFLA_INFO_DATA` for every kind table in link_info.ts, and random whole
 * {@linkcode Link}s.
 *
 * @module
 */

import {
  type Link,
  LINK_INFO_SCHEMAS,
  LINK_SLAVE_INFO_SCHEMAS,
  LINK_STATS_FIELDS,
  type LinkInfo,
  type LinkInfoData,
  type LinkInfoField,
  type LinkInfoValue,
  type LinkStats,
} from "../../lib/netlink/mod.ts";

/** A random source in [0, 1), e.g. `prng(seed)` from fuzz.ts. */
export type Random = () => number;

function int(random: Random, n: number): number {
  return Math.floor(random() * n);
}

function pickOne<T>(random: Random, items: readonly T[]): T {
  return items[int(random, items.length)]!;
}

function mac(random: Random, length = 6): string {
  return Array.from(
    { length },
    () => int(random, 256).toString(16).padStart(2, "0"),
  ).join(":");
}

function bytes(random: Random, max: number): Uint8Array {
  return Uint8Array.from(
    { length: int(random, max + 1) },
    () => int(random, 256),
  );
}

/** A random value of `field`'s wire type (a value word for an enumeration, half the time). */
export function randomValue(
  random: Random,
  field: LinkInfoField,
): LinkInfoValue {
  if (field.values !== undefined && random() < 0.5) {
    return pickOne(random, Object.values(field.values));
  }
  const word = (n: number): LinkInfoValue => field.values?.[n] ?? n;
  switch (field.codec) {
    case "u8":
      return word(int(random, 256));
    case "u16":
    case "be16":
      return word(int(random, 65536));
    case "u32":
    case "be32":
      return word(int(random, 4294967296));
    case "s32":
      return int(random, 4294967296) - 2147483648;
    case "u64":
      return int(random, 2 ** 53);
    case "bool":
      return random() < 0.5;
    case "flag":
      return true;
    case "string":
      return `s${int(random, 1000)}`;
    case "ipv4":
      return Array.from({ length: 4 }, () => int(random, 256)).join(".");
    case "ipv6":
      return `fd00::${(1 + int(random, 65535)).toString(16)}`;
    case "mac":
      return mac(random);
    case "binary":
      return bytes(random, 24);
  }
}

/** Random data for `schema`: a random subset of its fields in random order, sometimes unknown attributes. */
export function randomInfoData(
  random: Random,
  schema: readonly LinkInfoField[],
): LinkInfoData {
  const data: LinkInfoData = {};
  const fields = schema.filter(() => random() < 0.6);
  for (let i = fields.length - 1; i > 0; i--) {
    const j = int(random, i + 1);
    [fields[i], fields[j]] = [fields[j]!, fields[i]!];
  }
  for (const field of fields) data[field.name] = randomValue(random, field);
  if (random() < 0.3) {
    data.unknown = [{ type: 200 + int(random, 50), data: bytes(random, 12) }];
  }
  return data;
}

/** Random IFLA_LINKINFO of `kind` (default: any kind nsnet has a table for). */
export function randomLinkInfo(random: Random, kind?: string): LinkInfo {
  const k = kind ?? pickOne(random, Object.keys(LINK_INFO_SCHEMAS));
  const info: LinkInfo = { kind: k };
  const schema = LINK_INFO_SCHEMAS[k]!;
  if (schema.length > 0 && random() < 0.9) {
    info.data = randomInfoData(random, schema);
  }
  if (random() < 0.3) {
    info.slaveKind = "bridge";
    info.slaveData = randomInfoData(random, LINK_SLAVE_INFO_SCHEMAS.bridge!);
  }
  if (random() < 0.2) info.unknown = [{ type: 3, data: bytes(random, 16) }];
  return info;
}

function randomStats(random: Random): LinkStats {
  const stats = {} as Record<keyof LinkStats, number>;
  for (const name of LINK_STATS_FIELDS) stats[name] = int(random, 2 ** 40);
  return stats;
}

/** A random whole link, as decodeLink would give it (every optional field sometimes set). */
export function randomLink(random: Random, kind?: string): Link {
  const maybe = <T>(make: () => T): T | undefined =>
    random() < 0.5 ? make() : undefined;
  const info = random() < 0.9 ? randomLinkInfo(random, kind) : undefined;
  const link: Link = {
    index: 1 + int(random, 10000),
    name: `l${int(random, 100000)}`,
    type: pickOne(random, [1, 772, 65534, 768]),
    flags: int(random, 0x80000),
    kind: info?.kind,
    slaveKind: info?.slaveKind,
    mtu: 68 + int(random, 65000),
    minMtu: maybe(() => int(random, 100)),
    maxMtu: maybe(() => int(random, 65536)),
    mac: maybe(() => mac(random)),
    broadcast: maybe(() => mac(random)),
    permanentMac: maybe(() => mac(random)),
    operstate: pickOne(random, [
      "UNKNOWN",
      "NOTPRESENT",
      "DOWN",
      "LOWERLAYERDOWN",
      "TESTING",
      "DORMANT",
      "UP",
    ]),
    master: maybe(() => int(random, 1000)),
    link: maybe(() => int(random, 1000)),
    linkNetnsId: maybe(() => int(random, 100) - 1),
    qdisc: maybe(() => pickOne(random, ["noqueue", "noop", "fq_codel"])),
    txqlen: maybe(() => int(random, 10000)),
    group: maybe(() => int(random, 10)),
    promiscuity: maybe(() => int(random, 3)),
    carrier: maybe(() => random() < 0.5),
    carrierChanges: maybe(() => int(random, 100)),
    alias: maybe(() => `alias ${int(random, 100)}`),
    altNames: random() < 0.3 ? [`alt${int(random, 100)}`] : [],
    stats: maybe(() => randomStats(random)),
  };
  const extras: [keyof Link, () => number | boolean][] = [
    ["linkMode", () => int(random, 2)],
    ["allmulti", () => int(random, 3)],
    ["numTxQueues", () => 1 + int(random, 8)],
    ["numRxQueues", () => 1 + int(random, 8)],
    ["gsoMaxSegs", () => int(random, 65536)],
    ["gsoMaxSize", () => int(random, 65536)],
    ["groMaxSize", () => int(random, 65536)],
    ["tsoMaxSize", () => int(random, 65536)],
    ["tsoMaxSegs", () => int(random, 65536)],
    ["gsoIpv4MaxSize", () => int(random, 65536)],
    ["groIpv4MaxSize", () => int(random, 65536)],
    ["carrierUpCount", () => int(random, 100)],
    ["carrierDownCount", () => int(random, 100)],
    ["protoDown", () => random() < 0.5],
    ["netnsImmutable", () => random() < 0.5],
    ["headroom", () => int(random, 256)],
    ["tailroom", () => int(random, 256)],
    ["maxPacingOffloadHorizon", () => int(random, 1e9)],
  ];
  const record = link as unknown as Record<string, unknown>;
  for (const [key, make] of extras) if (random() < 0.5) record[key] = make();
  if (info !== undefined) link.info = info;
  if (random() < 0.4) {
    link.unknown = [{ type: 26, data: bytes(random, 40) }, {
      type: 43,
      data: bytes(random, 8),
    }];
  }
  return link;
}
