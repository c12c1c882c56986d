/**
 * `nsnet doctor`'s kernel checks: network and user namespaces, veth, bridge,
 * tun, nftables (with NAT), and the netem and tbf qdiscs. As real root each
 * is tried in a throwaway network namespace (a veth pair and a bridge made,
 * an nftables NAT table written, each qdisc added to `lo`), which the kernel
 * removes with the namespace; rootless, where no namespace can be made from
 * here, the kernel's build config (`/proc/config.gz`, else
 * `/boot/config-RELEASE`) and `/proc/misc` tell.
 *
 * @module
 */

import { createLink } from "../netlink/link.ts";
import { NetlinkError } from "../netlink/errors.ts";
import { addQdisc, TcKindMissingError } from "../netlink/qdisc.ts";
import { NetlinkSocket } from "../netlink/socket.ts";
import { newNS } from "../netns/create.ts";
import { unmountNS } from "../netns/teardown.ts";
import {
  type DoctorCheck,
  type DoctorContext,
  type DoctorStatus,
  result,
} from "./types.ts";

/** What a probe found for one feature. */
export interface FeatureFinding {
  /** true: it works; false: the kernel lacks it; undefined: could not tell. */
  present: boolean | undefined;
  /** How that was found, or why not. */
  how: string;
}

/** One kernel feature nsnet uses. */
interface Feature {
  /** Its short name, as in the check's name. */
  name: string;
  /** The build option(s) that give it. */
  config: string[];
  /** How bad its absence is for this user. */
  severity: (ctx: DoctorContext) => DoctorStatus;
  /** What needs it, for the detail of a missing feature. */
  usedBy: string;
}

const FEATURES: readonly Feature[] = [
  {
    name: "netns",
    config: ["CONFIG_NET_NS"],
    severity: () => "fail",
    usedBy: "every nsnet namespace",
  },
  {
    name: "user namespaces",
    config: ["CONFIG_USER_NS"],
    severity: (ctx) => ctx.rootless ? "fail" : "warn",
    usedBy: "rootless nsnet",
  },
  {
    name: "veth",
    config: ["CONFIG_VETH"],
    severity: () => "fail",
    usedBy: "bridge networks",
  },
  {
    name: "bridge",
    config: ["CONFIG_BRIDGE"],
    severity: () => "fail",
    usedBy: "bridge networks",
  },
  {
    name: "tun",
    config: ["CONFIG_TUN"],
    severity: (ctx) => ctx.rootless ? "fail" : "warn",
    usedBy: "slirp4netns and pasta (rootless networking) and tun/tap links",
  },
  {
    name: "nftables",
    config: ["CONFIG_NF_TABLES", "CONFIG_NFT_NAT", "CONFIG_NFT_MASQ"],
    severity: () => "fail",
    usedBy: "masquerading of bridge networks and published ports (DNAT)",
  },
  {
    name: "netem",
    config: ["CONFIG_NET_SCH_NETEM"],
    severity: () => "warn",
    usedBy: "`nsnet qdisc add … netem` (delay, loss)",
  },
  {
    name: "tbf",
    config: ["CONFIG_NET_SCH_TBF"],
    severity: () => "warn",
    usedBy: "`nsnet qdisc add … tbf` (rate limits)",
  },
];

/**
 * Turns findings into check results: a present feature is ok, a missing one
 * fails or warns as it matters to this user, and one that could not be told
 * is skipped. Pure: the tests feed it findings a kernel cannot be made to give.
 */
export function kernelResults(
  ctx: DoctorContext,
  findings: ReadonlyMap<string, FeatureFinding>,
): DoctorCheck[] {
  return FEATURES.map((feature) => {
    const check = `kernel: ${feature.name}`;
    const finding = findings.get(feature.name) ??
      { present: undefined, how: "not probed" };
    const options = feature.config.join(", ");
    if (finding.present === true) return result(check, "ok", finding.how);
    if (finding.present === undefined) {
      return result(
        check,
        "skip",
        `cannot tell: ${finding.how}`,
        `check that the kernel is built with ${options}`,
      );
    }
    return result(
      check,
      feature.severity(ctx),
      `missing (${finding.how}); needed by ${feature.usedBy}`,
      `use a kernel built with ${options} (or load its module with modprobe)`,
    );
  });
}

/** Runs the kernel checks: probes as real root, the build config rootless. */
export async function kernelChecks(ctx: DoctorContext): Promise<DoctorCheck[]> {
  const config = await readKernelConfig();
  const findings = ctx.rootless
    ? configFindings(config)
    : await probeFindings(config);
  return kernelResults(ctx, findings);
}

/** The kernel's build config as option → value (`y`, `m`, `n`), or undefined when unreadable. */
export async function readKernelConfig(): Promise<
  Map<string, string> | undefined
> {
  let text: string | undefined;
  try {
    const gz = await Deno.readFile("/proc/config.gz");
    const stream = new Blob([gz]).stream().pipeThrough(
      new DecompressionStream("gzip"),
    );
    text = await new Response(stream).text();
  } catch {
    try {
      text = Deno.readTextFileSync(`/boot/config-${Deno.osRelease()}`);
    } catch {
      return undefined;
    }
  }
  return parseKernelConfig(text);
}

/** Parses a kernel `.config`: `CONFIG_X=y|m|…`, and `# CONFIG_X is not set` as `n`. */
export function parseKernelConfig(text: string): Map<string, string> {
  const config = new Map<string, string>();
  for (const line of text.split("\n")) {
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (set) {
      config.set(set[1]!, set[2]!);
      continue;
    }
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (unset) config.set(unset[1]!, "n");
  }
  return config;
}

function fromConfig(
  config: Map<string, string> | undefined,
  options: readonly string[],
): FeatureFinding {
  if (config === undefined) {
    return {
      present: undefined,
      how: "no /proc/config.gz or /boot/config-* to read the build from",
    };
  }
  const values = options.map((o) => `${o}=${config.get(o) ?? "n"}`);
  const missing = options.filter((o) => !["y", "m"].includes(config.get(o)!));
  if (missing.length > 0) {
    return { present: false, how: `${missing.join(", ")} not set` };
  }
  return {
    present: true,
    how: `built in the kernel config (${values.join(", ")})`,
  };
}

function hasNamespaceFile(type: string): boolean {
  try {
    Deno.readLinkSync(`/proc/self/ns/${type}`);
    return true;
  } catch {
    return false;
  }
}

function tunRegistered(): boolean {
  try {
    return /^\s*\d+\s+tun$/m.test(Deno.readTextFileSync("/proc/misc"));
  } catch {
    return false;
  }
}

/** Findings from the build config and /proc alone (rootless, or where probing failed). */
export function configFindings(
  config: Map<string, string> | undefined,
): Map<string, FeatureFinding> {
  const findings = new Map<string, FeatureFinding>();
  for (const feature of FEATURES) {
    findings.set(feature.name, fromConfig(config, feature.config));
  }
  if (hasNamespaceFile("net")) {
    findings.set("netns", { present: true, how: "/proc/self/ns/net exists" });
  }
  if (hasNamespaceFile("user")) {
    findings.set("user namespaces", {
      present: true,
      how: "/proc/self/ns/user exists",
    });
  }
  if (tunRegistered()) {
    findings.set("tun", {
      present: true,
      how: "the tun device is registered (/proc/misc)",
    });
  }
  return findings;
}

function tried(
  what: string,
  fn: () => void,
  isMissing: (error: unknown) => boolean,
): FeatureFinding {
  try {
    fn();
    return { present: true, how: `${what} in a throwaway namespace` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (isMissing(error)) return { present: false, how: message };
    // Refused for another reason (bad options): the kind itself exists.
    if (error instanceof NetlinkError) {
      return {
        present: true,
        how: `${what}: the kernel knows it (${error.code})`,
      };
    }
    return { present: undefined, how: message };
  }
}

const EOPNOTSUPP = 95;

function unknownLinkKind(error: unknown): boolean {
  return error instanceof NetlinkError && error.errno === EOPNOTSUPP;
}

/** Real root: each feature tried in a namespace made for it and removed again. */
async function probeFindings(
  config: Map<string, string> | undefined,
): Promise<Map<string, FeatureFinding>> {
  const findings = configFindings(config);
  let ns;
  try {
    ns = newNS();
  } catch (error) {
    findings.set("netns", {
      present: false,
      how: `cannot make a network namespace: ${(error as Error).message}`,
    });
    return findings;
  }
  try {
    findings.set("netns", {
      present: true,
      how: "made a throwaway network namespace",
    });
    {
      using sock = NetlinkSocket.open(ns);
      findings.set(
        "veth",
        tried("made a veth pair", () =>
          createLink(sock, {
            kind: "veth",
            name: "nsdoc0",
            peer: { name: "nsdoc1" },
          }), unknownLinkKind),
      );
      findings.set(
        "bridge",
        tried(
          "made a bridge",
          () => createLink(sock, { kind: "bridge", name: "nsdocbr0" }),
          unknownLinkKind,
        ),
      );
      for (const kind of ["netem", "tbf"]) {
        findings.set(
          kind,
          tried(
            `added a ${kind} qdisc`,
            () => addQdisc(sock, { device: "lo", kind }),
            (error) => error instanceof TcKindMissingError,
          ),
        );
      }
    }
    const nft = await probeNftables(ns.path);
    if (nft !== undefined) findings.set("nftables", nft);
  } finally {
    unmountNS(ns);
  }
  return findings;
}

/** Writes a NAT table with masquerade and DNAT rules in the namespace at `path`; undefined without nft. */
async function probeNftables(
  path: string,
): Promise<FeatureFinding | undefined> {
  const batch = [
    "add table ip nsnet_doctor",
    "add chain ip nsnet_doctor post { type nat hook postrouting priority 100; }",
    "add chain ip nsnet_doctor pre { type nat hook prerouting priority -100; }",
    "add rule ip nsnet_doctor post masquerade",
    "add rule ip nsnet_doctor pre tcp dport 1 dnat to 10.0.0.1:1",
  ].join("\n") + "\n";
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("nsenter", {
      args: [`--net=${path}`, "--", "nft", "-f", "-"],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch {
    return undefined;
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(batch)).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (out.success) {
    return {
      present: true,
      how: "wrote a NAT table (masquerade, dnat) in a throwaway namespace",
    };
  }
  if (/not found|No such file or directory.*nft|execvp/.test(stderr)) {
    return undefined; // nft itself is missing: the binaries check says so
  }
  if (
    /not supported|Protocol not supported|Could not process rule/i.test(stderr)
  ) {
    return { present: false, how: stderr.split("\n")[0]! };
  }
  return { present: undefined, how: `nft failed: ${stderr.split("\n")[0]}` };
}
