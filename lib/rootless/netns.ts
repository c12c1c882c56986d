/**
 * The shared rootless network namespace (S1–S8): one per user and static dir,
 * reached from outside through slirp4netns or pasta, created on demand,
 * repaired when its helper died or its file went stale, reference-counted,
 * and torn down without leaving a file, mount or process behind.
 *
 * Like Podman's code, this assumes the caller already runs inside the user
 * namespace (the CLI re-enters it; see `nsnet unshare`).
 *
 * @module
 */

import { geteuid } from "../../ffi/syscalls.ts";
import { waitForwardingSignals } from "../child.ts";
import { FileLock } from "../lock.ts";
import { NsnetError } from "../errors.ts";
import { pathExists, writeFileAtomicSync } from "../fs.ts";
import { debug, warn } from "../log.ts";
import { crashPoint } from "../netns/_faults.ts";
import { nsRunDir } from "../netns/run_dir.ts";
import { writeResolvConf } from "../resolv_conf/files.ts";
import { isRootless } from "./detect.ts";
import { enteringPause, enterThroughPause, seenFromHere } from "./entry.ts";
import { runOnThrowawayThread } from "./thread_run.ts";
import { createNamespaceFile, removeNamespaceFile } from "./netns_file.ts";
import { insideMountPlan, type MountStep, spawnInside } from "./inside.ts";
import { bindLibcSymbols } from "../../ffi/libc.ts";
import {
  isHolderProcess,
  netnsLink,
  spawnInHolder,
  startHolder,
  stopHolder,
} from "./holder.ts";
import {
  type HelperKind,
  type HelperOptions,
  type ResolvedHelperOptions,
  resolveHelperOptions,
} from "./helper_options.ts";
import { isHelperProcess, readPidFile, stopHelper } from "./helper_process.ts";
import { startPasta } from "./pasta.ts";
import { moveHelperToUserSlice } from "./systemd.ts";
import { runtimeDir } from "./runtime_dir.ts";
import {
  slirp4netnsFeatures,
  type StartedHelper,
  startSlirp4netns,
  TAP_NAME,
} from "./slirp4netns.ts";

import {
  adjustRefCount,
  holderPidFile,
  namespaceFileState,
  readCount,
  readInfo,
  type RootlessInfo,
  type RootlessPaths,
  rootlessPaths,
} from "./state.ts";

export {
  adjustRefCount,
  defaultStaticDir,
  holderPidFile,
  readInfo,
  readRefCount,
  type RootlessInfo,
  rootlessNetNSName,
  type RootlessPaths,
  rootlessPaths,
} from "./state.ts";

/** Raised when a rootless function is called outside a user namespace. */
export class RootlessContextError extends NsnetError {
  /** Makes the error. */
  constructor(message: string) {
    super(message, {
      hint:
        "run it inside nsnet's user namespace: `nsnet unshare -- CMD`, or through the nsnet CLI",
    });
    this.name = "RootlessContextError";
  }
}

/** Options for {@linkcode getRootlessNetNS}. */
export interface RootlessNetNSOptions extends HelperOptions {
  /** Create the namespace (and start its helper) when it does not exist. */
  create?: boolean;
  /**
   * The static dir of the engine instance using it: part of the namespace's
   * name, so instances with different static dirs never share one (S1).
   * Default `$XDG_DATA_HOME/nsnet` (or `~/.local/share/nsnet`).
   */
  staticDir?: string;
}

function requireUserNamespace(): void {
  if (enteringPause() === undefined && geteuid() !== 0) {
    throw new RootlessContextError(
      "rootless network namespaces need nsnet's user namespace, and this process is not in one",
    );
  }
}

/**
 * A handle on the shared rootless namespace. It is returned with the lock
 * held (S1): call {@linkcode RootlessNetNS.unlock} when done changing it.
 */
export class RootlessNetNS {
  /** Where its pieces live. */
  readonly paths: RootlessPaths;
  /** What `info.json` says. */
  info: RootlessInfo;
  #lock: FileLock;

  /** Wraps a namespace that exists and whose helper runs; use {@linkcode getRootlessNetNS}. */
  constructor(paths: RootlessPaths, info: RootlessInfo, lock: FileLock) {
    this.paths = paths;
    this.info = info;
    this.#lock = lock;
  }

  /** The namespace file. */
  get path(): string {
    return this.paths.netns;
  }

  /** Whether this handle holds the lock. */
  get locked(): boolean {
    return this.#lock.held;
  }

  /** Takes the lock again (blocking until other nsnet processes release it). */
  lock(): void {
    this.#lock.acquire();
  }

  /** Releases the lock. */
  unlock(): void {
    this.#lock.release();
  }

  /** The reference count (0 when the file is missing or unreadable). */
  refCount(): number {
    return readCount(this.paths.refCount);
  }

  /**
   * Changes the reference count by `delta` (under the lock) and returns the
   * new count. Call it only after the setup or teardown it stands for has
   * succeeded, so that a retried teardown never counts twice. It never goes
   * below 0; when it would, it says so and stays at 0.
   */
  changeRefCount(delta: number): number {
    this.#requireLock();
    return adjustRefCount(this.paths, delta);
  }

  /** Whether `nsnet rootless up` holds a reference. */
  get pinned(): boolean {
    try {
      Deno.statSync(this.paths.pinned);
      return true;
    } catch {
      return false;
    }
  }

  /** Marks (or unmarks) the reference held by `nsnet rootless up`; returns whether it changed. */
  setPinned(pinned: boolean): boolean {
    this.#requireLock();
    if (pinned === this.pinned) return false;
    if (pinned) Deno.writeTextFileSync(this.paths.pinned, "", { mode: 0o600 });
    else Deno.removeSync(this.paths.pinned);
    return true;
  }

  /** Whether the helper still runs. */
  helperAlive(): boolean {
    return isHelperProcess(this.info.helperPid, {
      program: this.info.helper,
      netnsPath: this.paths.netns,
    });
  }

  /**
   * Tears everything down (S8): stops the helper (only if it really is this
   * namespace's), unmounts and removes the namespace file, removes the state
   * dir. Errors after the unmount are logged, not raised. With
   * `waitForHelper: false` the helper is sent SIGTERM and not waited for.
   */
  async cleanup(options: { waitForHelper?: boolean } = {}): Promise<void> {
    this.#requireLock();
    await teardown(
      this.paths,
      this.info.helper,
      this.info.helperPid,
      options.waitForHelper ?? true,
    );
  }

  /**
   * Runs `fn(...args)` inside the namespace with the mounts of S6, on a
   * thread made for it and then ended: the caller's own threads never change
   * namespace. `fn` travels as its source text, so it must be
   * self-contained (no variables from around it), and its arguments and
   * result are structured-cloned. Sockets it makes, processes it starts and
   * its synchronous file calls are inside; Deno's asynchronous file calls run
   * on other threads and see the host's files. Works inside nsnet's user
   * namespace (where the library runs); from outside, use
   * {@linkcode RootlessNetNS.spawn}.
   *
   * @throws {ThreadRunError} carrying what `fn` threw.
   */
  async run<A extends unknown[], R>(
    fn: (...args: A) => R | Promise<R>,
    ...args: A
  ): Promise<Awaited<R>> {
    if (enteringPause() !== undefined) {
      throw new RootlessContextError(
        "run() needs a thread inside nsnet's user namespace, and this process is outside it",
      );
    }
    const netns = netnsLink(this.paths.netns);
    const holder = this.info.holderPid;
    if (!isHolderProcess(holder, netns)) {
      throw new NsnetError(
        "the rootless namespace's mount holder is gone",
        {
          hint:
            "get the namespace again with getRootlessNetNS(), which restarts it",
        },
      );
    }
    return await runOnThrowawayThread(
      this.paths.netns,
      `/proc/${holder}/ns/mnt`,
      fn,
      args,
    );
  }

  /**
   * Runs `command` inside the namespace with the mounts of S6, in a child
   * process (the caller's own namespaces never change), stdio inherited.
   * Returns the child process; its status is the command's.
   */
  spawn(
    command: readonly string[],
    options: SpawnInsideOptions = {},
  ): Deno.ChildProcess {
    const netns = netnsLink(seenFromHere(this.paths.netns));
    if (isHolderProcess(this.info.holderPid, netns)) {
      return spawnInHolder(this.info.holderPid!, command, options);
    }
    return spawnInside(this, command, options);
  }

  /**
   * Runs `command` inside, as {@linkcode RootlessNetNS.spawn} does, and
   * resolves to its exit status (128 + the signal's number when a signal
   * ended it). SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to this process
   * meanwhile are passed on to it.
   */
  async exec(
    command: readonly string[],
    options: SpawnInsideOptions = {},
  ): Promise<number> {
    return await waitForwardingSignals(this.spawn(command, options));
  }

  #requireLock(): void {
    if (!this.#lock.held) {
      throw new NsnetError(
        "the rootless namespace is not locked by this handle",
        {
          hint: "call lock() first",
        },
      );
    }
  }
}

/** Options for {@linkcode RootlessNetNS.spawn}. */
export interface SpawnInsideOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Where the child's output goes; default inherited. */
  stdout?: "inherit" | "piped" | "null";
  /** Where the child's errors go; default inherited. */
  stderr?: "inherit" | "piped" | "null";
  /** The child's input; default inherited. */
  stdin?: "inherit" | "piped" | "null";
}

async function teardown(
  paths: RootlessPaths,
  helper: HelperKind | undefined,
  pid: number | undefined,
  waitForHelper = true,
): Promise<void> {
  const helpers = new Map<number, HelperKind>();
  if (helper !== undefined && pid !== undefined) helpers.set(pid, helper);
  for (const program of ["slirp4netns", "pasta"] as const) {
    const fromFile = readPidFile(paths.pidFile(program));
    if (fromFile !== undefined && !helpers.has(fromFile)) {
      helpers.set(fromFile, program);
    }
  }
  stopHolder(readPidFile(holderPidFile(paths)));
  removeNamespaceFile(paths.netns);
  for (const [helperPid, program] of helpers) {
    try {
      const result = await stopHelper(
        helperPid,
        { program, netnsPath: paths.netns },
        { wait: waitForHelper },
      );
      debug(`${program} (pid ${helperPid}): ${result}`);
    } catch (error) {
      warn(
        `stopping ${program} (pid ${helperPid}): ${(error as Error).message}`,
      );
    }
  }
  try {
    Deno.removeSync(paths.dir, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      warn(`removing ${paths.dir}: ${(error as Error).message}`);
    }
  }
}

/**
 * Opens the shared rootless namespace, creating it when asked (S1, S2), and
 * returns it with its lock held. As root (not in a user namespace) there is
 * none: returns undefined. On every error path the lock is released, and a
 * namespace made by this call is removed again.
 *
 * On every use the helper is checked and restarted in the same namespace if
 * it died; a namespace file that holds no namespace (after a reboot) is
 * removed and made anew.
 */
export async function getRootlessNetNS(
  options: RootlessNetNSOptions = {},
): Promise<RootlessNetNS | undefined> {
  if (!isRootless()) return undefined;
  requireUserNamespace();
  return await openLocked(options);
}

/**
 * {@linkcode getRootlessNetNS} for an unprivileged caller outside nsnet's
 * user namespace whose pause process is still starting (`pause` resolves to
 * its pid): what needs no user namespace (options, paths, the lock, the
 * state dir, resolv.conf) is done while it starts.
 */
export async function getRootlessNetNSThroughPause(
  options: RootlessNetNSOptions,
  pause: Promise<number>,
): Promise<RootlessNetNS> {
  return await openLocked(options, pause);
}

async function openLocked(
  options: RootlessNetNSOptions,
  pause?: Promise<number>,
): Promise<RootlessNetNS> {
  const resolved = resolveHelperOptions(options); // bad options fail before anything is made
  const paths = rootlessPaths(options.staticDir);
  const lock = new FileLock(paths.lock);
  lock.acquire();
  try {
    const handle = await openOrCreate(paths, resolved, options, lock, pause);
    return handle;
  } catch (error) {
    lock.release();
    throw error;
  }
}

async function openOrCreate(
  paths: RootlessPaths,
  resolved: ResolvedHelperOptions,
  options: RootlessNetNSOptions,
  lock: FileLock,
  pause?: Promise<number>,
): Promise<RootlessNetNS> {
  let previous = readInfo(paths);
  const hadDir = pathExists(paths.dir);
  let early: Promise<void> | undefined;
  let plan: MountStep[] | undefined;
  let effective = resolved;
  let madeNamespace = false;
  let started: StartedHelper | undefined;
  try {
    if (pause !== undefined) {
      // Nothing recorded: the namespace is to be made (or mended from
      // scratch). Its files need no user namespace, so they are written
      // while the pause process starts.
      if (previous === undefined && options.create) {
        makeLayout(paths);
        early = ensureResolvConf(paths, resolved, true);
        early.catch(() => {}); // reported below
        plan = insideMountPlan(paths);
        if (resolved.helper === "slirp4netns") {
          slirp4netnsFeatures(resolved.binary);
        }
        bindLibcSymbols(MAKING_SYMBOLS);
      }
      enterThroughPause(await pause);
      previous = readInfo(paths);
    }
    const state = namespaceFileState(paths.netns);
    if (state === "stale") {
      warn(
        `${paths.netns} holds no namespace (left from a reboot or crash); making it anew`,
      );
      removeNamespaceFile(paths.netns);
    }
    const exists = state === "present";
    if (!exists && !options.create) {
      throw new NsnetError("the rootless network namespace does not exist", {
        hint:
          "start it with `nsnet rootless up`, or let `nsnet rootless exec` make it",
      });
    }
    // Restart a dead helper with the options it was first started with.
    if (previous && exists) {
      effective = resolveHelperOptions({ ...previous.options });
    }
    makeLayout(paths);
    // The resolv.conf is written while the namespace is being made.
    const [made, written] = await Promise.allSettled([
      exists ? undefined : createNamespaceFile(paths.netns).then(() => {
        madeNamespace = true;
      }),
      early ?? ensureResolvConf(paths, effective, !exists),
    ]);
    if (made.status === "rejected") throw made.reason;
    if (!exists) crashPoint("rootless-after-netns");
    if (written.status === "rejected") throw written.reason;
    const known = exists ? previous : undefined;
    const alive = known !== undefined &&
      isHelperProcess(known.helperPid, {
        program: known.helper,
        netnsPath: paths.netns,
      });
    if (!alive) {
      if (known !== undefined) {
        warn(
          `${known.helper} (pid ${known.helperPid}) of ${paths.netns} is gone; restarting it`,
        );
      } else if (exists) {
        warn(
          `${paths.netns} has no helper record; starting ${effective.helper}`,
        );
      }
    }
    const netns = netnsLink(seenFromHere(paths.netns));
    const holderAlive = isHolderProcess(known?.holderPid, netns);
    if (!holderAlive && known?.holderPid !== undefined) {
      warn(
        `the mount holder (pid ${known.holderPid}) of ${paths.netns} is gone; restarting it`,
      );
    }
    // Both need only the namespace and its files: start them at once.
    const [helperStart, holderStart] = await Promise.allSettled([
      alive ? undefined : (async (): Promise<StartedHelper> => {
        await stopOrphanHelpers(paths);
        return await startHelper(effective, paths);
      })(),
      holderAlive ? undefined : (async (): Promise<number> => {
        stopHolder(readPidFile(holderPidFile(paths)));
        // Recorded as soon as it exists, so that a crash never orphans it.
        return await startHolder(paths, {
          onSpawn: (pid) =>
            writeFileAtomicSync(holderPidFile(paths), `${pid}\n`, 0o600),
          plan,
        });
      })(),
    ]);
    if (helperStart.status === "fulfilled") started = helperStart.value;
    if (
      helperStart.status === "rejected" || holderStart.status === "rejected"
    ) {
      if (holderStart.status === "fulfilled") stopHolder(holderStart.value);
      throw helperStart.status === "rejected"
        ? helperStart.reason
        : (holderStart as PromiseRejectedResult).reason;
    }
    if (started !== undefined) crashPoint("rootless-after-helper");
    const info = started === undefined
      ? known!
      : makeInfo(paths, effective, started, options);
    info.holderPid = holderStart.value ?? known!.holderPid;
    if (started !== undefined || holderStart.value !== undefined) {
      writeFileAtomicSync(
        paths.info,
        JSON.stringify(info, null, 2) + "\n",
        0o600,
      );
    }
    try {
      Deno.statSync(paths.refCount);
    } catch {
      writeFileAtomicSync(paths.refCount, "0\n", 0o600);
    }
    return new RootlessNetNS(paths, info, lock);
  } catch (error) {
    await early?.catch(() => {});
    if (madeNamespace) {
      await teardown(paths, effective.helper, started?.pid);
    } else {
      if (started !== undefined) {
        await stopHelper(started.pid, {
          program: effective.helper,
          netnsPath: paths.netns,
        });
      }
      // No namespace was made: the state written for it goes too.
      if (!hadDir) {
        await Deno.remove(paths.dir, { recursive: true }).catch(() => {});
      }
    }
    throw error;
  }
}

/** The libc symbols making the namespace calls: bound in one go, ahead. */
const MAKING_SYMBOLS = [
  "mkfifo",
  "open",
  "read",
  "close",
  "pidfd_open",
  "pidfd_send_signal",
] as const;

/**
 * Stops helpers that pid files name for this namespace but that no record
 * accounts for (nsnet was killed between starting one and recording it):
 * left running, they would hold the tap device a new helper needs.
 */
async function stopOrphanHelpers(paths: RootlessPaths): Promise<void> {
  for (const program of ["slirp4netns", "pasta"] as const) {
    const pid = readPidFile(paths.pidFile(program));
    if (pid === undefined) continue;
    const identity = { program, netnsPath: paths.netns };
    if (isHelperProcess(pid, identity)) {
      warn(
        `stopping ${program} (pid ${pid}) left by an earlier nsnet that did not finish`,
      );
      await stopHelper(pid, identity);
    }
  }
}

/** The directories of S5 under the state dir, with the netns run dir mirrored inside `run/`. */
function makeLayout(paths: RootlessPaths): void {
  Deno.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  Deno.chmodSync(paths.dir, 0o700);
  const runtime = runtimeDir();
  for (const sub of ["var/lib/cni", "run/systemd"]) {
    Deno.mkdirSync(`${paths.dir}/${sub}`, { recursive: true });
  }
  for (const path of [runtime, nsRunDir()]) {
    const mirror = mirrorUnderRun(paths, path);
    if (mirror !== undefined) Deno.mkdirSync(mirror, { recursive: true });
  }
}

/** Where `path` (under /run) appears inside the namespace's own run dir; undefined if not under /run. */
export function mirrorUnderRun(
  paths: RootlessPaths,
  path: string,
): string | undefined {
  if (path === "/run") return paths.run;
  if (!path.startsWith("/run/")) return undefined;
  return `${paths.run}${path.slice("/run".length)}`;
}

async function ensureResolvConf(
  paths: RootlessPaths,
  options: ResolvedHelperOptions,
  fresh: boolean,
): Promise<void> {
  if (!fresh) {
    try {
      Deno.statSync(paths.resolvConf);
      return;
    } catch { /* write it */ }
  }
  await writeResolvConf(paths.resolvConf, {
    nameservers: [options.addresses.dns],
    keepHostServers: true,
    ipv6: options.ipv6,
    durable: false, // state that goes with the namespace
  });
}

async function startHelper(
  options: ResolvedHelperOptions,
  paths: RootlessPaths,
): Promise<StartedHelper> {
  const pidFile = paths.pidFile(options.helper);
  let started: StartedHelper;
  if (options.helper === "pasta") {
    started = await startPasta(options, paths.netns, paths.dir, pidFile);
  } else {
    started = await startSlirp4netns(options, paths.netns, paths.dir);
    writeFileAtomicSync(pidFile, `${started.pid}\n`, 0o600);
  }
  moveHelperToUserSlice(started.pid, options.helper);
  return started;
}

function makeInfo(
  paths: RootlessPaths,
  options: ResolvedHelperOptions,
  started: StartedHelper,
  requested: HelperOptions,
): RootlessInfo {
  return {
    helper: options.helper,
    helperBinary: options.binary,
    helperPid: started.pid,
    netnsPath: paths.netns,
    staticDir: paths.staticDir,
    interface: TAP_NAME,
    cidr: options.addresses.cidr,
    address: options.addresses.guest,
    gateway: options.addresses.gateway,
    dns: options.addresses.dns,
    mtu: options.mtu,
    ipv6: options.ipv6,
    allowHostLoopback: options.allowHostLoopback,
    apiSocket: started.apiSocket,
    options: {
      helper: options.helper,
      helperPath: requested.helperPath,
      mtu: options.mtu,
      cidr: options.addresses.cidr,
      ipv6: options.ipv6,
      allowHostLoopback: options.allowHostLoopback,
      outboundAddr: options.outboundAddr,
      outboundAddr6: options.outboundAddr6,
      sandbox: options.sandbox,
      seccomp: options.seccomp,
      apiSocket: options.apiSocket,
    },
  };
}

/** What `nsnet rootless status` reports. */
export interface RootlessStatus {
  /** Whether the namespace exists. */
  exists: boolean;
  /** The namespace file. */
  netnsPath: string;
  /** What `info.json` says, when it exists. */
  info?: RootlessInfo;
  /** Whether the helper runs. */
  helperAlive: boolean;
  /** The reference count. */
  refCount: number;
  /** Whether `nsnet rootless up` holds a reference. */
  pinned: boolean;
}

/** Looks at the rootless namespace without changing or repairing anything. */
export function rootlessStatus(staticDir?: string): RootlessStatus {
  requireUserNamespace();
  const paths = rootlessPaths(staticDir);
  let exists = false;
  try {
    exists = namespaceFileState(paths.netns) === "present";
  } catch { /* unreadable: reported as missing */ }
  const info = readInfo(paths);
  const helperAlive = exists && info !== undefined &&
    isHelperProcess(info.helperPid, {
      program: info.helper,
      netnsPath: paths.netns,
    });
  let pinned = false;
  try {
    Deno.statSync(paths.pinned);
    pinned = true;
  } catch { /* not pinned */ }
  return {
    exists,
    netnsPath: paths.netns,
    info,
    helperAlive,
    refCount: readCount(paths.refCount),
    pinned,
  };
}

/**
 * Drops one reference (what `nsnet rootless exec` took) and tears the
 * namespace down when it was the last and `nsnet rootless up` holds none.
 * Never repairs or restarts anything.
 */
export async function releaseRootlessReference(
  staticDir?: string,
): Promise<void> {
  requireUserNamespace();
  const paths = rootlessPaths(staticDir);
  const lock = new FileLock(paths.lock);
  lock.acquire();
  try {
    if (!pathExists(paths.dir)) return;
    if (adjustRefCount(paths, -1) > 0 || pathExists(paths.pinned)) return;
    const info = readInfo(paths);
    await teardown(paths, info?.helper, info?.helperPid, false);
  } finally {
    lock.release();
  }
}

/** Options for {@linkcode rootlessDown}. */
export interface RootlessDownOptions {
  /** Tear down even while commands hold references. */
  force?: boolean;
  /** The static dir naming the namespace. */
  staticDir?: string;
}

/**
 * Drops the reference `nsnet rootless up` holds and tears the namespace down
 * when nothing else uses it (or always, with `force`). Never repairs or
 * restarts anything. Returns false when there was nothing to tear down.
 */
export async function rootlessDown(
  options: RootlessDownOptions = {},
): Promise<boolean> {
  requireUserNamespace();
  const paths = rootlessPaths(options.staticDir);
  const lock = new FileLock(paths.lock);
  lock.acquire();
  try {
    let hasNamespace = true;
    try {
      Deno.lstatSync(paths.netns);
    } catch {
      hasNamespace = false;
    }
    let hasState = true;
    try {
      Deno.statSync(paths.dir);
    } catch {
      hasState = false;
    }
    if (!hasNamespace && !hasState) return false;
    const info = readInfo(paths);
    const handle = info === undefined
      ? undefined
      : new RootlessNetNS(paths, info, lock);
    if (handle?.setPinned(false)) handle.changeRefCount(-1);
    const users = readCount(paths.refCount);
    if (users > 0 && !options.force) {
      throw new NsnetError(
        `the rootless network namespace is still used by ${users} command(s)`,
        {
          hint: "wait for them, or use --force",
        },
      );
    }
    await teardown(paths, info?.helper, info?.helperPid);
    return true;
  } finally {
    lock.release();
  }
}
