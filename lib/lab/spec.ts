/**
 * Lab specs checked before anything is made: {@linkcode parseLabSpec} takes
 * a topology as JSON (or as a {@linkcode LabSpec} written in code) and
 * either returns a clean copy or throws one {@linkcode LabSpecError} that
 * names the field (`links[1].ends[0]`) and how to fix it.
 * {@linkcode readLabSpecFile} does the same for a JSON file, naming the file
 * and, for bad JSON, the line and column.
 *
 * @module
 */

import { InvalidArgumentError, type NsnetErrorOptions } from "../errors.ts";
import {
  formatRate,
  parsePercent,
  parseRate,
  parseTimeUs,
} from "../netlink/tc_units.ts";
import { DEFAULT_POOL, fieldPath, resolveAddressing } from "./_addressing.ts";
import type {
  Impairment,
  LabSpec,
  LinkSpec,
  NodeSpec,
  SwitchSpec,
} from "./types.ts";

export { DEFAULT_POOL };

/** The largest spec file {@linkcode readLabSpecFile} reads, in bytes (1 MiB). */
export const MAX_SPEC_BYTES = 1024 * 1024;

/** The longest node or switch name, in bytes (an interface name's limit). */
export const MAX_NODE_NAME_BYTES = 15;

/** The longest lab name, in bytes. */
export const MAX_LAB_NAME_BYTES = 63;

/** The keys of an {@linkcode Impairment}, in the order they are checked. */
export const IMPAIRMENT_KEYS: readonly (keyof Impairment)[] = [
  "rate",
  "loss",
  "delay",
  "jitter",
  "duplicate",
  "reorder",
  "corrupt",
];

const SPEC_KEYS = ["nodes", "links", "switches", "pool", "ipv6"];
const NODE_KEYS = ["router", "uplink"];
const LINK_KEYS = ["ends", "subnet", "addresses", "from", ...IMPAIRMENT_KEYS];
const SWITCH_KEYS = ["nodes", "subnet", "addresses", ...IMPAIRMENT_KEYS];

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const encoder = new TextEncoder();

/** Options of a {@linkcode LabSpecError}. */
export interface LabSpecErrorOptions extends NsnetErrorOptions {
  /** Where the spec came from (a file path), if anywhere. */
  source?: string;
}

/**
 * A lab spec was rejected before anything was made. The message reads
 * `SOURCE: FIELD: PROBLEM (FIX)`, e.g.
 * `lab.json: links[0].ends[1]: no node named "x" (nodes: a, r, b)`.
 */
export class LabSpecError extends InvalidArgumentError {
  /** The path of the field at fault (`links[1].rate`); empty for the spec as a whole. */
  readonly field: string;
  /** Where the spec came from (a file path), if given. */
  readonly source: string | undefined;

  /** Makes the error for `field` with `problem` (which should say the fix). */
  constructor(
    field: string,
    problem: string,
    options: LabSpecErrorOptions = {},
  ) {
    const where = [options.source, field].filter((s) => s !== undefined && s)
      .join(": ");
    super(where === "" ? problem : `${where}: ${problem}`, options);
    this.name = "LabSpecError";
    this.field = field;
    this.source = options.source;
  }
}

/** Raises a {@linkcode LabSpecError}; what the checks are given. */
type Fail = (field: string, problem: string) => never;

function failer(source: string | undefined): Fail {
  return (field, problem) => {
    throw new LabSpecError(field, problem, { source });
  };
}

const child = fieldPath;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(
        row[j]! + 1,
        row[j - 1]! + 1,
        diagonal + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function checkKeys(
  value: Record<string, unknown>,
  allowed: readonly string[],
  path: string,
  fail: Fail,
): void {
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue;
    const near = allowed
      .map((k) => ({ k, d: distance(key.toLowerCase(), k.toLowerCase()) }))
      .filter(({ d }) => d <= 2)
      .sort((x, y) => x.d - y.d)[0];
    const hint = near === undefined
      ? `the keys here are ${allowed.join(", ")}`
      : `did you mean "${near.k}"?`;
    fail(child(path, key), `unknown key (${hint})`);
  }
}

function checkObject(
  value: unknown,
  path: string,
  what: string,
  fail: Fail,
): Record<string, unknown> {
  if (!isObject(value)) {
    fail(path, `must be an object (${what}), not ${kindOf(value)}`);
  }
  return value;
}

function checkBoolean(
  value: unknown,
  path: string,
  fail: Fail,
): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  fail(path, `must be true or false, not ${kindOf(value)}`);
}

function checkString(
  value: unknown,
  path: string,
  example: string,
  fail: Fail,
): string {
  if (typeof value !== "string") {
    fail(path, `must be a string such as ${example}, not ${kindOf(value)}`);
  }
  return value;
}

function nameProblem(name: string, limit: number): string | undefined {
  const bytes = encoder.encode(name).length;
  if (name === "") return "is empty";
  if (!NAME.test(name)) {
    return "may hold only letters, digits, - and _, and starts with a letter or digit";
  }
  if (bytes > limit) return `is ${bytes} bytes long, the limit is ${limit}`;
  return undefined;
}

/**
 * Checks a lab's name: 1 to 63 bytes of letters, digits, `-` and `_`,
 * starting with a letter or digit. Raises {@linkcode LabSpecError}.
 */
export function validateLabName(name: string): void {
  const problem = typeof name === "string"
    ? nameProblem(name, MAX_LAB_NAME_BYTES)
    : "is not a string";
  if (problem !== undefined) {
    throw new LabSpecError(
      "",
      `invalid lab name ${JSON.stringify(name)}: it ${problem}`,
      { hint: "name a lab like `demo` or `ci-42`" },
    );
  }
}

function checkRate(text: string, path: string, fail: Fail): void {
  const words = "use tc's words: 20mbit, 512kbit";
  if (/bps$/i.test(text)) {
    let meant = "";
    try {
      meant = `: write ${
        formatRate(parseRate(text)).toLowerCase()
      } if that was meant`;
    } catch {
      // not a rate in any unit: the words are enough
    }
    fail(
      path,
      `${JSON.stringify(text)} is not a rate (${words}; tc reads "${
        text.replace(/^[\d.]+/, "")
      }" as bytes per second${meant})`,
    );
  }
  let rate: number;
  try {
    rate = parseRate(text);
  } catch {
    fail(path, `${JSON.stringify(text)} is not a rate (${words})`);
  }
  if (!(rate > 0)) {
    fail(
      path,
      `${
        JSON.stringify(text)
      } is no rate at all (give more than 0, e.g. 20mbit, or take a link down instead)`,
    );
  }
}

function checkPercent(text: string, path: string, fail: Fail): void {
  try {
    parsePercent(text);
  } catch {
    fail(
      path,
      `${
        JSON.stringify(text)
      } is not a percentage between 0% and 100% (e.g. "5%" or "0.1%")`,
    );
  }
}

function checkTime(text: string, path: string, fail: Fail): void {
  try {
    parseTimeUs(text);
  } catch {
    fail(
      path,
      `${JSON.stringify(text)} is not a time (use tc's words: 10ms, 1s, 500us)`,
    );
  }
}

const IMPAIRMENT_EXAMPLES: Readonly<Record<keyof Impairment, string>> = {
  rate: `"20mbit"`,
  loss: `"5%"`,
  delay: `"10ms"`,
  jitter: `"2ms"`,
  duplicate: `"1%"`,
  reorder: `"25%"`,
  corrupt: `"0.1%"`,
};

/** Checks the impairment keys of `value` (others are left to the caller). */
function checkImpairment(
  value: Record<string, unknown>,
  path: string,
  fail: Fail,
): Impairment {
  const out: Impairment = {};
  for (const key of IMPAIRMENT_KEYS) {
    const raw = value[key];
    if (raw === undefined) continue;
    const field = child(path, key);
    const text = checkString(raw, field, IMPAIRMENT_EXAMPLES[key], fail);
    if (key === "rate") checkRate(text, field, fail);
    else if (key === "delay" || key === "jitter") checkTime(text, field, fail);
    else checkPercent(text, field, fail);
    out[key] = text;
  }
  for (const key of ["jitter", "reorder"] as const) {
    if (out[key] !== undefined && out.delay === undefined) {
      fail(
        child(path, key),
        `needs "delay" (netem ${
          key === "jitter" ? "varies" : "reorders around"
        } a delay: add e.g. "delay": "10ms")`,
      );
    }
  }
  return out;
}

/**
 * Checks an impairment on its own, as `lab.link(a, b).impair(…)` and
 * `nsnet lab impair` take it: only impairment keys, each in tc's words,
 * `jitter` and `reorder` only with `delay`. Returns a clean copy; raises
 * {@linkcode LabSpecError} naming `field` (default `impairment`).
 */
export function parseImpairment(
  json: unknown,
  field = "impairment",
  source?: string,
): Impairment {
  const fail = failer(source);
  const value = checkObject(json, field, `e.g. {"loss": "5%"}`, fail);
  checkKeys(value, IMPAIRMENT_KEYS, field, fail);
  return checkImpairment(value, field, fail);
}

function checkNodeRef(
  value: unknown,
  path: string,
  nodes: string[],
  fail: Fail,
): string {
  const name = checkString(value, path, `"${nodes[0] ?? "a"}"`, fail);
  if (!nodes.includes(name)) {
    fail(
      path,
      `no node named ${JSON.stringify(name)} (nodes: ${nodes.join(", ")})`,
    );
  }
  return name;
}

function checkNodes(value: unknown, fail: Fail): Record<string, NodeSpec> {
  const nodes = checkObject(
    value,
    "nodes",
    `the nodes by name, e.g. {"a": {}, "r": {"router": true}}`,
    fail,
  );
  if (Object.keys(nodes).length === 0) {
    fail("nodes", `has no nodes (give at least one, e.g. {"a": {}})`);
  }
  const out: Record<string, NodeSpec> = {};
  for (const [name, raw] of Object.entries(nodes)) {
    const path = child("nodes", name);
    const problem = nameProblem(name, MAX_NODE_NAME_BYTES);
    if (problem !== undefined) {
      fail(
        path,
        `${JSON.stringify(name)} is not a valid node name: it ${problem}`,
      );
    }
    const spec = checkObject(
      raw ?? {},
      path,
      `e.g. {} or {"router": true}`,
      fail,
    );
    checkKeys(spec, NODE_KEYS, path, fail);
    const node: NodeSpec = {};
    const router = checkBoolean(spec.router, child(path, "router"), fail);
    const uplink = checkBoolean(spec.uplink, child(path, "uplink"), fail);
    if (router !== undefined) node.router = router;
    if (uplink !== undefined) node.uplink = uplink;
    out[name] = node;
  }
  return out;
}

function checkLinks(
  value: unknown,
  nodes: string[],
  fail: Fail,
): LinkSpec[] {
  if (!Array.isArray(value)) {
    fail(
      "links",
      `must be an array of links, e.g. [{"ends": ["a", "b"]}], not ${
        kindOf(value)
      }`,
    );
  }
  const pairs = new Map<string, number>();
  return value.map((raw, i): LinkSpec => {
    const path = `links[${i}]`;
    const spec = checkObject(raw, path, `e.g. {"ends": ["a", "b"]}`, fail);
    checkKeys(spec, LINK_KEYS, path, fail);
    const endsPath = `${path}.ends`;
    if (spec.ends === undefined) {
      fail(
        endsPath,
        `is missing (name the two nodes it joins: "ends": ["a", "b"])`,
      );
    }
    if (!Array.isArray(spec.ends) || spec.ends.length !== 2) {
      fail(
        endsPath,
        `must name exactly two nodes, e.g. ["a", "b"], not ${
          kindOf(spec.ends)
        }`,
      );
    }
    const a = checkNodeRef(spec.ends[0], `${endsPath}[0]`, nodes, fail);
    const b = checkNodeRef(spec.ends[1], `${endsPath}[1]`, nodes, fail);
    if (a === b) {
      fail(
        endsPath,
        `${
          JSON.stringify(a)
        } is joined to itself (a link joins two different nodes)`,
      );
    }
    const pair = [a, b].sort().join("\0");
    const earlier = pairs.get(pair);
    if (earlier !== undefined) {
      fail(
        endsPath,
        `${JSON.stringify(a)} and ${
          JSON.stringify(b)
        } are already joined by links[${earlier}] (one link per pair of nodes; put more on a switch)`,
      );
    }
    pairs.set(pair, i);
    const link: LinkSpec = { ends: [a, b] };
    if (spec.subnet !== undefined) {
      link.subnet = checkString(
        spec.subnet,
        `${path}.subnet`,
        `"10.77.5.0/24"`,
        fail,
      );
    }
    if (spec.addresses !== undefined) {
      const at = `${path}.addresses`;
      if (!Array.isArray(spec.addresses) || spec.addresses.length !== 2) {
        fail(
          at,
          `must give the two ends' addresses in the order of "ends", e.g. ["10.77.5.1/24", "10.77.5.2/24"], not ${
            kindOf(spec.addresses)
          }`,
        );
      }
      link.addresses = [
        checkString(spec.addresses[0], `${at}[0]`, `"10.77.5.1/24"`, fail),
        checkString(spec.addresses[1], `${at}[1]`, `"10.77.5.2/24"`, fail),
      ];
    }
    if (spec.from !== undefined) {
      const from = checkString(spec.from, `${path}.from`, `"${a}"`, fail);
      if (from !== a && from !== b) {
        fail(
          `${path}.from`,
          `${JSON.stringify(from)} is not one of the link's ends (${a}, ${b})`,
        );
      }
      link.from = from;
    }
    return { ...link, ...checkImpairment(spec, path, fail) };
  });
}

function checkSwitches(
  value: unknown,
  nodes: string[],
  fail: Fail,
): Record<string, SwitchSpec> {
  const switches = checkObject(
    value,
    "switches",
    `the switches by name, e.g. {"s1": {"nodes": ["a", "b", "c"]}}`,
    fail,
  );
  const out: Record<string, SwitchSpec> = {};
  for (const [name, raw] of Object.entries(switches)) {
    const path = child("switches", name);
    const problem = nameProblem(name, MAX_NODE_NAME_BYTES);
    if (problem !== undefined) {
      fail(
        path,
        `${JSON.stringify(name)} is not a valid switch name: it ${problem}`,
      );
    }
    const spec = checkObject(raw, path, `e.g. {"nodes": ["a", "b"]}`, fail);
    checkKeys(spec, SWITCH_KEYS, path, fail);
    const at = `${path}.nodes`;
    if (spec.nodes === undefined) {
      fail(at, `is missing (list the nodes that join it: "nodes": ["a", "b"])`);
    }
    if (!Array.isArray(spec.nodes)) {
      fail(at, `must be an array of node names, not ${kindOf(spec.nodes)}`);
    }
    if (spec.nodes.length === 0) {
      fail(at, `is empty (list the nodes that join it)`);
    }
    const members: string[] = [];
    spec.nodes.forEach((ref, i) => {
      const member = checkNodeRef(ref, `${at}[${i}]`, nodes, fail);
      const first = members.indexOf(member);
      if (first >= 0) {
        fail(
          `${at}[${i}]`,
          `${
            JSON.stringify(member)
          } is listed twice (also ${at}[${first}]; a node joins a switch once)`,
        );
      }
      members.push(member);
    });
    const sw: SwitchSpec = { nodes: members };
    if (spec.subnet !== undefined) {
      sw.subnet = checkString(
        spec.subnet,
        `${path}.subnet`,
        `"10.77.9.0/24"`,
        fail,
      );
    }
    if (spec.addresses !== undefined) {
      const given = checkObject(
        spec.addresses,
        `${path}.addresses`,
        `members' addresses by node name, e.g. {"${
          members[0]
        }": "10.77.9.10/24"}`,
        fail,
      );
      const addresses: Record<string, string> = {};
      for (const [member, address] of Object.entries(given)) {
        const field = child(`${path}.addresses`, member);
        if (!members.includes(member)) {
          fail(
            field,
            `${JSON.stringify(member)} is not a member of switch ${
              JSON.stringify(name)
            } (members: ${members.join(", ")})`,
          );
        }
        addresses[member] = checkString(
          address,
          field,
          `"10.77.9.10/24"`,
          fail,
        );
      }
      sw.addresses = addresses;
    }
    out[name] = { ...sw, ...checkImpairment(spec, path, fail) };
  }
  return out;
}

/**
 * Checks a lab spec and returns a clean copy of it (only known keys, nothing
 * filled in: {@linkcode planLab} in plan.ts assigns what is left out). Every
 * problem a user can make is one {@linkcode LabSpecError} naming the field
 * and the fix: unknown keys (with the likely key meant), bad node or switch
 * names, unknown nodes, a link to itself or twice between the same nodes,
 * rates, percentages and times not in tc's words, `jitter`/`reorder`
 * without `delay`, a `from` that is not an end, a switch listing a node
 * twice, addresses that are not IPv4, outside their subnet, or used twice,
 * subnets that overlap, lie outside the pool or are too small, and a pool
 * with no room left. `source` (a file path) starts every message.
 *
 * @example Rejecting a typo
 * ```ts
 * import { parseLabSpec } from "@nsnet/nsnet/lab";
 * try {
 *   parseLabSpec({ nodes: { a: {}, b: {} }, links: [{ ends: ["a", "b"], rtae: "1mbit" }] });
 * } catch (error) {
 *   console.error((error as Error).message); // links[0].rtae: unknown key (did you mean "rate"?)
 * }
 * ```
 */
export function parseLabSpec(json: unknown, source?: string): LabSpec {
  const fail = failer(source);
  const top = checkObject(
    json,
    "",
    `a lab spec, e.g. {"nodes": {"a": {}, "b": {}}, "links": [{"ends": ["a", "b"]}]}`,
    fail,
  );
  checkKeys(top, SPEC_KEYS, "", fail);
  if (top.nodes === undefined) {
    fail(
      "nodes",
      `is missing (give the nodes by name, e.g. {"a": {}, "b": {}})`,
    );
  }
  const nodes = checkNodes(top.nodes, fail);
  const names = Object.keys(nodes);
  const spec: LabSpec = { nodes };
  if (top.links !== undefined) spec.links = checkLinks(top.links, names, fail);
  if (top.switches !== undefined) {
    spec.switches = checkSwitches(top.switches, names, fail);
  }
  if (top.pool !== undefined) {
    spec.pool = checkString(top.pool, "pool", `"10.77.0.0/16"`, fail);
  }
  const ipv6 = checkBoolean(top.ipv6, "ipv6", fail);
  if (ipv6 !== undefined) spec.ipv6 = ipv6;
  resolveAddressing(spec, fail);
  return spec;
}

function errorOf(path: string, problem: string, cause?: unknown): LabSpecError {
  return new LabSpecError("", problem, { source: path, cause });
}

/** Where JSON.parse stopped in `text`: its position, or found by parsing prefixes. */
function jsonErrorPosition(text: string, message: string): number | undefined {
  const at = /at position (\d+)/.exec(message);
  if (at !== null) return Number(at[1]);
  if (/Unexpected end of JSON input/.test(message)) return text.length;
  // "Unexpected token 'x', "…" is not valid JSON" names no position: the
  // shortest prefix that fails other than by ending early holds the culprit.
  const failsInside = (k: number): boolean => {
    try {
      JSON.parse(text.slice(0, k));
      return false;
    } catch (error) {
      const message = String(error);
      const at = /at position (\d+)/.exec(message);
      if (at !== null) return Number(at[1]) < k;
      return !/Unexpected end of JSON input/.test(message);
    }
  };
  if (!failsInside(text.length)) return undefined;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (failsInside(mid)) high = mid;
    else low = mid + 1;
  }
  return Math.max(0, low - 1);
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  const column = position - (before.lastIndexOf("\n") + 1) + 1;
  return `line ${line}, column ${column}`;
}

/**
 * Reads a lab spec from a JSON file (at most {@linkcode MAX_SPEC_BYTES}) and
 * checks it with {@linkcode parseLabSpec}. Every error is a
 * {@linkcode LabSpecError} that names the file: not found, not readable, a
 * directory, too large, not UTF-8, not JSON (with the line and column), or
 * a field at fault.
 *
 * @example
 * ```ts
 * import { readLabSpecFile } from "@nsnet/nsnet/lab";
 * const spec = await readLabSpecFile("lab.json");
 * console.log(Object.keys(spec.nodes));
 * ```
 */
export async function readLabSpecFile(path: string): Promise<LabSpec> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw errorOf(
        path,
        "no such file (give the path of a lab spec, a JSON file)",
        error,
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      throw errorOf(
        path,
        "cannot be read by this user (check its permissions)",
        error,
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    throw errorOf(path, `cannot be opened: ${message}`, error);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    if ((await file.stat()).isDirectory) {
      throw errorOf(
        path,
        "is a directory (give the path of a lab spec, a JSON file)",
      );
    }
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const n = await file.read(buffer);
      if (n === null) break;
      size += n;
      if (size > MAX_SPEC_BYTES) {
        throw errorOf(
          path,
          `is larger than ${MAX_SPEC_BYTES} bytes, the limit of a lab spec (is it the right file?)`,
        );
      }
      chunks.push(buffer.slice(0, n));
    }
  } catch (error) {
    if (error instanceof LabSpecError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw errorOf(path, `cannot be read: ${message}`, error);
  } finally {
    file.close();
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
      bytes,
    );
  } catch (error) {
    throw errorOf(path, "is not UTF-8 text (save it as UTF-8 JSON)", error);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = jsonErrorPosition(text, message);
    const what = message
      .replace(/ in JSON at position \d+.*$/, "")
      .replace(/ after JSON at position \d+.*$/, " after the JSON")
      .replace(/, ".*" is not valid JSON$/s, "");
    let where = `${what} (fix the JSON there)`;
    if (text.trim() === "") {
      where = `it is empty (write a lab spec, e.g. {"nodes": {"a": {}}})`;
    } else if (position !== undefined && position >= text.trimEnd().length) {
      where = `it ends too early, at ${
        lineAndColumn(text, position)
      }: ${what} (close what is still open)`;
    } else if (position !== undefined) {
      where = `${lineAndColumn(text, position)}: ${what} (fix the JSON there)`;
    }
    throw errorOf(path, `is not JSON: ${where}`, error);
  }
  return parseLabSpec(json, path);
}
