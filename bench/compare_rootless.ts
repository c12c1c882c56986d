/**
 * Side by side in one run: rootless Podman and rootless nsnet, run by the
 * same unprivileged user (the test user of `tests/_rootless.ts`), making the
 * rootless network namespace usable and running `true` in it.
 *
 * - warm: the rootless netns is already up; `podman unshare --rootless-netns
 *   true` vs `nsnet rootless exec -- true`.
 * - cold: no netns, no helper (slirp4netns/pasta), no pause process; the same
 *   two commands from nothing.
 *
 * Runs alternate which side goes first; every cold run starts from both sides
 * reset. Prints medians (ms, wall time of the whole command as the user) and
 * the nsnet/podman ratios; the nsnet column reads "n/a (…)" while
 * `nsnet rootless exec` fails. Leaves nothing running. Run as root:
 *
 *   deno run --allow-all bench/compare_rootless.ts [WARM_RUNS] [COLD_RUNS]
 */
import {
  asUser,
  cleanupRootless,
  nsnetAsUser,
  type RootlessEnv,
  rootlessEnv,
  TEST_USER,
  type UserResult,
} from "../tests/_rootless.ts";
import {
  PODMAN_UNSHARE_NETNS,
  podmanLeftovers,
  podmanPids,
  preparePodman,
  resetPodman,
  userProcesses,
} from "./_podman.ts";

const warmRuns = Number(Deno.args[0] ?? 11);
const coldRuns = Number(Deno.args[1] ?? 7);
/** Lets the kernel's deferred namespace teardown pass before a cold run. */
const SETTLE_MS = 100;
const NSNET_EXEC = ["rootless", "exec", "--", "true"];

type Side = "podman" | "nsnet";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[mid]!
    : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** First telling line of a failed command's output, fit for a table cell. */
function summarize(result: UserResult): string {
  const lines = `${result.stderr}\n${result.stdout}`.split("\n")
    .map((l) => l.trim()).filter((l) => l !== "");
  const line = lines.find((l) => /error/i.test(l)) ?? lines[0] ??
    `exit ${result.code}`;
  const short = line.length > 90 ? `${line.slice(0, 87)}…` : line;
  return short.replaceAll("|", "\\|");
}

async function timed(
  run: () => Promise<UserResult>,
): Promise<{ ms: number; result: UserResult }> {
  const start = performance.now();
  const result = await run();
  return { ms: performance.now() - start, result };
}

function runPodman(): Promise<UserResult> {
  return asUser([...PODMAN_UNSHARE_NETNS]);
}

function runNsnet(): Promise<UserResult> {
  return nsnetAsUser(NSNET_EXEC);
}

async function resetNsnet(): Promise<void> {
  await nsnetAsUser(["rootless", "down", "--force"]);
  await cleanupRootless();
}

async function resetBoth(env: RootlessEnv): Promise<void> {
  await resetNsnet();
  await resetPodman(env);
  await sleep(SETTLE_MS);
}

/** Live processes of the user that were not there when the run began. */
function newProcesses(env: RootlessEnv, before: Set<number>): string[] {
  return userProcesses(env.uid)
    .filter((p) => p.state !== "Z" && !before.has(p.pid))
    .map((p) => `process ${p.pid} (${p.cmdline})`);
}

/** The user's live processes, as `pid comm` strings. */
function liveProcesses(env: RootlessEnv): Set<string> {
  return new Set(
    userProcesses(env.uid).filter((p) => p.state !== "Z")
      .map((p) => `${p.pid} ${p.comm}`),
  );
}

if (Deno.uid() !== 0) {
  console.error("compare_rootless: run as root (it drives the test user)");
  Deno.exit(2);
}
const env = rootlessEnv();
const { version, changes } = preparePodman(env);
for (const change of changes) console.error(`compare_rootless: ${change}`);
const preexisting = new Set(userProcesses(env.uid).map((p) => p.pid));

let interrupted = false;
const onSigint = (): void => {
  interrupted = true;
};
Deno.addSignalListener("SIGINT", onSigint);

const samples: Record<"warm" | "cold", Record<Side, number[]>> = {
  warm: { podman: [], nsnet: [] },
  cold: { podman: [], nsnet: [] },
};
const floors = { wrapper: [] as number[], cliLoad: [] as number[] };
let nsnetError: string | undefined;
const notes: string[] = [];

async function measure(
  phase: "warm" | "cold",
  side: Side,
): Promise<void> {
  if (side === "nsnet" && nsnetError !== undefined) return;
  const { ms, result } = await timed(side === "podman" ? runPodman : runNsnet);
  if (result.code !== 0) {
    if (side === "podman") {
      throw new Error(
        `${PODMAN_UNSHARE_NETNS.join(" ")} failed (${result.code}): ${
          summarize(result)
        }`,
      );
    }
    nsnetError = `${phase}: ${summarize(result)}`;
    return;
  }
  samples[phase][side].push(ms);
}

try {
  // Probe: whether nsnet rootless works at all, and one Podman run from
  // nothing so that its persistent storage (in the home) exists.
  await resetBoth(env);
  const probe = await runNsnet();
  if (probe.code !== 0) nsnetError = summarize(probe);
  const podmanProbe = await runPodman();
  if (podmanProbe.code !== 0) {
    throw new Error(`rootless podman does not work: ${summarize(podmanProbe)}`);
  }

  for (let i = 0; i < coldRuns && !interrupted; i++) {
    const order: Side[] = i % 2 ? ["nsnet", "podman"] : ["podman", "nsnet"];
    for (const side of order) {
      await resetBoth(env);
      await measure("cold", side);
    }
  }

  // Both rootless netns up at once, then each command again and again.
  await resetBoth(env);
  // nsnet, like Podman v5, tears the namespace down with its last user;
  // `rootless up` keeps it up, as Podman 4's namespace stays after unshare.
  const up = await nsnetAsUser(["rootless", "up"]);
  if (up.code !== 0) {
    console.error(`nsnet rootless up failed: ${up.stderr.trim()}`);
  }
  await measure("warm", "podman");
  await measure("warm", "nsnet");
  samples.warm.podman.length = 0;
  samples.warm.nsnet.length = 0;
  const podmanUp = podmanPids(env);
  const helpersUp = liveProcesses(env);
  for (let i = 0; i < warmRuns && !interrupted; i++) {
    const order: Side[] = i % 2 ? ["nsnet", "podman"] : ["podman", "nsnet"];
    for (const side of order) await measure("warm", side);
    floors.wrapper.push((await timed(() => asUser(["true"]))).ms);
    floors.cliLoad.push((await timed(() => nsnetAsUser(["--help"]))).ms);
  }
  const podmanAfter = podmanPids(env);
  const helpersAfter = liveProcesses(env);
  const gone = [...helpersUp].filter((p) => !helpersAfter.has(p));
  const started = [...helpersAfter].filter((p) => !helpersUp.has(p));
  if (gone.length || started.length) {
    notes.push(
      `the user's long-lived processes changed during the warm runs ` +
        `(gone: ${gone.join(", ") || "none"}; new: ${
          started.join(", ") || "none"
        }): not every run was warm`,
    );
  }
  if (
    podmanUp.pause !== podmanAfter.pause ||
    podmanUp.slirp4netns !== podmanAfter.slirp4netns
  ) {
    notes.push(
      `Podman's pause/slirp4netns changed during the warm runs (${
        JSON.stringify(podmanUp)
      } → ${JSON.stringify(podmanAfter)}): not all of them were warm`,
    );
  }
} finally {
  await resetBoth(env);
  Deno.removeSignalListener("SIGINT", onSigint);
}

// Podman's are killed by resetPodman: anything found now is a leak to fix.
await sleep(200);
const leftovers = [
  ...podmanLeftovers(env),
  ...newProcesses(env, preexisting),
];
try {
  for (const e of Deno.readDirSync(`${env.runtimeDir}/netns`)) {
    leftovers.push(`netns file ${env.runtimeDir}/netns/${e.name}`);
  }
} catch { /* no netns dir: nothing left */ }

const fmt = (ms: number): string => ms.toFixed(1);
const podman = {
  warm: median(samples.warm.podman),
  cold: median(samples.cold.podman),
};
const nsnetMeasured = nsnetError === undefined &&
  samples.warm.nsnet.length > 0 && samples.cold.nsnet.length > 0;
const nsnet = nsnetMeasured
  ? { warm: median(samples.warm.nsnet), cold: median(samples.cold.nsnet) }
  : undefined;

console.log(
  `### Rootless netns: ${version} vs nsnet, as user ${TEST_USER} ` +
    `(median wall ms; ${samples.warm.podman.length} warm, ` +
    `${samples.cold.podman.length} cold runs each)\n`,
);
console.log("| case | Podman (ms) | nsnet (ms) | nsnet/podman |");
console.log("|---|---:|---:|---:|");
for (const phase of ["warm", "cold"] as const) {
  const label = phase === "warm"
    ? "warm: `podman unshare --rootless-netns true` vs `nsnet rootless exec -- true`"
    : "cold (no netns, no helper, no pause process): same commands";
  const nsnetCell = nsnet
    ? fmt(nsnet[phase])
    : `n/a (${nsnetError ?? "no samples"})`;
  const ratio = nsnet ? `${(nsnet[phase] / podman[phase]).toFixed(2)}×` : "n/a";
  console.log(`| ${label} | ${fmt(podman[phase])} | ${nsnetCell} | ${ratio} |`);
}
console.log();
const range = (values: number[]): string =>
  values.length
    ? `${fmt(Math.min(...values))}–${fmt(Math.max(...values))}`
    : "n/a";
console.log(
  `- ranges (ms): Podman warm ${range(samples.warm.podman)}, cold ${
    range(samples.cold.podman)
  }; nsnet warm ${range(samples.warm.nsnet)}, cold ${
    range(samples.cold.nsnet)
  }`,
);
console.log(
  `- floors (median ms): running \`true\` as the user ${
    fmt(median(floors.wrapper))
  }; \`nsnet --help\` (Deno start + CLI load) ${fmt(median(floors.cliLoad))}`,
);
const met = nsnet && nsnet.warm <= podman.warm && nsnet.cold <= podman.cold;
console.log(
  `- target: nsnet at or below Podman's wall time in both: ${
    nsnet ? (met ? "**met**" : "**missed**") : "**not measured**"
  }`,
);
for (const note of notes) console.log(`- note: ${note}`);
if (interrupted) console.log("- note: interrupted, fewer runs than asked");
if (leftovers.length) {
  console.log(`- **left behind**: ${leftovers.join("; ")}`);
  Deno.exitCode = 1;
}
