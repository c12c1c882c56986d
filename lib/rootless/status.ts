/**
 * Looking at the rootless namespace and letting go of it: its status, the
 * reference `nsnet rootless exec` took, and `nsnet rootless down`. None of
 * these repairs or restarts anything.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import { pathExists } from "../fs.ts";
import { FileLock } from "../lock.ts";
import { INSIDE, seenFromHere, type UserNSAccess } from "./access.ts";
import { requireUserNamespace } from "./errors.ts";
import { isHelperProcess } from "./helper_process.ts";
import {
  adjustRefCount,
  namespaceFileState,
  readCount,
  readInfo,
  type RootlessInfo,
  rootlessPaths,
} from "./state.ts";
import {
  releaseReference,
  type TeardownOptions,
  teardownRootless,
} from "./teardown.ts";

/** Which rootless namespace, and how its user namespace is reached. */
export interface RootlessTarget {
  /** The static dir naming the namespace; default as for `getRootlessNetNS()`. */
  staticDir?: string;
  /** How nsnet's user namespace is reached; default from inside it. */
  access?: UserNSAccess;
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

/**
 * Looks at the rootless namespace without changing or repairing anything.
 * Needs nsnet's user namespace.
 */
export function rootlessStatus(target: RootlessTarget = {}): RootlessStatus {
  const access = target.access ?? INSIDE;
  requireUserNamespace(access);
  const paths = rootlessPaths(target.staticDir);
  let exists = false;
  try {
    exists = namespaceFileState(paths.netns, access) === "present";
  } catch { /* unreadable: reported as missing */ }
  const info = readInfo(paths);
  const helperAlive = exists && info !== undefined &&
    isHelperProcess(info.helperPid, {
      program: info.helper,
      netnsPath: paths.netns,
    });
  return {
    exists,
    netnsPath: paths.netns,
    info,
    helperAlive,
    refCount: readCount(paths.refCount),
    pinned: pathExists(paths.pinned),
  };
}

/** Options for {@linkcode releaseRootlessReference}. */
export interface ReleaseRootlessOptions
  extends RootlessTarget, TeardownOptions {
}

/**
 * Drops one reference (what `nsnet rootless exec` took) and tears the
 * namespace down when it was the last and `nsnet rootless up` holds none.
 * Never repairs or restarts anything. The helper is only signalled, not
 * waited for, unless `waitForHelper`.
 */
export async function releaseRootlessReference(
  options: ReleaseRootlessOptions = {},
): Promise<void> {
  const access = options.access ?? INSIDE;
  requireUserNamespace(access);
  await releaseReference(rootlessPaths(options.staticDir), {
    access,
    waitForHelper: options.waitForHelper ?? false,
  });
}

/** Options for {@linkcode rootlessDown}. */
export interface RootlessDownOptions extends RootlessTarget {
  /** Tear down even while commands hold references. */
  force?: boolean;
}

/**
 * Drops the reference `nsnet rootless up` holds and tears the namespace down
 * when nothing else uses it (or always, with `force`). Never repairs or
 * restarts anything. Returns false when there was nothing to tear down.
 *
 * @throws the first error of the teardown, after all of it was tried.
 */
export async function rootlessDown(
  options: RootlessDownOptions = {},
): Promise<boolean> {
  const access = options.access ?? INSIDE;
  requireUserNamespace(access);
  const paths = rootlessPaths(options.staticDir);
  const lock = await new FileLock(paths.lock).acquireAsync();
  try {
    const hasNamespace = pathExists(seenFromHere(access, paths.netns), {
      followLinks: false,
    });
    if (!hasNamespace && !pathExists(paths.dir)) return false;
    const info = readInfo(paths);
    if (info !== undefined && pathExists(paths.pinned)) {
      Deno.removeSync(paths.pinned);
      adjustRefCount(paths, -1);
    }
    const users = readCount(paths.refCount);
    if (users > 0 && !options.force) {
      throw new NsnetError(
        `the rootless network namespace is still used by ${users} command(s)`,
        {
          hint: "wait for them, or use --force",
        },
      );
    }
    await teardownRootless(paths, access, info);
    return true;
  } finally {
    lock.release();
  }
}
