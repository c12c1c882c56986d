/**
 * `Lab`: a small network of namespaces for tests, made from a topology
 * spec; `LabLink`: one of its links, impaired, partitioned and healed live.
 *
 * @module
 */

import { NeedsUserNamespaceError, NsnetError } from "../errors.ts";
import type { FileLock } from "../lock.ts";
import { warn } from "../log.ts";
import { getLink, setLink } from "../netlink/link.ts";
import type { LinkStats } from "../netlink/link_message.ts";
import { replaceRoute } from "../netlink/route.ts";
import { processStartTime } from "../process_identity.ts";
import { isRootless } from "../rootless/detect.ts";
import { needsUserNS } from "../rootless/userns.ts";
import {
  addInterfaceAddresses,
  buildLab,
  finishBatches,
  impairedEnds,
  lossRulesByNetns,
  NamespaceSet,
  type SegmentEnd,
  segmentEnds,
  startLossBatches,
  teardownLab,
} from "./build.ts";
import { LabExistsError, LabMemberError, LabNotFoundError } from "./errors.ts";
import {
  applyQdiscs,
  assumeNetem,
  clearQdiscs,
  currentShape,
  isImpaired,
  lossInNetem,
  netemKnown,
} from "./impair.ts";
import { LabNode } from "./node.ts";
import { labAddress, type LabAddressOptions, planLab } from "./plan.ts";
import { parseImpairment } from "./spec.ts";
import {
  type LabRecord,
  listLabRecords,
  lockLab,
  pruneLabDirs,
  readLabRecord,
  removeLabRecord,
  writeLabRecord,
} from "./store.ts";
import type { Impairment, LabPlan, LabSpec, PlannedSegment } from "./types.ts";

function requirePrivilege(operation: string): void {
  if (needsUserNS()) throw new NeedsUserNamespaceError(operation);
}

/** Options for {@linkcode Lab.create}. */
export interface LabOptions {
  /** Its name (default a random `lab-xxxxxxxx`). */
  name?: string;
}

/** The counters of one end of a link, from its interface. */
export interface LinkEndStats {
  /** The node. */
  node: string;
  /** Its interface on the link. */
  interface: string;
  /** The interface's counters; absent when they could not be read. */
  stats?: LinkStats;
}

/** A link (or switch) in {@linkcode LabStatus}. */
export interface LinkStatus {
  /** `link:<index>` or `switch:<name>`. */
  id: string;
  /** `link` or `switch`. */
  kind: "link" | "switch";
  /** Its nodes (ends, or members). */
  nodes: string[];
  /** IPv4 subnet. */
  subnet: string;
  /** IPv6 subnet. */
  subnet6?: string;
  /** Its impairment now. */
  impairment: Impairment;
  /** Only this end's traffic is impaired. */
  from?: string;
  /** Taken down (a partition). */
  down: boolean;
  /** Live counters of each end (absent without privilege). */
  ends?: LinkEndStats[];
}

/** A node in {@linkcode LabStatus}. */
export interface NodeStatus {
  /** Its name. */
  name: string;
  /** Its namespace name. */
  netns: string;
  /** Forwards packets. */
  router: boolean;
  /** Its interfaces and their addresses (CIDR). */
  interfaces: { name: string; segment: string; addresses: string[] }[];
}

/** What `nsnet lab show --json` prints. */
export interface LabStatus {
  /** The lab's name. */
  name: string;
  /** `creating` (or remains of a killed creator) or `ready`. */
  phase: "creating" | "ready";
  /** When it was created. */
  created: string;
  /** The process that created it. */
  pid: number;
  /** Made rootless (inside `nsnet unshare`). */
  rootless: boolean;
  /** Its nodes. */
  nodes: NodeStatus[];
  /** Its links and switches. */
  links: LinkStatus[];
}

function randomLabName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `lab-${
    [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** Removes what the record's plan names and the record, with the lock held. */
function removeRemains(record: LabRecord): void {
  try {
    teardownLab(record.plan);
  } finally {
    removeLabRecord(record.name);
  }
}

async function withLabLock<T>(
  name: string,
  fn: (lock: FileLock) => Promise<T> | T,
): Promise<T> {
  const lock = await lockLab(name);
  try {
    return await fn(lock);
  } finally {
    // With the lab gone (or never made), its lock file and empty dirs go too.
    let gone = false;
    try {
      gone = readLabRecord(name) === undefined;
    } catch { /* a damaged record stays, and its lock */ }
    lock.release({ remove: gone });
    if (gone) pruneLabDirs();
  }
}

/** Builds `plan` as lab `plan.name`, recorded first; the shared path of `Lab.create`. */
export async function createLabFromPlan(plan: LabPlan): Promise<Lab> {
  requirePrivilege("Lab.create");
  const record = await withLabLock(plan.name, async () => {
    const existing = readLabRecord(plan.name);
    if (existing !== undefined) {
      // Under the lock a lab still `creating` is what a killed creator left.
      if (existing.phase !== "creating") throw new LabExistsError(plan.name);
      warn(
        `lab ${plan.name}: removing what a killed creator (pid ${existing.pid}) left`,
      );
      removeRemains(existing);
    }
    const record: LabRecord = {
      name: plan.name,
      phase: "creating",
      pid: Deno.pid,
      start: processStartTime(Deno.pid),
      created: new Date().toISOString(),
      rootless: isRootless(),
      plan,
    };
    writeLabRecord(record);
    try {
      await buildLab(plan);
    } catch (error) {
      removeLabRecord(plan.name);
      throw error;
    }
    record.phase = "ready";
    const known = netemKnown();
    if (known !== undefined) record.netem = known;
    writeLabRecord(record);
    return record;
  });
  return new Lab(record);
}

/**
 * A lab: nodes (network namespaces) joined by links (veth pairs) and
 * switches (bridges), with addresses and shortest-path routes through the
 * nodes marked `router`, and impairments per link. Made with
 * {@linkcode Lab.create}, it lives until {@linkcode Lab.remove} (or the end
 * of its `await using` block), also beyond this process; found again with
 * {@linkcode Lab.open} and {@linkcode Lab.list}.
 *
 * Privilege: root, or a script inside `nsnet unshare`
 * (`nsnet unshare -- deno test -A lab_test.ts`). `-A` covers the Deno
 * permissions (`--allow-ffi`, `--allow-run`, `--allow-read`,
 * `--allow-write`, `--allow-env`, `--allow-net`).
 *
 * @example A chain a – r – b, a lossy last hop
 * ```ts
 * import { Lab } from "@nsnet/nsnet/lab";
 *
 * await using lab = await Lab.create({
 *   nodes: { a: {}, r: { router: true }, b: {} },
 *   links: [{ ends: ["a", "r"], rate: "20mbit" }, { ends: ["r", "b"] }],
 * });
 * await lab.link("r", "b").impair({ loss: "5%" });
 * const ping = await lab.node("a").output("ping", {
 *   args: ["-c", "3", lab.address("b")],
 * });
 * console.log(ping.success);
 * ```
 */
export class Lab implements AsyncDisposable {
  #record: LabRecord;
  #removed = false;

  /** Wraps a record. Use {@linkcode Lab.create} or {@linkcode Lab.open}. */
  constructor(record: LabRecord) {
    this.#record = record;
  }

  /**
   * Plans, records and builds a lab from `spec` (checked first: a bad spec
   * is one `LabSpecError` naming the field, and nothing made). A lab of that
   * name left by a killed creator is removed first; a complete one is
   * {@linkcode LabExistsError}. On any failure nothing is left and the
   * first cause is raised (a netem impairment on a kernel without netem:
   * `TcKindMissingError` naming `CONFIG_NET_SCH_NETEM`).
   */
  static async create(spec: LabSpec, options: LabOptions = {}): Promise<Lab> {
    requirePrivilege("Lab.create");
    return await createLabFromPlan(
      planLab(spec, options.name ?? randomLabName()),
    );
  }

  /** The lab called `name` ({@linkcode LabNotFoundError} if none). Reads the record only. */
  static open(name: string): Lab {
    const record = readLabRecord(name);
    if (record === undefined) throw new LabNotFoundError(name);
    return new Lab(record);
  }

  /** Every lab there is, by name. Reads the records only. */
  static list(): Lab[] {
    return listLabRecords().map((record) => new Lab(record));
  }

  /**
   * Removes lab `name`, complete or what a killed creator left: its
   * namespaces and record. Idempotent: false when there was nothing.
   */
  static async removeByName(name: string): Promise<boolean> {
    requirePrivilege("Lab.removeByName");
    return await withLabLock(name, () => {
      const record = readLabRecord(name);
      if (record === undefined) return false;
      removeRemains(record);
      return true;
    });
  }

  /** Its name. */
  get name(): string {
    return this.#record.name;
  }

  /** What was built: names, addresses, routes. */
  get plan(): LabPlan {
    return this.#record.plan;
  }

  /** The process that created it. */
  get pid(): number {
    return this.#record.pid;
  }

  /** `ready`, or `creating` for what a killed creator left. */
  get phase(): "creating" | "ready" {
    return this.#record.phase;
  }

  /** Node `name` ({@linkcode LabMemberError} if it has none). */
  node(name: string): LabNode {
    const node = this.plan.nodes.find((n) => n.name === name);
    if (node === undefined) {
      throw new LabMemberError(
        this.name,
        `node named ${JSON.stringify(name)}`,
        `nodes ${this.plan.nodes.map((n) => n.name).join(", ")}`,
      );
    }
    return new LabNode(this.name, node);
  }

  /** Every node, in spec order. */
  get nodes(): LabNode[] {
    return this.plan.nodes.map((n) => new LabNode(this.name, n));
  }

  /**
   * The bare IP of `node` (IPv4 unless `family: 6`): with `towards`, the one
   * that node reaches it by (a shared segment first).
   */
  address(node: string, options: LabAddressOptions = {}): string {
    return labAddress(this.plan, node, options);
  }

  /** The link between `a` and `b` (either order); {@linkcode LabMemberError} if none. */
  link(a: string, b: string): LabLink {
    this.node(a);
    this.node(b);
    const segment = this.plan.segments.find((s) =>
      s.kind === "link" &&
      ((s.nodes[0] === a && s.nodes[1] === b) ||
        (s.nodes[0] === b && s.nodes[1] === a))
    );
    if (segment === undefined) {
      throw new LabMemberError(
        this.name,
        `link between ${a} and ${b}`,
        `links ${
          this.plan.segments.filter((s) => s.kind === "link").map((s) =>
            s.nodes.join("–")
          ).join(", ") || "none"
        }`,
      );
    }
    return new LabLink(this, segment);
  }

  /** Switch `name` as a {@linkcode LabLink} over all its members' ports. */
  switch(name: string): LabLink {
    const segment = this.plan.segments.find((s) => s.id === `switch:${name}`);
    if (segment === undefined) {
      throw new LabMemberError(
        this.name,
        `switch named ${JSON.stringify(name)}`,
        `switches ${
          this.plan.segments.filter((s) => s.kind === "switch").map((s) =>
            s.id.slice(7)
          ).join(", ") || "none"
        }`,
      );
    }
    return new LabLink(this, segment);
  }

  /** The record as it is now (impairments and partitions change it). */
  record(): LabRecord {
    const fresh = readLabRecord(this.name);
    if (fresh !== undefined) this.#record = fresh;
    return this.#record;
  }

  /** @internal Stores a changed record (lock held). */
  store(record: LabRecord): void {
    this.#record = record;
    writeLabRecord(record);
  }

  /**
   * Its state, JSON-able: nodes with their addresses, links and switches
   * with their impairments, partitions and (with privilege) live counters.
   */
  status(): LabStatus {
    const record = this.record();
    const live = !needsUserNS();
    using set = new NamespaceSet();
    const links: LinkStatus[] = record.plan.segments.map((segment) => {
      const status: LinkStatus = {
        id: segment.id,
        kind: segment.kind,
        nodes: segment.nodes,
        subnet: segment.subnet,
        impairment: impairmentNow(record, segment),
        down: (record.down ?? []).includes(segment.id),
      };
      if (segment.subnet6 !== undefined) status.subnet6 = segment.subnet6;
      const from = fromNow(record, segment);
      if (from !== undefined) status.from = from;
      if (live) status.ends = endStats(set, record.plan, segment);
      return status;
    });
    return {
      name: record.name,
      phase: record.phase,
      created: record.created,
      pid: record.pid,
      rootless: record.rootless,
      nodes: record.plan.nodes.map((n) => ({
        name: n.name,
        netns: n.netns,
        router: n.router,
        interfaces: n.interfaces.map((i) => ({
          name: i.name,
          segment: i.segment,
          addresses: i.addresses,
        })),
      })),
      links,
    };
  }

  /**
   * Removes the lab: every namespace (their veths, qdiscs and nftables
   * tables go with them) and its record. Idempotent.
   */
  async remove(): Promise<void> {
    if (this.#removed) return;
    requirePrivilege("Lab.remove");
    await Lab.removeByName(this.name);
    this.#removed = true;
  }

  /** Removes the lab at the end of an `await using` block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove();
  }
}

function impairmentNow(record: LabRecord, segment: PlannedSegment): Impairment {
  return record.impairments?.[segment.id] ?? segment.impairment;
}

function fromNow(
  record: LabRecord,
  segment: PlannedSegment,
): string | undefined {
  const from = record.from?.[segment.id];
  return from === undefined ? segment.from : from ?? undefined;
}

function endStats(
  set: NamespaceSet,
  plan: LabPlan,
  segment: PlannedSegment,
): LinkEndStats[] {
  return segmentEnds(plan, segment).map((end) => {
    const out: LinkEndStats = { node: end.node.name, interface: end.ifname };
    try {
      const stats = getLink(set.sock(end.node.netns), end.ifname).stats;
      if (stats !== undefined) out.stats = stats;
    } catch { /* gone: no counters */ }
    return out;
  });
}

/** Options of {@linkcode LabLink.impair}. */
export interface ImpairOptions {
  /** Impair only what this end sends; `null`: both directions again (default: as before). */
  from?: string | null;
}

/** The counters of a link, end by end. */
export interface LabLinkStats {
  /** Each end (or switch member) with its interface's counters. */
  ends: LinkEndStats[];
}

/**
 * One link of a lab (or a switch, from `lab.switch(name)`): its impairment
 * changed live, taken down and brought up (a partition that heals), its
 * counters read. Changes are recorded, so `nsnet lab show` sees them.
 */
export class LabLink {
  readonly #lab: Lab;
  readonly #segment: PlannedSegment;

  /** Wraps segment `segment` of `lab`. Use `lab.link(a, b)`. */
  constructor(lab: Lab, segment: PlannedSegment) {
    this.#lab = lab;
    this.#segment = segment;
  }

  /** `link:<index>` or `switch:<name>`. */
  get id(): string {
    return this.#segment.id;
  }

  /** Its nodes: the two ends of a link, the members of a switch. */
  get nodes(): string[] {
    return this.#segment.nodes;
  }

  /** Its impairment now (as recorded). */
  get impairment(): Impairment {
    return impairmentNow(this.#lab.record(), this.#segment);
  }

  /** Whether it is down now (as recorded). */
  get isDown(): boolean {
    return (this.#lab.record().down ?? []).includes(this.#segment.id);
  }

  /**
   * Replaces its impairment with `imp` (in both directions, or only what
   * `options.from` sends); `{}` removes every impairment. Checked first (a
   * bad value is one `LabSpecError` naming the field, nothing changed).
   * netem impairments on a kernel without netem raise `TcKindMissingError`.
   */
  async impair(imp: Impairment, options: ImpairOptions = {}): Promise<void> {
    requirePrivilege("LabLink.impair");
    const clean = parseImpairment(imp);
    if (options.from != null && !this.#segment.nodes.includes(options.from)) {
      throw new LabMemberError(
        this.#lab.name,
        `end ${JSON.stringify(options.from)} on ${this.id}`,
        `ends ${this.#segment.nodes.join(", ")}`,
      );
    }
    await withLabLock(this.#lab.name, async () => {
      const record = this.#lab.record();
      assumeNetem(record.netem);
      const plan = record.plan;
      const segment = this.#segment;
      const before = impairmentNow(record, segment);
      const from = options.from === undefined
        ? fromNow(record, segment)
        : options.from ?? undefined;
      const wanted = new Set(
        impairedEnds(plan, segment, from).map((e) => e.node.name),
      );
      using set = new NamespaceSet();
      for (const end of segmentEnds(plan, segment)) {
        const sock = set.sock(end.node.netns);
        const now = currentShape(sock, end.ifname);
        const target = wanted.has(end.node.name) ? clean : {};
        if (isImpaired(target)) applyQdiscs(sock, end.ifname, target, now);
        else if (now !== "none") clearQdiscs(sock, end.ifname);
      }
      record.impairments = { ...record.impairments, [segment.id]: clean };
      record.from = { ...record.from, [segment.id]: from ?? null };
      const known = netemKnown();
      if (known !== undefined) record.netem = known;
      if (
        (clean.loss !== undefined || before.loss !== undefined) &&
        !lossInNetem()
      ) {
        // Every loss rule of the ends' nodes, as the record now says.
        const nodes = new Set(
          segmentEnds(plan, segment).map((e) => e.node.netns),
        );
        const all = lossRulesByNetns(
          plan,
          (s) => impairmentNow(record, s),
          (s) => fromNow(record, s),
        );
        const rules = new Map([...nodes].map((n) => [n, all.get(n) ?? []]));
        await finishBatches(await startLossBatches(set, plan, rules));
      }
      this.#lab.store(record);
    });
  }

  /** Takes it down: every end's interface down, so nothing passes (a partition). */
  async down(): Promise<void> {
    requirePrivilege("LabLink.down");
    await this.#setState(false);
  }

  /**
   * Brings it up again: the ends' interfaces up, their addresses and the
   * routes through them restored (the kernel drops them with the link).
   */
  async up(): Promise<void> {
    requirePrivilege("LabLink.up");
    await this.#setState(true);
  }

  async #setState(up: boolean): Promise<void> {
    await withLabLock(this.#lab.name, () => {
      const record = this.#lab.record();
      using set = new NamespaceSet();
      for (const end of segmentEnds(record.plan, this.#segment)) {
        const sock = set.sock(end.node.netns);
        setLink(sock, end.ifname, { up });
        if (up) restore(sock, end);
      }
      const down = new Set(record.down ?? []);
      if (up) down.delete(this.#segment.id);
      else down.add(this.#segment.id);
      record.down = [...down];
      this.#lab.store(record);
    });
  }

  /** The counters of each end's interface. Needs root or `nsnet unshare`. */
  stats(): LabLinkStats {
    requirePrivilege("LabLink.stats");
    using set = new NamespaceSet();
    return { ends: endStats(set, this.#lab.plan, this.#segment) };
  }
}

/** The addresses of `end`'s interface and the node's routes through it, put back. */
function restore(
  sock: Parameters<typeof setLink>[0],
  end: SegmentEnd,
): void {
  const iface = end.node.interfaces.find((i) => i.name === end.ifname);
  const index = getLink(sock, end.ifname, { stats: false }).index;
  addInterfaceAddresses(sock, index, iface?.addresses ?? [], true);
  for (const route of end.node.routes) {
    if (route.dev !== end.ifname) continue;
    try {
      replaceRoute(sock, {
        destination: route.destination,
        gateway: route.via,
        device: index,
      });
    } catch (error) {
      throw new NsnetError(
        `bringing ${end.ifname} of ${end.node.name} up: cannot restore the route to ${route.destination}: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
  }
}
