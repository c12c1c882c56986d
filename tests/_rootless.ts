/**
 * The unprivileged user that rootless tests run as, made by the tests
 * themselves (as root): a system account with a subordinate id range, its
 * runtime dir, and a copy of Deno and of the bundled CLI it can execute.
 */
import { run, succeeds } from "./_helpers.ts";
import { WORKER_MODULES } from "../lib/worker.ts";
import { rootlessNetNSName } from "../lib/rootless/state.ts";

/** Name of the test user (`NSNET_TEST_USER` to run two suites side by side). */
export const TEST_USER = Deno.env.get("NSNET_TEST_USER") ?? "nsnettest";

/** What a rootless test needs to run nsnet as the test user. */
export interface RootlessEnv {
  uid: number;
  gid: number;
  home: string;
  runtimeDir: string;
  /** The bundled CLI (`deno bundle` of cli.ts: no npm cache needed by the user). */
  cli: string;
  /**
   * The bundled test-only entry `tests/_fixtures/fault_cli.ts` (the CLI with
   * faults read from `NSNET_FAULT`), in its own directory so that the
   * production bundle holds no fault read.
   */
  faultCli: string;
  /** A Deno binary the user may execute. */
  deno: string;
}

let prepared: RootlessEnv | undefined;
const WORK = `/var/tmp/nsnet-rootless-test${
  TEST_USER === "nsnettest" ? "" : `-${TEST_USER}`
}`;

/** Creates (once per process) the test user and what it needs; idempotent across runs. */
export function rootlessEnv(): RootlessEnv {
  if (prepared) return prepared;
  if (!succeeds("id", TEST_USER)) {
    run("useradd", "--create-home", "--shell", "/bin/bash", TEST_USER);
  }
  const uid = Number(run("id", "-u", TEST_USER));
  const gid = Number(run("id", "-g", TEST_USER));
  for (const file of ["/etc/subuid", "/etc/subgid"]) {
    const text = (() => {
      try {
        return Deno.readTextFileSync(file);
      } catch {
        return "";
      }
    })();
    if (!text.split("\n").some((l) => l.startsWith(`${TEST_USER}:`))) {
      Deno.writeTextFileSync(file, `${TEST_USER}:300000:65536\n`, {
        append: true,
      });
    }
  }
  // Distributions ship /dev/net/tun 0666; this machine has 0600.
  Deno.chmodSync("/dev/net/tun", 0o666);
  const runtimeDir = `/run/user/${uid}`;
  Deno.mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  Deno.chownSync(runtimeDir, uid, gid);
  Deno.chmodSync(runtimeDir, 0o700);
  Deno.mkdirSync(WORK, { recursive: true, mode: 0o755 });
  const deno = `${WORK}/deno`;
  if (!succeeds("cmp", "-s", Deno.execPath(), deno)) {
    Deno.copyFileSync(Deno.execPath(), `${deno}.new`);
    Deno.chmodSync(`${deno}.new`, 0o755);
    Deno.renameSync(`${deno}.new`, deno);
  }
  const cli = bundle(`${WORK}/nsnet`, "../cli.ts");
  const faultCli = bundle(`${WORK}/nsnet-fault`, "./_fixtures/fault_cli.ts");
  const home = run("sh", "-c", `getent passwd ${TEST_USER} | cut -d: -f6`);
  prepared = { uid, gid, home, runtimeDir, cli, faultCli, deno };
  return prepared;
}

/**
 * Bundles the entry `source` (relative to this file) into `dir`, readable by
 * the test user, and returns the bundled entry's path. As `deno task
 * bundle`: split, so that the warm path loads no more than it needs, with
 * nsnet's worker modules beside it ({@linkcode bundleWorkers}).
 */
function bundle(dir: string, source: string): string {
  const entry = new URL(source, import.meta.url).pathname;
  return bundleEntry(dir, entry);
}

/**
 * Bundles the test program `source` (relative to tests/) for the test user,
 * as {@linkcode rootlessEnv} bundles the CLI, into a directory of its own
 * called `name`; returns the bundled entry's path.
 */
export function bundleForUser(name: string, source: string): string {
  rootlessEnv();
  return bundle(`${WORK}/${name}`, source);
}

function bundleEntry(dir: string, entry: string): string {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* first run */ }
  run(
    Deno.execPath(),
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--code-splitting",
    "--outdir",
    dir,
    entry,
  );
  bundleWorkers(dir);
  Deno.chmodSync(dir, 0o755);
  for (const file of Deno.readDirSync(dir)) {
    Deno.chmodSync(`${dir}/${file.name}`, 0o644);
  }
  return `${dir}/${entry.slice(entry.lastIndexOf("/") + 1, -3)}.js`;
}

/**
 * Bundles each of nsnet's worker modules into `dir` (`dir/_NAME_worker.js`,
 * readable by all), where a bundle of a program using nsnet in `dir` looks
 * for them.
 */
export function bundleWorkers(dir: string): void {
  for (const worker of WORKER_MODULES) {
    run(
      Deno.execPath(),
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "--outdir",
      dir,
      new URL(`../lib/${worker}.ts`, import.meta.url).pathname,
    );
    Deno.chmodSync(
      `${dir}/${worker.slice(worker.lastIndexOf("/") + 1)}.js`,
      0o644,
    );
  }
}

/**
 * Runs a library user's program (TypeScript source `code`) as the test user:
 * bundled, with nsnet's workers beside it, where that user can read it; inside
 * `nsnet unshare` when `unshare` is set, else as the plain user.
 */
export async function programAsUser(
  code: string,
  options: { unshare: boolean },
): Promise<UserResult> {
  const env = rootlessEnv();
  const dir = `${WORK}/program-${Deno.pid}`;
  Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
  try {
    const script = `${dir}/program.ts`;
    Deno.writeTextFileSync(script, code);
    run(
      Deno.execPath(),
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "-o",
      `${dir}/program.js`,
      script,
    );
    Deno.chmodSync(`${dir}/program.js`, 0o644);
    bundleWorkers(dir);
    const argv = [
      env.deno,
      "run",
      "--allow-all",
      "--quiet",
      `${dir}/program.js`,
    ];
    return options.unshare
      ? await nsnetAsUser(["unshare", "--", ...argv])
      : await asUser(argv);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Result of a command run as the test user. */
export interface UserResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `nsnet ARGS…` as the test user, with a login-like environment (no inherited root env). */
export async function nsnetAsUser(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<UserResult> {
  const env = rootlessEnv();
  return await asUser([
    env.deno,
    "run",
    "--allow-all",
    "--quiet",
    env.cli,
    ...args,
  ], extraEnv);
}

/**
 * Runs `nsnet ARGS…` as the test user through the bundled test-only entry
 * that injects `faults` (`step[,step…]`, `crash:step` for a crash point).
 */
export async function nsnetAsUserWithFaults(
  faults: string,
  args: string[],
): Promise<UserResult> {
  const env = rootlessEnv();
  return await asUser([
    env.deno,
    "run",
    "--allow-all",
    "--quiet",
    env.faultCli,
    ...args,
  ], { NSNET_FAULT: faults });
}

/** The environment a login gives the test user, plus `extraEnv` (empty values unset). */
function userEnvironment(extraEnv: Record<string, string>): string[] {
  const env = rootlessEnv();
  const vars: Record<string, string> = {
    HOME: env.home,
    USER: TEST_USER,
    LOGNAME: TEST_USER,
    PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    XDG_RUNTIME_DIR: env.runtimeDir,
    DENO_DIR: `${env.home}/.cache/deno`,
    NO_COLOR: "1",
    ...extraEnv,
  };
  return Object.entries(vars).filter(([, v]) => v !== "").map(([k, v]) =>
    `${k}=${v}`
  );
}

/** `command` as the test user (setpriv, then env into a login-like environment). */
function userCommand(
  command: string[],
  extraEnv: Record<string, string>,
  stdout: "piped" | "null",
): Deno.Command {
  const env = rootlessEnv();
  return new Deno.Command("setpriv", {
    args: [
      `--reuid=${env.uid}`,
      `--regid=${env.gid}`,
      "--init-groups",
      "--",
      "env",
      "-i",
      ...userEnvironment(extraEnv),
      ...command,
    ],
    cwd: "/tmp",
    stdout,
    stderr: "piped",
  });
}

/**
 * Starts `nsnet ARGS…` as the test user and returns the process (its pid is
 * the outer nsnet itself: setpriv and env exec into it).
 */
export function spawnNsnetAsUser(
  args: string[],
  extraEnv: Record<string, string> = {},
): Deno.ChildProcess {
  const env = rootlessEnv();
  return userCommand(
    [env.deno, "run", "--allow-all", "--quiet", env.cli, ...args],
    extraEnv,
    "null",
  )
    .spawn();
}

/** Runs a command as the test user with a clean, login-like environment. */
export async function asUser(
  command: string[],
  extraEnv: Record<string, string> = {},
): Promise<UserResult> {
  const out = await userCommand(command, extraEnv, "piped").output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/**
 * Removes what rootless nsnet left for the test user: the rootless namespace
 * and its helper (through `nsnet rootless down --force`), other namespaces
 * (unmounted inside the pause process's mount namespace), every pause
 * process of the user, and the state dirs.
 */
export async function cleanupRootless(): Promise<void> {
  const env = rootlessEnv();
  // Sandboxes first, through nsnet: their forwarders, helpers and references go with them.
  try {
    const records = [...Deno.readDirSync(`${env.runtimeDir}/nsnet/sandboxes`)]
      .map((e) => e.name).filter((n) => n.endsWith(".json")).map((n) =>
        n.slice(0, -5)
      );
    if (records.length > 0) {
      await nsnetAsUser(["sandbox", "rm", "--force", ...records]);
    }
  } catch { /* none */ }
  succeeds("pkill", "-KILL", "-u", String(env.uid), "-f", "sandbox forward");
  if (pauseRunning(env)) await nsnetAsUser(["rootless", "down", "--force"]);
  const netnsDir = `${env.runtimeDir}/netns`;
  const pause = readPause(env);
  if (pause !== undefined) {
    // Other namespaces' mounts live in the pause process's mount namespace: undo them there.
    succeeds(
      "nsenter",
      "-t",
      String(pause),
      "-m",
      "sh",
      "-c",
      `for f in ${netnsDir}/*; do umount -l "$f" 2>/dev/null; done; true`,
    );
  }
  succeeds("pkill", "-KILL", "-u", String(env.uid), "-f", "^nsnet-pause");
  // Only nsnet's files: rootless Podman's namespace (also rootless-netns-<hash>) may live here too.
  const ours = rootlessNetNSName(`${env.home}/.local/share/nsnet`);
  try {
    for (const entry of Deno.readDirSync(netnsDir)) {
      if (entry.name.startsWith("rootless-netns-") && entry.name !== ours) {
        continue;
      }
      await Deno.remove(`${netnsDir}/${entry.name}`).catch(() => {});
    }
    await Deno.remove(netnsDir).catch(() => {}); // when nothing else is left
  } catch { /* none */ }
  await Deno.remove(`${env.runtimeDir}/nsnet`, { recursive: true }).catch(
    () => {},
  );
}

function readPause(env: RootlessEnv): number | undefined {
  try {
    const pid = Number(
      Deno.readTextFileSync(`${env.runtimeDir}/nsnet/pause.pid`).trim(),
    );
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function pauseRunning(env: RootlessEnv): boolean {
  const pid = readPause(env);
  return pid !== undefined && succeeds("kill", "-0", String(pid));
}
