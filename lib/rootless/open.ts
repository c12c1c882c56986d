/**
 * Getting the shared rootless namespace: opened when it exists,
 * made when asked, and repaired on every use (a helper or mount holder that
 * died is restarted in the same namespace; a namespace file that holds no
 * namespace, after a reboot, is made anew). The steps run under the
 * namespace's lock, in order, and one rollback undoes what this call made
 * when a step fails.
 *
 * Like Podman's code, this runs inside the user namespace (the CLI re-enters
 * it; see `nsnet unshare`), or reaches it through the pause process.
 *
 * @module
 */

import { bindLibcSymbols } from "../../ffi/libc.ts";
import { NsnetError } from "../errors.ts";
import { pathExists, writeFileAtomicSync } from "../fs.ts";
import { FileLock } from "../lock.ts";
import { warn } from "../log.ts";
import { crashPoint } from "../netns/_faults.ts";
import { INSIDE, seenFromHere, type UserNSAccess, viaPause } from "./access.ts";
import { isRootless } from "./detect.ts";
import { requireUserNamespace } from "./errors.ts";
import { type RootlessHold, RootlessNetNS } from "./handle.ts";
import {
  type HelperOptions,
  type ResolvedHelperOptions,
  resolveHelperOptions,
} from "./helper_options.ts";
import { isHelperProcess, readPidFile } from "./helper_process.ts";
import { helperDriver, type RunningHelper } from "./helpers/driver.ts";
import { slirp4netnsFeatures } from "./helpers/slirp4netns.ts";
import { TAP_NAME } from "./helpers/types.ts";
import {
  isHolderProcess,
  netnsLink,
  startHolder,
  stopHolder,
} from "./holder.ts";
import { insideMountPlan, type MountStep } from "./inside.ts";
import { ensureResolvConf, makeLayout } from "./layout.ts";
import { createNamespaceFile, removeNamespaceFile } from "./netns_file.ts";
import {
  adjustRefCount,
  holderPidFile,
  namespaceFileState,
  readInfo,
  type RootlessInfo,
  type RootlessPaths,
  rootlessPaths,
} from "./state.ts";
import { moveHelperToUserSlice } from "./systemd.ts";
import { stopOrphanHelpers, teardownRootless } from "./teardown.ts";

/** Options for {@linkcode getRootlessNetNS}. */
export interface RootlessNetNSOptions extends HelperOptions {
  /** Create the namespace (and start its helper) when it does not exist. */
  create?: boolean;
  /**
   * The static dir of the engine instance using it: part of the namespace's
   * name, so instances with different static dirs never share one.
   * Default `$XDG_DATA_HOME/nsnet` (or `~/.local/share/nsnet`).
   */
  staticDir?: string;
  /**
   * What the handle holds on the namespace (see {@linkcode RootlessHold}):
   * default a counted `reference`, given back by `release()`.
   */
  hold?: RootlessHold;
}

/**
 * Opens the shared rootless namespace, creating it when asked, and
 * returns a handle holding a reference on it (see
 * {@linkcode RootlessNetNSOptions.hold}). As real root there is none:
 * returns undefined. Needs nsnet's user namespace (`nsnet unshare`), and
 * `--allow-run --allow-read --allow-write --allow-env --allow-ffi`.
 *
 * On every use the helper is checked and restarted in the same namespace if
 * it died; a namespace file that holds no namespace (after a reboot) is
 * removed and made anew. When it fails, a namespace made by this call is
 * removed again.
 *
 * @example Run a command inside
 * ```ts
 * import { getRootlessNetNS } from "@nsnet/nsnet";
 * await using rootless = await getRootlessNetNS({ create: true });
 * const status = await rootless!.exec(["ip", "addr"]);
 * ```
 *
 * @throws {RootlessContextError} outside nsnet's user namespace.
 */
export async function getRootlessNetNS(
  options: RootlessNetNSOptions = {},
): Promise<RootlessNetNS | undefined> {
  if (!isRootless()) return undefined;
  requireUserNamespace(INSIDE);
  return await open(options, INSIDE);
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
  return await open(options, pause);
}

async function open(
  options: RootlessNetNSOptions,
  reach: UserNSAccess | Promise<number>,
): Promise<RootlessNetNS> {
  const requested = resolveHelperOptions(options); // bad options fail before anything is made
  const paths = rootlessPaths(options.staticDir);
  const lock = await new FileLock(paths.lock).acquireAsync();
  try {
    return await getOrCreate(paths, requested, options, reach);
  } finally {
    lock.release();
  }
}

/** The steps, in order; any failure undoes what this call made. */
async function getOrCreate(
  paths: RootlessPaths,
  requested: ResolvedHelperOptions,
  options: RootlessNetNSOptions,
  reach: UserNSAccess | Promise<number>,
): Promise<RootlessNetNS> {
  const undo = new Rollback(paths);
  try {
    const { access, plan } = await reachUserNamespace(
      paths,
      requested,
      options,
      reach,
      undo,
    );
    const previous = readInfo(paths);
    const exists = checkNamespaceFile(paths, access, options.create ?? false);
    const known = exists ? previous : undefined;
    // A dead helper is restarted with the options it was first started with.
    const helperOptions = known === undefined
      ? requested
      : resolveHelperOptions({ ...known.options });
    if (exists && known === undefined) {
      warn(
        `${paths.netns} has no helper record; starting ${helperOptions.helper}`,
      );
    }
    await makeNamespace(paths, access, helperOptions, exists, undo);
    const restarted = await startWhatIsGone(
      paths,
      access,
      helperOptions,
      known,
      plan,
      undo,
    );
    const info = recordState(paths, helperOptions, options, known, restarted);
    const hold = options.hold ?? "reference";
    takeHold(paths, hold);
    return new RootlessNetNS(paths, info, access, hold);
  } catch (error) {
    await undo.run();
    throw error;
  }
}

/**
 * Step 1: the user namespace's access. Through a pause process that is
 * still starting, a namespace to be made from nothing gets its files (which
 * need no user namespace) meanwhile.
 */
async function reachUserNamespace(
  paths: RootlessPaths,
  requested: ResolvedHelperOptions,
  options: RootlessNetNSOptions,
  reach: UserNSAccess | Promise<number>,
  undo: Rollback,
): Promise<{ access: UserNSAccess; plan?: MountStep[] }> {
  if (!(reach instanceof Promise)) return { access: reach };
  let plan: MountStep[] | undefined;
  if (readInfo(paths) === undefined && options.create) {
    makeLayout(paths);
    undo.resolvConf = ensureResolvConf(paths, requested, true);
    undo.resolvConf.catch(() => {}); // reported where it is awaited
    plan = insideMountPlan(paths);
    if (requested.helper === "slirp4netns") {
      slirp4netnsFeatures(requested.binary);
    }
    bindLibcSymbols(MAKING_SYMBOLS);
  }
  const access = viaPause(await reach);
  undo.access = access;
  return { access, plan };
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
 * Step 2: whether the namespace exists. A file holding no namespace (left by
 * a reboot or crash) is removed; a missing one is an error unless `create`.
 */
function checkNamespaceFile(
  paths: RootlessPaths,
  access: UserNSAccess,
  create: boolean,
): boolean {
  const state = namespaceFileState(paths.netns, access);
  if (state === "stale") {
    warn(
      `${paths.netns} holds no namespace (left from a reboot or crash); making it anew`,
    );
    removeNamespaceFile(paths.netns, access);
  }
  if (state !== "present" && !create) {
    throw new NsnetError("the rootless network namespace does not exist", {
      hint:
        "start it with `nsnet rootless up`, or let `nsnet rootless exec` make it",
    });
  }
  return state === "present";
}

/**
 * Step 3: the state dir's layout, the namespace when it does not exist, and
 * its resolv.conf, written while the namespace is being made.
 */
async function makeNamespace(
  paths: RootlessPaths,
  access: UserNSAccess,
  options: ResolvedHelperOptions,
  exists: boolean,
  undo: Rollback,
): Promise<void> {
  makeLayout(paths);
  const [made, written] = await Promise.allSettled([
    exists ? undefined : createNamespaceFile(paths.netns, access).then(() => {
      undo.madeNamespace = true;
    }),
    undo.resolvConf ?? ensureResolvConf(paths, options, !exists),
  ]);
  if (made.status === "rejected") throw made.reason;
  if (!exists) crashPoint("rootless-after-netns");
  if (written.status === "rejected") throw written.reason;
}

/** What step 4 started. */
interface Restarted {
  /** The helper, when it was (re)started. */
  helper?: RunningHelper;
  /** The mount holder's pid, when it was (re)started. */
  holderPid?: number;
}

/**
 * Step 4: the helper and the mount holder, each started when it does not
 * run. Both need only the namespace and its files: they start at once.
 */
async function startWhatIsGone(
  paths: RootlessPaths,
  access: UserNSAccess,
  options: ResolvedHelperOptions,
  known: RootlessInfo | undefined,
  plan: MountStep[] | undefined,
  undo: Rollback,
): Promise<Restarted> {
  const helperAlive = known !== undefined &&
    isHelperProcess(known.helperPid, {
      program: known.helper,
      netnsPath: paths.netns,
    });
  if (known !== undefined && !helperAlive) {
    warn(
      `${known.helper} (pid ${known.helperPid}) of ${paths.netns} is gone; restarting it`,
    );
  }
  const holderAlive = isHolderProcess(
    known?.holderPid,
    netnsLink(seenFromHere(access, paths.netns)),
  );
  if (!holderAlive && known?.holderPid !== undefined) {
    warn(
      `the mount holder (pid ${known.holderPid}) of ${paths.netns} is gone; restarting it`,
    );
  }
  const [helper, holder] = await Promise.allSettled([
    helperAlive
      ? undefined
      : startHelper(paths, access, options).then((h) => undo.helper = h),
    holderAlive
      ? undefined
      : restartHolder(paths, access, plan).then((pid) => undo.holderPid = pid),
  ]);
  if (helper.status === "rejected") throw helper.reason;
  if (holder.status === "rejected") throw holder.reason;
  if (helper.value !== undefined) crashPoint("rootless-after-helper");
  return { helper: helper.value, holderPid: holder.value };
}

async function startHelper(
  paths: RootlessPaths,
  access: UserNSAccess,
  options: ResolvedHelperOptions,
): Promise<RunningHelper> {
  await stopOrphanHelpers(paths);
  const helper = await helperDriver(options.helper).start({
    netnsPath: paths.netns,
    dir: paths.dir,
    options,
    access,
    pidFile: paths.pidFile(options.helper),
  });
  moveHelperToUserSlice(helper.pid, options.helper);
  return helper;
}

async function restartHolder(
  paths: RootlessPaths,
  access: UserNSAccess,
  plan: MountStep[] | undefined,
): Promise<number> {
  stopHolder(readPidFile(holderPidFile(paths)));
  return await startHolder(paths, {
    access,
    // Recorded as soon as it exists, so that a crash never orphans it.
    onSpawn: (pid) =>
      writeFileAtomicSync(holderPidFile(paths), `${pid}\n`, 0o600),
    plan,
  });
}

/** Step 5: `info.json` for what was (re)started, and the reference count. */
function recordState(
  paths: RootlessPaths,
  options: ResolvedHelperOptions,
  requested: HelperOptions,
  known: RootlessInfo | undefined,
  restarted: Restarted,
): RootlessInfo {
  const info = restarted.helper === undefined
    ? known!
    : makeInfo(paths, options, restarted.helper, requested);
  info.holderPid = restarted.holderPid ?? known!.holderPid;
  if (restarted.helper !== undefined || restarted.holderPid !== undefined) {
    writeFileAtomicSync(
      paths.info,
      JSON.stringify(info, null, 2) + "\n",
      0o600,
    );
  }
  if (!pathExists(paths.refCount)) {
    writeFileAtomicSync(paths.refCount, "0\n", 0o600);
  }
  return info;
}

/** Step 6: what the handle holds. */
function takeHold(paths: RootlessPaths, hold: RootlessHold): void {
  if (hold === "reference") {
    adjustRefCount(paths, +1);
  } else if (hold === "pin" && !pathExists(paths.pinned)) {
    Deno.writeTextFileSync(paths.pinned, "", { mode: 0o600 });
    adjustRefCount(paths, +1);
  }
}

function makeInfo(
  paths: RootlessPaths,
  options: ResolvedHelperOptions,
  helper: RunningHelper,
  requested: HelperOptions,
): RootlessInfo {
  return {
    helper: options.helper,
    helperBinary: options.binary,
    helperPid: helper.pid,
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
    apiSocket: helper.apiSocket,
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

/**
 * What a failed call made, and how to undo it: the one rollback. A
 * namespace made by this call is torn down with everything in it; else
 * what was started is stopped, and a state dir this call made is removed.
 */
class Rollback {
  readonly paths: RootlessPaths;
  readonly hadDir: boolean;
  access: UserNSAccess = INSIDE;
  resolvConf?: Promise<void>;
  madeNamespace = false;
  helper?: RunningHelper;
  holderPid?: number;

  constructor(paths: RootlessPaths) {
    this.paths = paths;
    this.hadDir = pathExists(paths.dir);
  }

  async run(): Promise<void> {
    await this.resolvConf?.catch(() => {});
    try {
      if (this.madeNamespace) {
        await teardownRootless(this.paths, this.access, {
          helper: this.helper?.kind,
          helperPid: this.helper?.pid,
        });
        return;
      }
      stopHolder(this.holderPid);
      await this.helper?.stop();
      if (!this.hadDir) {
        await Deno.remove(this.paths.dir, { recursive: true }).catch(() => {});
      }
    } catch (error) {
      warn(`undoing ${this.paths.netns}: ${(error as Error).message}`);
    }
  }
}
