/**
 * What the netlink comparisons share: how `ip` is fed and timed as a whole
 * process, how pyroute2 is timed inside Python in a namespace, and medians.
 *
 * @module
 */
import type { NetNS } from "../lib/netns/netns.ts";

/** The Python that has Debian's python3-pyroute2. */
export const PYTHON = "/usr/bin/python3";

/** A namespace's name under /run/netns, for `ip -n` and `ip netns exec`. */
export function nameOf(ns: NetNS): string {
  return ns.path.slice(ns.path.lastIndexOf("/") + 1);
}

/** The median of `values`. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Feeds `lines` to `ip -n NAME -batch -`. */
export async function ipBatch(ns: NetNS, lines: string[]): Promise<void> {
  const child = new Deno.Command("ip", {
    args: ["-n", nameOf(ns), "-batch", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

/** Whether `command args…` runs and exits 0. */
export function has(command: string, ...args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * Wall times in ms of a whole process over `runs` runs (after 3 warm-up
 * runs): hyperfine -N when installed, else spawn timing; and which of the
 * two it was.
 */
export function processSamples(
  args: string[],
  runs: number,
): { samples: number[]; how: string } {
  if (has("hyperfine", "--version")) {
    const json = Deno.makeTempFileSync({ suffix: ".json" });
    try {
      const out = new Deno.Command("hyperfine", {
        args: [
          "-N",
          "--warmup",
          "3",
          "--runs",
          String(runs),
          "--export-json",
          json,
          args.join(" "),
        ],
        stdout: "null",
        stderr: "piped",
      }).outputSync();
      if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
      const result = JSON.parse(Deno.readTextFileSync(json)).results[0];
      return {
        samples: (result.times as number[]).map((t) => t * 1000),
        how: "hyperfine -N",
      };
    } finally {
      Deno.removeSync(json);
    }
  }
  const samples: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    const start = performance.now();
    const out = new Deno.Command(args[0]!, {
      args: args.slice(1),
      stdout: "null",
    }).outputSync();
    if (!out.success) throw new Error(`${args.join(" ")} failed`);
    if (i >= 3) samples.push(performance.now() - start);
  }
  return { samples, how: "spawned from Deno" };
}

/** Median wall time in ms of a whole process over `runs` runs; see {@linkcode processSamples}. */
export function timeProcess(
  args: string[],
  runs: number,
): { ms: number; how: string } {
  const { samples, how } = processSamples(args, runs);
  return { ms: median(samples), how };
}

/**
 * Times `fn`, an in-process call, in steady state: first warmed up for at
 * least 30 calls and half a second (a fresh isolate needs about 25 calls of
 * a large dump before its JIT tiers and young generation settle; timing
 * earlier measures the warm-up, not the call), then `runs` timed calls.
 */
export function callSamples(
  fn: () => unknown,
  runs: number,
  warmUp = true,
): number[] {
  const warm = performance.now();
  for (let i = 0; warmUp && (i < 30 || performance.now() - warm < 500); i++) {
    fn();
  }
  if (!warmUp) fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  return samples;
}

/**
 * nsnet's call and `ip`'s whole process timed in alternating rounds (call,
 * process, call, process…), `runs` samples each in all: both see the same
 * stretches of a shared machine's load, so their ratio does not depend on
 * which of them ran while a neighbour was busy. Returns both medians.
 */
export function timeSideBySide(
  fn: () => unknown,
  args: string[],
  runs: number,
  rounds = 3,
): { nsnet: number; ip: number; how: string } {
  const nsnet: number[] = [];
  const ip: number[] = [];
  let how = "";
  const per = Math.max(1, Math.ceil(runs / rounds));
  for (let round = 0; round < rounds; round++) {
    nsnet.push(...callSamples(fn, per, round === 0));
    const process = processSamples(args, per);
    ip.push(...process.samples);
    how = process.how;
  }
  return { nsnet: median(nsnet), ip: median(ip), how };
}

/**
 * Runs a Python `script` with pyroute2 inside `ns` and returns its printed
 * JSON, or undefined when pyroute2 is not installed.
 */
export function runPyroute2(ns: NetNS, script: string): unknown {
  if (!has(PYTHON, "-c", "import pyroute2")) return undefined;
  const out = new Deno.Command("ip", {
    args: ["netns", "exec", nameOf(ns), PYTHON, "-c", script],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
