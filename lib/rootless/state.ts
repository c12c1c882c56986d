/**
 * The rootless namespace's state on disk, and nothing that makes or changes
 * the namespace itself: where its pieces live, `info.json`, the reference
 * count, and whether its file holds a namespace. Small on purpose: the warm
 * `rootless exec` path loads only this.
 *
 * @module
 */

import { getEnv } from "../env.ts";
import { writeFileAtomicSync } from "../fs.ts";
import { warn } from "../log.ts";
import { nsRunDir } from "../netns/run_dir.ts";
import { sha256Hex } from "../sha256.ts";
import { seenFromHere, type UserNSAccess } from "./access.ts";
import type { HelperKind, HelperOptions } from "./helper_options.ts";
import { rootlessStateDir } from "./runtime_dir.ts";

/** What other processes can read about the namespace (`info.json`). */
export interface RootlessInfo {
  /** The helper carrying its traffic. */
  helper: HelperKind;
  /** The helper binary. */
  helperBinary: string;
  /** The helper's pid. */
  helperPid: number;
  /** The namespace file. */
  netnsPath: string;
  /** The static dir its name was made from; absent in older records. */
  staticDir?: string;
  /** The interface inside. */
  interface: string;
  /** The subnet inside. */
  cidr: string;
  /** The namespace's address (`.100`). */
  address: string;
  /** Its gateway (`.2`), which is the host as seen from inside. */
  gateway: string;
  /** The helper's DNS forwarder (`.3`). */
  dns: string;
  /** MTU of the interface. */
  mtu: number;
  /** IPv6 on. */
  ipv6: boolean;
  /** The host's loopback is reachable at the gateway address. */
  allowHostLoopback: boolean;
  /** slirp4netns API socket, if one was asked for. */
  apiSocket?: string;
  /** The process holding the prepared mount namespace (S6's mounts, applied once). */
  holderPid?: number;
  /** The options the helper was started with (used to restart it alike). */
  options: HelperOptions;
}

/** Where a rootless namespace's pieces live. */
export interface RootlessPaths {
  /** The static dir the namespace is named after. */
  staticDir: string;
  /** `<state>/rootless-netns.lock`. */
  lock: string;
  /** `<state>/rootless-netns/` (0700). */
  dir: string;
  /** The namespace file in the netns run dir. */
  netns: string;
  /** The helper's pid file. */
  pidFile: (helper: HelperKind) => string;
  /** The reference count. */
  refCount: string;
  /** Set while `nsnet rootless up` holds a reference. */
  pinned: string;
  /** `info.json`. */
  info: string;
  /** The namespace's own resolv.conf. */
  resolvConf: string;
  /** The run dir mounted over /run inside. */
  run: string;
}

/** The mount holder's pid file. */
export function holderPidFile(paths: RootlessPaths): string {
  return `${paths.dir}/holder.pid`;
}

/** The default static dir: `$XDG_DATA_HOME/nsnet`, else `~/.local/share/nsnet`. */
export function defaultStaticDir(): string {
  const data = getEnv("XDG_DATA_HOME") ??
    `${getEnv("HOME") ?? "/tmp"}/.local/share`;
  return `${data}/nsnet`;
}

/** The namespace name for a static dir: `rootless-netns-` + the first 10 bytes of its sha256 in hex. */
export function rootlessNetNSName(staticDir: string): string {
  const hash = sha256Hex(staticDir);
  return `rootless-netns-${hash.slice(0, 20)}`;
}

/** The paths of the rootless namespace for `staticDir`. */
export function rootlessPaths(
  staticDir: string = defaultStaticDir(),
): RootlessPaths {
  const state = rootlessStateDir();
  const dir = `${state}/rootless-netns`;
  let netns: string | undefined;
  return {
    staticDir,
    lock: `${state}/rootless-netns.lock`,
    dir,
    // Worked out when first asked for: hashing is a good part of a warm
    // exec's own time, and info.json records the answer.
    get netns(): string {
      return netns ??= `${nsRunDir()}/${rootlessNetNSName(staticDir)}`;
    },
    pidFile: (helper) => `${dir}/rootless-netns-${helper}.pid`,
    refCount: `${dir}/ref-count`,
    pinned: `${dir}/pinned`,
    info: `${dir}/info.json`,
    resolvConf: `${dir}/resolv.conf`,
    run: `${dir}/run`,
  };
}

/**
 * Changes the reference count in `paths` by `delta` and returns the new
 * count; never below 0 (it says so when it would be). Call under the lock.
 */
export function adjustRefCount(paths: RootlessPaths, delta: number): number {
  let next = readCount(paths.refCount) + delta;
  if (next < 0) {
    warn(
      `rootless namespace reference count out of sync (would be ${next}); keeping it at 0`,
    );
    next = 0;
  }
  writeFileAtomicSync(paths.refCount, `${next}\n`, 0o600, { durable: false });
  return next;
}

/** The reference count in `paths` (0 when missing or unreadable). */
export function readRefCount(paths: RootlessPaths): number {
  return readCount(paths.refCount);
}

/** The number in the file at `path` (0 when missing or unreadable). */
export function readCount(path: string): number {
  try {
    const n = Number(Deno.readTextFileSync(path).trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

/** Reads `info.json`, or undefined when it is missing or unreadable. */
export function readInfo(paths: RootlessPaths): RootlessInfo | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(paths.info)) as RootlessInfo;
  } catch {
    return undefined;
  }
}

/** What is at a namespace file's path. */
export type NamespaceFileState = "present" | "missing" | "stale";

/**
 * Whether `path` holds a network namespace ("present"), does not exist
 * ("missing"), or is a file that holds none ("stale": left by a reboot or a
 * crash). nsfs has one device, so a namespace file bears the device of our
 * own network namespace's file. `access` says how the user namespace's
 * mount namespace, where the file is bound, is reached.
 */
export function namespaceFileState(
  path: string,
  access: UserNSAccess,
): NamespaceFileState {
  let dev: number;
  try {
    dev = Deno.statSync(seenFromHere(access, path)).dev;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "missing";
    throw error;
  }
  return dev === Deno.statSync("/proc/self/ns/net").dev ? "present" : "stale";
}
