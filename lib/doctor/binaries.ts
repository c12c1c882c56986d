/**
 * `nsnet doctor`'s check of the programs nsnet runs: slirp4netns and pasta
 * (rootless networking; one of them is enough), nft (masquerading and
 * DNAT), ip (iproute2, for `ip netns` interop), and util-linux's unshare,
 * nsenter and setsid (nsnet's user namespace), each with its version.
 *
 * @module
 */

import {
  type DoctorCheck,
  type DoctorContext,
  type DoctorStatus,
  result,
} from "./types.ts";
import { findBinary } from "./userns.ts";

/** A program nsnet runs. */
interface Program {
  /** Its name. */
  name: string;
  /** The arguments that print its version. */
  versionArgs: string[];
  /** How bad its absence is. */
  severity: (ctx: DoctorContext) => DoctorStatus;
  /** What needs it. */
  usedBy: string;
  /** How to install it. */
  install: string;
}

const PROGRAMS: readonly Program[] = [
  {
    name: "slirp4netns",
    versionArgs: ["--version"],
    severity: () => "warn",
    usedBy: "rootless networking (--helper slirp4netns, --network slirp4netns)",
    install: "apt-get install slirp4netns",
  },
  {
    name: "pasta",
    versionArgs: ["--version"],
    severity: () => "warn",
    usedBy: "rootless networking (--helper pasta, --network pasta)",
    install: "apt-get install passt",
  },
  {
    name: "nft",
    versionArgs: ["--version"],
    severity: () => "fail",
    usedBy: "masquerading of bridge networks and published ports",
    install: "apt-get install nftables",
  },
  {
    name: "ip",
    versionArgs: ["-V"],
    severity: () => "warn",
    usedBy: "`ip netns` interop and scripts",
    install: "apt-get install iproute2",
  },
  {
    name: "unshare",
    versionArgs: ["--version"],
    severity: (ctx) => ctx.rootless ? "fail" : "warn",
    usedBy: "nsnet's user namespace (rootless)",
    install: "apt-get install util-linux",
  },
  {
    name: "nsenter",
    versionArgs: ["--version"],
    severity: (ctx) => ctx.rootless ? "fail" : "warn",
    usedBy: "entering nsnet's user namespace and rootless network namespace",
    install: "apt-get install util-linux",
  },
];

/** The first line of what `path versionArgs…` prints, or undefined when it cannot run. */
async function versionOf(
  path: string,
  args: readonly string[],
): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(path, {
      args: [...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    const text = `${decoder.decode(out.stdout)}\n${decoder.decode(out.stderr)}`;
    return text.split("\n").map((l) => l.trim()).find((l) => l !== "") ??
      "(no version printed)";
  } catch {
    return undefined;
  }
}

/** One result per program: found (with its version), or missing and what that breaks. */
export async function binaryChecks(ctx: DoctorContext): Promise<DoctorCheck[]> {
  const found = await Promise.all(PROGRAMS.map(async (program) => {
    const path = findBinary(program.name);
    const version = path === undefined
      ? undefined
      : await versionOf(path, program.versionArgs);
    return { program, path, version };
  }));
  const helpers = found.filter((f) =>
    ["slirp4netns", "pasta"].includes(f.program.name) && f.version !== undefined
  );
  return found.map(({ program, path, version }) => {
    const check = `binary: ${program.name}`;
    if (path !== undefined && version !== undefined) {
      return result(check, "ok", `${path}: ${version}`);
    }
    const isHelper = ["slirp4netns", "pasta"].includes(program.name);
    // One rootless helper is enough; without both, rootless nsnet has no network.
    const status = isHelper && helpers.length === 0 && ctx.rootless
      ? "fail"
      : program.severity(ctx);
    const detail = path === undefined
      ? `${program.name} is not installed (not in PATH, /usr/bin or /usr/sbin)`
      : `${path} does not run`;
    return result(
      check,
      status,
      `${detail}: needed by ${program.usedBy}`,
      program.install,
    );
  });
}
