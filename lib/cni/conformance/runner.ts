/**
 * A conformance runner for any CNI plugin: it executes the plugin as a
 * runtime does (the `CNI_*` environment, the config on standard input), in
 * fresh network namespaces it makes, and checks what SPEC.md requires:
 * VERSION and its negotiation for every version the plugin claims, the ADD
 * result's schema per version and that the namespace holds what it says,
 * ADD→CHECK→DEL cycles, DEL twice, DEL with the namespace gone and of an
 * unknown container, error objects for bad config and missing environment
 * variables, GC with and without valid attachments, STATUS, and parallel
 * ADDs getting distinct addresses. What a version the plugin does not claim
 * brings (CHECK before 0.4.0, GC and STATUS before 1.1.0) is not applicable.
 *
 * @module
 */

import { newNSWithName } from "../../netns/create.ts";
import { unmountNS } from "../../netns/teardown.ts";
import type { NetNS } from "../../netns/netns.ts";
import { NetlinkSocket } from "../../netlink/socket.ts";
import { listAddresses } from "../../netlink/address.ts";
import { getLink, listLinks } from "../../netlink/link.ts";
import { LinkNotFoundError } from "../../netlink/errors.ts";

/** The versions the runner knows, oldest first. */
export const KNOWN_VERSIONS: readonly string[] = [
  "0.3.0",
  "0.3.1",
  "0.4.0",
  "1.0.0",
  "1.1.0",
];

/** The outcome of one check. */
export type CheckOutcome = "pass" | "fail" | "n/a";

/** One row of the report. */
export interface CheckResult {
  /** A stable id, e.g. `add-result/1.0.0`. */
  id: string;
  /** What was checked. */
  name: string;
  /** The outcome. */
  result: CheckOutcome;
  /** Why it failed, or why it does not apply. */
  detail: string;
}

/** The whole report. */
export interface ConformanceReport {
  /** The plugin binary. */
  plugin: string;
  /** The config file. */
  config: string;
  /** The versions the plugin claims (VERSION's supportedVersions). */
  supportedVersions: string[];
  /** Every check. */
  checks: CheckResult[];
  /** How many passed. */
  passed: number;
  /** How many failed. */
  failed: number;
  /** How many did not apply. */
  notApplicable: number;
}

/** What {@linkcode runConformance} is given. */
export interface ConformanceOptions {
  /** The plugin binary. */
  plugin: string;
  /** A network config (`.conf`: one plugin) or list (`.conflist`: the entry of the plugin's type, else the first). */
  config: string;
  /** CNI_PATH (default: the plugin's dir). */
  cniPath?: string[];
  /** How many ADDs run at once in the parallel check (default 4). */
  parallel?: number;
  /** Called after each check, for progress output. */
  onCheck?: (check: CheckResult) => void;
}

/** What one execution of the plugin gave. */
interface Execution {
  code: number;
  stdout: string;
  stderr: string;
  json: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function compare(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Reads the config file into the plugin's config object (without cniVersion). */
export function loadPluginConfig(
  path: string,
  pluginType: string,
): Record<string, unknown> {
  const value: unknown = JSON.parse(Deno.readTextFileSync(path));
  if (!isObject(value)) throw new Error(`${path} is not a JSON object`);
  if (Array.isArray(value.plugins)) {
    const plugins = value.plugins.filter(isObject);
    const entry = plugins.find((p) => p.type === pluginType) ?? plugins[0];
    if (entry === undefined) throw new Error(`${path} lists no plugin`);
    return { ...entry, name: value.name };
  }
  return { ...value };
}

class Runner {
  readonly checks: CheckResult[] = [];
  readonly plugin: string;
  readonly base: Record<string, unknown>;
  readonly cniPath: string;
  readonly onCheck?: (check: CheckResult) => void;
  readonly namespaces = new Set<NetNS>();
  /** Attachments that may still exist: DEL'ed at the end whatever happened. */
  readonly live = new Map<
    string,
    { id: string; ns: string; version: string; prev?: unknown }
  >();
  #serial = 0;

  constructor(options: ConformanceOptions) {
    this.plugin = options.plugin;
    const type = options.plugin.slice(options.plugin.lastIndexOf("/") + 1);
    this.base = loadPluginConfig(options.config, type);
    delete this.base.cniVersion;
    this.cniPath = (options.cniPath ??
      [options.plugin.slice(0, options.plugin.lastIndexOf("/")) || "/"]).join(
        ":",
      );
    this.onCheck = options.onCheck;
  }

  record(id: string, name: string, result: CheckOutcome, detail = ""): void {
    const check = { id, name, result, detail };
    this.checks.push(check);
    this.onCheck?.(check);
  }

  async check(
    id: string,
    name: string,
    fn: () => Promise<string | void>,
  ): Promise<boolean> {
    try {
      const detail = await fn();
      this.record(id, name, "pass", detail ?? "");
      return true;
    } catch (error) {
      this.record(id, name, "fail", (error as Error).message);
      return false;
    }
  }

  newNS(): NetNS {
    const ns = newNSWithName(`cnic-${Deno.pid}-${++this.#serial}`);
    this.namespaces.add(ns);
    return ns;
  }

  dropNS(ns: NetNS): void {
    if (!this.namespaces.delete(ns)) return;
    unmountNS(ns);
  }

  containerId(): string {
    return `cnic-${Deno.pid}-${++this.#serial}`;
  }

  config(
    version: string,
    extra: Record<string, unknown> = {},
  ): Record<string, unknown> {
    return { ...this.base, cniVersion: version, ...extra };
  }

  async exec(
    env: Record<string, string | undefined>,
    stdin: string,
  ): Promise<Execution> {
    const vars: Record<string, string> = {
      PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    };
    for (const [k, v] of Object.entries(env)) if (v !== undefined) vars[k] = v;
    const child = new Deno.Command(this.plugin, {
      env: vars,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin)).catch(() => {});
    await writer.close().catch(() => {});
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    let json: unknown;
    try {
      json = stdout.trim() === "" ? undefined : JSON.parse(stdout);
    } catch {
      json = undefined;
    }
    return {
      code: out.code,
      stdout,
      stderr: new TextDecoder().decode(out.stderr),
      json,
    };
  }

  run(
    command: string,
    version: string,
    att: { id: string; ns: string; ifname?: string },
    extra: Record<string, unknown> = {},
  ): Promise<Execution> {
    return this.exec({
      CNI_COMMAND: command,
      CNI_CONTAINERID: att.id,
      CNI_NETNS: att.ns,
      CNI_IFNAME: att.ifname ?? "eth0",
      CNI_PATH: this.cniPath,
    }, JSON.stringify(this.config(version, extra)));
  }

  async ok(
    command: string,
    version: string,
    att: { id: string; ns: string; ifname?: string },
    extra: Record<string, unknown> = {},
  ): Promise<Execution> {
    const out = await this.run(command, version, att, extra);
    if (out.code !== 0) {
      throw new Error(
        `${command} (cniVersion ${version}) exited ${out.code}: ${
          (out.stdout.trim() || out.stderr.trim()).slice(0, 300)
        }`,
      );
    }
    return out;
  }

  async add(
    version: string,
    ns: NetNS,
  ): Promise<{ id: string; ns: string; result: Record<string, unknown> }> {
    const id = this.containerId();
    this.live.set(id, { id, ns: ns.path, version });
    const out = await this.ok("ADD", version, { id, ns: ns.path });
    if (!isObject(out.json)) {
      throw new Error(`ADD wrote no JSON result: ${out.stdout.slice(0, 200)}`);
    }
    this.live.set(id, { id, ns: ns.path, version, prev: out.json });
    return { id, ns: ns.path, result: out.json };
  }

  async del(
    version: string,
    att: { id: string; ns: string },
    prev?: unknown,
  ): Promise<void> {
    await this.ok(
      "DEL",
      version,
      att,
      prev === undefined ? {} : { prevResult: prev },
    );
    this.live.delete(att.id);
  }

  async cleanup(): Promise<void> {
    for (const att of [...this.live.values()]) {
      await this.run(
        "DEL",
        att.version,
        att,
        att.prev === undefined ? {} : { prevResult: att.prev },
      )
        .catch(() => {});
    }
    this.live.clear();
    for (const ns of [...this.namespaces]) {
      try {
        this.dropNS(ns);
      } catch { /* best effort */ }
    }
  }
}

const CIDR = /^([0-9.]+\/\d{1,2}|[0-9a-fA-F:.]+\/\d{1,3})$/;

/** What is wrong with an ADD result for `version`, or undefined. */
export function resultProblems(
  result: Record<string, unknown>,
  version: string,
  ifname: string,
  netns: string,
): string | undefined {
  if (result.cniVersion !== version) {
    return `cniVersion is ${JSON.stringify(result.cniVersion)}, not ${version}`;
  }
  const interfaces = result.interfaces;
  if (interfaces !== undefined && !Array.isArray(interfaces)) {
    return "interfaces is not a list";
  }
  for (const iface of (interfaces ?? []) as unknown[]) {
    if (
      !isObject(iface) || typeof iface.name !== "string" || iface.name === ""
    ) {
      return `an interface without a name: ${JSON.stringify(iface)}`;
    }
    if (iface.mac !== undefined && typeof iface.mac !== "string") {
      return `${iface.name}: mac is not a string`;
    }
    if (iface.sandbox !== undefined && typeof iface.sandbox !== "string") {
      return `${iface.name}: sandbox is not a string`;
    }
  }
  const list = (interfaces ?? []) as Record<string, unknown>[];
  if (!Array.isArray(result.ips)) return "ips is not a list";
  if (result.ips.length === 0) return "ips is empty";
  for (const ip of result.ips as unknown[]) {
    if (
      !isObject(ip) || typeof ip.address !== "string" || !CIDR.test(ip.address)
    ) {
      return `an ip without a CIDR address: ${JSON.stringify(ip)}`;
    }
    const family = ip.address.includes(":") ? "6" : "4";
    if (compare(version, "1.0.0") < 0) {
      if (ip.version !== family) {
        return `${ip.address}: version is ${
          JSON.stringify(ip.version)
        }, not "${family}" (required before 1.0.0)`;
      }
    } else if (ip.version !== undefined) {
      return `${ip.address}: has a version field, which 1.0.0 removed`;
    }
    if (ip.gateway !== undefined && typeof ip.gateway !== "string") {
      return `${ip.address}: gateway is not a string`;
    }
    if (ip.interface !== undefined) {
      if (
        typeof ip.interface !== "number" || !Number.isInteger(ip.interface) ||
        ip.interface < 0 || ip.interface >= list.length
      ) {
        return `${ip.address}: interface index ${
          JSON.stringify(ip.interface)
        } is out of range`;
      }
    }
  }
  for (const route of (result.routes ?? []) as unknown[]) {
    if (
      !isObject(route) || typeof route.dst !== "string" || !CIDR.test(route.dst)
    ) {
      return `a route without a CIDR dst: ${JSON.stringify(route)}`;
    }
  }
  if (result.dns !== undefined && !isObject(result.dns)) {
    return "dns is not an object";
  }
  const inside = list.findIndex((i) =>
    i.name === ifname && i.sandbox === netns
  );
  if (inside < 0) return `no interface ${ifname} with sandbox ${netns}`;
  return undefined;
}

function addressesIn(ns: NetNS, ifname: string): string[] | undefined {
  using sock = NetlinkSocket.open(ns);
  try {
    const link = getLink(sock, ifname, { stats: false });
    return listAddresses(sock, { link: link.index }).map((a) =>
      `${a.address}/${a.prefixLength}`
    );
  } catch (error) {
    if (error instanceof LinkNotFoundError) return undefined;
    throw error;
  }
}

function hostLinks(): Set<string> {
  using sock = NetlinkSocket.open();
  return new Set(listLinks(sock, { stats: false }).map((l) => l.name));
}

function expectError(
  out: Execution,
  codes: readonly number[],
  what: string,
): string {
  if (out.code === 0) throw new Error(`${what} succeeded`);
  if (!isObject(out.json)) {
    throw new Error(
      `${what}: no error object on stdout (${
        out.stdout.trim().slice(0, 200) || "nothing"
      })`,
    );
  }
  const { code, msg } = out.json;
  if (typeof code !== "number" || typeof msg !== "string") {
    throw new Error(
      `${what}: the error object lacks a numeric code and a msg: ${
        out.stdout.trim().slice(0, 200)
      }`,
    );
  }
  if (!codes.includes(code)) {
    throw new Error(
      `${what}: code ${code} (${msg}), expected ${codes.join(" or ")}`,
    );
  }
  return `code ${code}: ${msg}`;
}

/** Runs every check against the plugin; never throws for a failing plugin. */
export async function runConformance(
  options: ConformanceOptions,
): Promise<ConformanceReport> {
  const r = new Runner(options);
  let supported: string[] = [];
  try {
    // VERSION and negotiation.
    for (const version of KNOWN_VERSIONS) {
      await r.check(
        `version/${version}`,
        `VERSION answers for cniVersion ${version}`,
        async () => {
          const out = await r.exec(
            { CNI_COMMAND: "VERSION" },
            JSON.stringify({ cniVersion: version }),
          );
          if (out.code !== 0) {
            throw new Error(`exited ${out.code}: ${out.stdout.trim()}`);
          }
          if (
            !isObject(out.json) || !Array.isArray(out.json.supportedVersions)
          ) {
            throw new Error(
              `no supportedVersions: ${out.stdout.trim().slice(0, 200)}`,
            );
          }
          if (typeof out.json.cniVersion !== "string") {
            throw new Error("no cniVersion");
          }
          const versions = out.json.supportedVersions as unknown[];
          if (
            !versions.every((v) =>
              typeof v === "string" && /^\d+\.\d+\.\d+$/.test(v)
            )
          ) {
            throw new Error(
              `supportedVersions holds a non-version: ${
                JSON.stringify(versions)
              }`,
            );
          }
          supported = versions as string[];
          return `supports ${versions.join(", ")}`;
        },
      );
    }
    const claimed = KNOWN_VERSIONS.filter((v) => supported.includes(v));
    const latest = claimed.at(-1);
    if (latest === undefined) {
      r.record(
        "versions",
        "the plugin claims a version from 0.3.0 on",
        "fail",
        `it claims ${supported.join(", ") || "none"}`,
      );
      return report(r, options, supported);
    }
    if (claimed.includes("1.1.0")) {
      await r.check(
        "version/echo",
        "VERSION echoes the input's cniVersion (1.1.0)",
        async () => {
          for (const version of claimed) {
            const out = await r.exec(
              { CNI_COMMAND: "VERSION" },
              JSON.stringify({ cniVersion: version }),
            );
            const got = isObject(out.json) ? out.json.cniVersion : undefined;
            if (got !== version) {
              throw new Error(
                `input ${version}, output ${JSON.stringify(got)}`,
              );
            }
          }
        },
      );
    } else {
      r.record(
        "version/echo",
        "VERSION echoes the input's cniVersion (1.1.0)",
        "n/a",
        "the plugin does not claim 1.1.0",
      );
    }
    await r.check(
      "negotiation/unsupported",
      "ADD with a version the plugin does not claim is error 1",
      async () => {
        const ns = r.newNS();
        try {
          const id = r.containerId();
          r.live.set(id, { id, ns: ns.path, version: latest });
          const out = await r.run("ADD", "99.0.0", { id, ns: ns.path });
          return expectError(out, [1], "ADD with cniVersion 99.0.0");
        } finally {
          await r.cleanup();
        }
      },
    );

    // ADD result per version, the namespace, CHECK, DEL twice.
    for (const version of claimed) {
      const ns = r.newNS();
      let added:
        | { id: string; ns: string; result: Record<string, unknown> }
        | undefined;
      const ok = await r.check(
        `add/${version}`,
        `ADD (cniVersion ${version}): the result's schema, and the namespace holds its addresses`,
        async () => {
          added = await r.add(version, ns);
          const problem = resultProblems(
            added.result,
            version,
            "eth0",
            ns.path,
          );
          if (problem !== undefined) throw new Error(problem);
          const have = addressesIn(ns, "eth0");
          if (have === undefined) {
            throw new Error("eth0 is not in the namespace");
          }
          for (const ip of added.result.ips as { address: string }[]) {
            if (!have.includes(ip.address)) {
              throw new Error(
                `${ip.address} is not on eth0 (it has ${have.join(", ")})`,
              );
            }
          }
          return (added.result.ips as { address: string }[]).map((i) =>
            i.address
          ).join(", ");
        },
      );
      if (compare(version, "0.4.0") < 0) {
        r.record(
          `check/${version}`,
          `CHECK after ADD (cniVersion ${version})`,
          "n/a",
          "CHECK came with 0.4.0",
        );
      } else if (ok && added !== undefined) {
        const att = added;
        await r.check(
          `check/${version}`,
          `CHECK after ADD (cniVersion ${version})`,
          async () => {
            await r.ok("CHECK", version, att, { prevResult: att.result });
          },
        );
      } else {
        r.record(
          `check/${version}`,
          `CHECK after ADD (cniVersion ${version})`,
          "fail",
          "ADD failed",
        );
      }
      if (added !== undefined) {
        const att = added;
        await r.check(
          `del/${version}`,
          `DEL removes the interface (cniVersion ${version})`,
          async () => {
            await r.del(version, att, att.result);
            if (addressesIn(ns, "eth0") !== undefined) {
              throw new Error("eth0 is still in the namespace");
            }
          },
        );
        await r.check(
          `del-twice/${version}`,
          `a second DEL succeeds (cniVersion ${version})`,
          async () => {
            await r.del(version, att, att.result);
          },
        );
      } else {
        r.record(
          `del/${version}`,
          `DEL removes the interface (cniVersion ${version})`,
          "fail",
          "ADD failed",
        );
        r.record(
          `del-twice/${version}`,
          `a second DEL succeeds (cniVersion ${version})`,
          "fail",
          "ADD failed",
        );
      }
      await r.cleanup();
    }

    // DEL with the namespace gone, and of a container never added.
    await r.check(
      "del/netns-gone",
      "DEL succeeds after the namespace is gone",
      async () => {
        const ns = r.newNS();
        try {
          const att = await r.add(latest, ns);
          r.dropNS(ns);
          await r.del(latest, att, att.result);
          await r.del(latest, { id: att.id, ns: "" }, att.result);
        } finally {
          await r.cleanup();
        }
      },
    );
    await r.check(
      "del/unknown",
      "DEL of an unknown container succeeds",
      async () => {
        const ns = r.newNS();
        try {
          await r.ok("DEL", latest, { id: r.containerId(), ns: ns.path });
        } finally {
          await r.cleanup();
        }
      },
    );

    // Errors.
    await r.check(
      "error/bad-json",
      "a config that is not JSON gets an error object (code 6)",
      async () => {
        const ns = r.newNS();
        try {
          const out = await r.exec({
            CNI_COMMAND: "ADD",
            CNI_CONTAINERID: r.containerId(),
            CNI_NETNS: ns.path,
            CNI_IFNAME: "eth0",
            CNI_PATH: r.cniPath,
          }, "{not json");
          return expectError(out, [6], "ADD with a config that is not JSON");
        } finally {
          await r.cleanup();
        }
      },
    );
    await r.check(
      "error/bad-config",
      "an invalid config value gets an error object",
      async () => {
        const ns = r.newNS();
        try {
          const id = r.containerId();
          r.live.set(id, { id, ns: ns.path, version: latest });
          const out = await r.run("ADD", latest, { id, ns: ns.path }, {
            name: "",
            type: r.base.type,
          });
          return expectError(
            out,
            [2, 4, 6, 7],
            "ADD with an empty network name",
          );
        } finally {
          await r.cleanup();
        }
      },
    );
    for (
      const missing of [
        "CNI_CONTAINERID",
        "CNI_NETNS",
        "CNI_IFNAME",
      ]
    ) {
      await r.check(
        `error/missing-${missing}`,
        `ADD without ${missing} is error 4`,
        async () => {
          const ns = r.newNS();
          try {
            const id = r.containerId();
            r.live.set(id, { id, ns: ns.path, version: latest });
            const env: Record<string, string | undefined> = {
              CNI_COMMAND: "ADD",
              CNI_CONTAINERID: id,
              CNI_NETNS: ns.path,
              CNI_IFNAME: "eth0",
              CNI_PATH: r.cniPath,
            };
            delete env[missing];
            const out = await r.exec(env, JSON.stringify(r.config(latest)));
            return expectError(out, [4], `ADD without ${missing}`);
          } finally {
            await r.cleanup();
          }
        },
      );
    }

    // GC and STATUS (1.1.0).
    if (!claimed.includes("1.1.0")) {
      for (
        const [id, name] of [
          ["gc/valid", "GC keeps the valid attachments"],
          [
            "gc/stale",
            "GC frees an attachment not listed (its host interfaces go)",
          ],
          ["gc/none", "GC without valid attachments succeeds"],
          ["status", "STATUS succeeds while ADD can succeed"],
        ]
      ) r.record(id!, name!, "n/a", "the plugin does not claim 1.1.0");
    } else {
      const before = hostLinks();
      const nsA = r.newNS();
      const nsB = r.newNS();
      let a:
        | { id: string; ns: string; result: Record<string, unknown> }
        | undefined;
      let b:
        | { id: string; ns: string; result: Record<string, unknown> }
        | undefined;
      await r.check("gc/valid", "GC keeps the valid attachments", async () => {
        a = await r.add("1.1.0", nsA);
        b = await r.add("1.1.0", nsB);
        await r.ok("GC", "1.1.0", { id: "", ns: "" }, {
          "cni.dev/valid-attachments": [{ containerID: a.id, ifname: "eth0" }],
        });
        await r.ok("CHECK", "1.1.0", a, { prevResult: a.result });
      });
      await r.check(
        "gc/stale",
        "GC frees an attachment not listed (its host interfaces go)",
        async () => {
          if (b === undefined) throw new Error("its ADD failed");
          const hostSide = ((b.result.interfaces ?? []) as {
            name: string;
            sandbox?: string;
          }[])
            .filter((i) => !i.sandbox && !before.has(i.name)).map((i) =>
              i.name
            );
          const shared = new Set(
            ((a?.result.interfaces ?? []) as { name: string }[]).map((i) =>
              i.name
            ),
          );
          const left = [...hostLinks()].filter((n) =>
            hostSide.includes(n) && !shared.has(n)
          );
          if (left.length > 0) {
            throw new Error(`still on the host: ${left.join(", ")}`);
          }
          // A DEL after GC still succeeds.
          await r.del("1.1.0", b, b.result);
        },
      );
      await r.check(
        "gc/none",
        "GC without valid attachments succeeds, and DEL after it",
        async () => {
          await r.ok("GC", "1.1.0", { id: "", ns: "" }, {
            "cni.dev/valid-attachments": [],
          });
          if (a !== undefined) await r.del("1.1.0", a, a.result);
        },
      );
      await r.cleanup();
      await r.check(
        "status",
        "STATUS succeeds while ADD can succeed",
        async () => {
          await r.ok("STATUS", "1.1.0", { id: "", ns: "" });
        },
      );
    }

    // Parallel ADDs.
    await r.check(
      "parallel",
      `${options.parallel ?? 4} ADDs at once get distinct addresses`,
      async () => {
        const spaces = Array.from(
          { length: options.parallel ?? 4 },
          () => r.newNS(),
        );
        try {
          const results = await Promise.all(
            spaces.map((ns) => r.add(latest, ns)),
          );
          const addresses = results.flatMap((res) =>
            (res.result.ips as { address: string }[]).map((i) =>
              i.address.split("/")[0]!
            )
          );
          if (new Set(addresses).size !== addresses.length) {
            throw new Error(`addresses repeat: ${addresses.join(", ")}`);
          }
          await Promise.all(
            results.map((res) => r.del(latest, res, res.result)),
          );
          return addresses.join(", ");
        } finally {
          await r.cleanup();
        }
      },
    );
  } finally {
    await r.cleanup();
  }
  return report(r, options, supported);
}

function report(
  r: Runner,
  options: ConformanceOptions,
  supported: string[],
): ConformanceReport {
  const count = (what: CheckOutcome): number =>
    r.checks.filter((c) => c.result === what).length;
  return {
    plugin: options.plugin,
    config: options.config,
    supportedVersions: supported,
    checks: r.checks,
    passed: count("pass"),
    failed: count("fail"),
    notApplicable: count("n/a"),
  };
}

/** The report as a table: one line per check, then the totals. */
export function formatReport(report: ConformanceReport): string {
  const width = Math.max(...report.checks.map((c) => c.id.length), 2);
  const lines = [`${"ID".padEnd(width)}  RESULT  DETAIL`];
  for (const c of report.checks) {
    lines.push(
      `${c.id.padEnd(width)}  ${c.result.toUpperCase().padEnd(6)}  ${c.name}${
        c.detail ? ` — ${c.detail}` : ""
      }`,
    );
  }
  lines.push(
    `${report.passed} passed, ${report.failed} failed, ${report.notApplicable} not applicable`,
  );
  return lines.join("\n");
}
