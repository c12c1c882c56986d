/**
 * IPv4 addressing of a lab, shared by the spec check (which only wants to
 * know that it succeeds) and the plan (which keeps the result): every link
 * and switch gets its subnet (given, taken from its given addresses, or the
 * next free /24 of the pool) and every member its address (given, or the
 * lowest free host address in member order). Internal to lib/lab.
 *
 * @module
 */

import { AF } from "../netlink/constants.ts";
import { formatIPv4, tryParseIP } from "../netlink/ip_address.ts";
import type { LabSpec } from "./types.ts";

/** Raises the spec error for `field` (what spec.ts passes in). */
export type Fail = (field: string, problem: string) => never;

/** The IPv4 pool link and switch subnets come from unless the spec gives `pool`. */
export const DEFAULT_POOL = "10.77.0.0/16";

/** `base.key`, or `base["odd key"]` when the key is not a plain word. */
export function fieldPath(base: string, key: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(key)) return base === "" ? key : `${base}.${key}`;
  return `${base}[${JSON.stringify(key)}]`;
}

/** A link or switch with its IPv4 subnet and its members' addresses. */
export interface ResolvedSegment {
  /** `link:<index>` or `switch:<name>`. */
  id: string;
  /** The field of the spec it comes from: `links[0]`, `switches.s1`. */
  field: string;
  /** `link` or `switch`. */
  kind: "link" | "switch";
  /** Members in spec order. */
  nodes: string[];
  /** IPv4 subnet, CIDR. */
  subnet: string;
  /** The members' IPv4 addresses, CIDR, in the order of `nodes`. */
  addresses: string[];
}

interface Subnet {
  base: number;
  prefix: number;
  size: number;
}

interface Segment {
  id: string;
  field: string;
  kind: "link" | "switch";
  nodes: string[];
  subnetText?: string;
  /** Per member: the given address text and its field. */
  given: ({ text: string; field: string } | undefined)[];
  subnet?: Subnet;
  /** The field the subnet was given in or taken from. */
  subnetField?: string;
  hosts: (number | undefined)[];
}

function toNumber(bytes: Uint8Array): number {
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) |
    bytes[3]!) >>> 0;
}

function toText(n: number): string {
  return formatIPv4(
    Uint8Array.of(n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255),
  );
}

function cidr(s: Subnet): string {
  return `${toText(s.base)}/${s.prefix}`;
}

type Parsed =
  | { ok: true; ip: number; prefix: number | undefined }
  | { ok: false; v6: boolean };

function parseV4(text: string): Parsed {
  const parts = text.split("/");
  const ip = tryParseIP(parts[0]!);
  if (ip?.family === AF.INET6) return { ok: false, v6: true };
  if (ip === undefined || parts.length > 2) return { ok: false, v6: false };
  const p = parts[1];
  if (p === undefined) {
    return { ok: true, ip: toNumber(ip.bytes), prefix: undefined };
  }
  if (!/^\d{1,2}$/.test(p) || Number(p) > 32) return { ok: false, v6: false };
  return { ok: true, ip: toNumber(ip.bytes), prefix: Number(p) };
}

function subnetOf(ip: number, prefix: number): Subnet {
  const size = 2 ** (32 - prefix);
  return { base: ip - (ip % size), prefix, size };
}

function parseSubnet(
  text: string,
  field: string,
  longest: number,
  fail: Fail,
): Subnet {
  const parsed = parseV4(text);
  if (!parsed.ok) {
    fail(
      field,
      parsed.v6
        ? `${
          JSON.stringify(text)
        } is IPv6; subnets here are IPv4 (IPv6 ULA subnets are assigned), e.g. 10.77.5.0/24`
        : `${
          JSON.stringify(text)
        } is not an IPv4 subnet (write it as CIDR, e.g. 10.77.5.0/24)`,
    );
  }
  if (parsed.prefix === undefined) {
    fail(
      field,
      `${
        JSON.stringify(text)
      } has no prefix length (write it as CIDR, e.g. ${text}/24)`,
    );
  }
  if (parsed.prefix < 8 || parsed.prefix > longest) {
    fail(
      field,
      `${
        JSON.stringify(text)
      } has prefix /${parsed.prefix}, it must be /8 to /${longest} (${
        longest === 30
          ? "a /31 or /32 leaves no room for two hosts"
          : "the pool hands out a /24 to each link and switch"
      })`,
    );
  }
  const subnet = subnetOf(parsed.ip, parsed.prefix);
  if (subnet.base !== parsed.ip) {
    fail(
      field,
      `${JSON.stringify(text)} has host bits set (did you mean ${
        cidr(subnet)
      }?)`,
    );
  }
  return subnet;
}

function overlaps(a: Subnet, b: Subnet): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

function inside(outer: Subnet, inner: Subnet): boolean {
  return inner.base >= outer.base &&
    inner.base + inner.size <= outer.base + outer.size;
}

function segmentsOf(spec: LabSpec): Segment[] {
  const out: Segment[] = [];
  (spec.links ?? []).forEach((link, i) => {
    const field = `links[${i}]`;
    out.push({
      id: `link:${i}`,
      field,
      kind: "link",
      nodes: [...link.ends],
      subnetText: link.subnet,
      given: link.ends.map((_, j) => {
        const text = link.addresses?.[j];
        return text === undefined
          ? undefined
          : { text, field: `${field}.addresses[${j}]` };
      }),
      hosts: [],
    });
  });
  for (const [name, sw] of Object.entries(spec.switches ?? {})) {
    const field = fieldPath("switches", name);
    out.push({
      id: `switch:${name}`,
      field,
      kind: "switch",
      nodes: [...sw.nodes],
      subnetText: sw.subnet,
      given: sw.nodes.map((member) => {
        const given = sw.addresses ?? {};
        const text = Object.hasOwn(given, member) ? given[member] : undefined;
        return text === undefined
          ? undefined
          : { text, field: fieldPath(`${field}.addresses`, member) };
      }),
      hosts: [],
    });
  }
  return out;
}

/** Gives the segment its subnet (if fixed by the spec) and checks its given addresses. */
function fixSegment(segment: Segment, fail: Fail): void {
  const parsed = segment.given.map((g) => {
    if (g === undefined) return undefined;
    const p = parseV4(g.text);
    if (!p.ok) {
      fail(
        g.field,
        p.v6
          ? `${
            JSON.stringify(g.text)
          } is IPv6; the addresses given here are IPv4 (IPv6 ULA addresses are assigned)`
          : `${
            JSON.stringify(g.text)
          } is not an IPv4 address (write it as CIDR, e.g. 10.77.5.1/24)`,
      );
    }
    return { ...p, ...g };
  });
  if (segment.subnetText !== undefined) {
    segment.subnetField = `${segment.field}.subnet`;
    segment.subnet = parseSubnet(
      segment.subnetText,
      segment.subnetField,
      30,
      fail,
    );
  } else {
    const first = parsed.find((p) => p !== undefined);
    if (first !== undefined) {
      const withPrefix = parsed.find((p) => p?.prefix !== undefined);
      if (withPrefix === undefined) {
        fail(
          first.field,
          `${
            JSON.stringify(first.text)
          } has no prefix length (write e.g. ${first.text}/24, or give ${segment.field}.subnet)`,
        );
      }
      const prefix = withPrefix.prefix!;
      if (prefix < 8 || prefix > 30) {
        fail(
          withPrefix.field,
          `${
            JSON.stringify(withPrefix.text)
          } has prefix /${prefix}, it must be /8 to /30 (a /31 or /32 leaves no room for two hosts)`,
        );
      }
      segment.subnet = subnetOf(withPrefix.ip, prefix);
      segment.subnetField = withPrefix.field;
    }
  }
  const subnet = segment.subnet;
  const what = segment.kind === "link" ? "the link's" : "the switch's";
  segment.hosts = parsed.map((p) => {
    if (p === undefined) return undefined;
    if (subnet === undefined) return undefined; // unreachable: derived above
    const net = cidr(subnet);
    if (p.prefix !== undefined && p.prefix !== subnet.prefix) {
      fail(
        p.field,
        `${
          JSON.stringify(p.text)
        } has prefix /${p.prefix}, but ${what} subnet is ${net} (write ${
          toText(p.ip)
        }/${subnet.prefix})`,
      );
    }
    if (!inside(subnet, subnetOf(p.ip, 32))) {
      fail(
        p.field,
        `${
          toText(p.ip)
        } is not inside ${what} subnet ${net} (give an address of ${net}, or change the subnet)`,
      );
    }
    const range = `${toText(subnet.base + 1)} to ${
      toText(subnet.base + subnet.size - 2)
    }`;
    if (p.ip === subnet.base) {
      fail(
        p.field,
        `${
          toText(p.ip)
        } is the network address of ${net} (give a host address, ${range})`,
      );
    }
    if (p.ip === subnet.base + subnet.size - 1) {
      fail(
        p.field,
        `${
          toText(p.ip)
        } is the broadcast address of ${net} (give a host address, ${range})`,
      );
    }
    return p.ip;
  });
}

/**
 * Resolves the IPv4 addressing of a (structurally checked) spec: links in
 * order, then switches. Raises through `fail` for every addressing mistake:
 * bad subnets or pool, addresses outside their subnet or used twice,
 * overlapping subnets, subnets outside the pool or too small, a full pool.
 */
export function resolveAddressing(
  spec: LabSpec,
  fail: Fail,
): ResolvedSegment[] {
  const pool = parseSubnet(spec.pool ?? DEFAULT_POOL, "pool", 24, fail);
  const segments = segmentsOf(spec);
  for (const segment of segments) fixSegment(segment, fail);

  const used = new Map<number, string>();
  for (const segment of segments) {
    segment.hosts.forEach((ip, j) => {
      if (ip === undefined) return;
      const field = segment.given[j]!.field;
      const earlier = used.get(ip);
      if (earlier !== undefined) {
        fail(
          field,
          `${
            toText(ip)
          } is already the address of ${earlier} (every address in a lab is used once)`,
        );
      }
      used.set(ip, field);
    });
  }

  const fixed = segments.filter((s) => s.subnet !== undefined);
  for (const [i, segment] of fixed.entries()) {
    const subnet = segment.subnet!;
    if (!inside(pool, subnet)) {
      fail(
        segment.subnetField!,
        `${cidr(subnet)} is not inside the pool ${
          cidr(pool)
        } (give a subnet of the pool, or set "pool" to a range that holds it)`,
      );
    }
    for (const other of fixed.slice(0, i)) {
      if (overlaps(other.subnet!, subnet)) {
        fail(
          segment.subnetField!,
          `${cidr(subnet)} overlaps ${other.field}'s subnet ${
            cidr(other.subnet!)
          } (the subnets of a lab are disjoint)`,
        );
      }
    }
  }

  let cursor = pool.base;
  const end = pool.base + pool.size;
  const taken = fixed.map((s) => s.subnet!);
  for (const segment of segments) {
    if (segment.subnet !== undefined) continue;
    while (true) {
      if (cursor >= end) {
        fail(
          segment.field,
          `no /24 is left for it in the pool ${
            cidr(pool)
          } (set a larger "pool", e.g. 10.0.0.0/8, or give it a "subnet")`,
        );
      }
      const candidate = subnetOf(cursor, 24);
      cursor += 256;
      if (!taken.some((t) => overlaps(t, candidate))) {
        segment.subnet = candidate;
        break;
      }
    }
  }

  return segments.map((segment): ResolvedSegment => {
    const subnet = segment.subnet!;
    const hostCount = subnet.size - 2;
    if (segment.nodes.length > hostCount) {
      fail(
        segment.subnetField ?? segment.field,
        `${
          cidr(subnet)
        } has ${hostCount} host addresses, the ${segment.kind} has ${segment.nodes.length} members (use a larger subnet, e.g. a /24)`,
      );
    }
    const mine = new Set(segment.hosts.filter((h) => h !== undefined));
    let next = subnet.base + 1;
    const addresses = segment.hosts.map((host) => {
      let ip = host;
      if (ip === undefined) {
        while (mine.has(next)) next++;
        ip = next++;
      }
      return `${toText(ip)}/${subnet.prefix}`;
    });
    return {
      id: segment.id,
      field: segment.field,
      kind: segment.kind,
      nodes: segment.nodes,
      subnet: cidr(subnet),
      addresses,
    };
  });
}
