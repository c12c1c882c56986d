/**
 * Making named network namespaces: new ones, and a process's own bound
 * under a new name. Each creation either completes or leaves nothing
 * behind: no file, no mount, no open fd, and the thread where it was.
 *
 * @module
 */

import {
  CLONE,
  close,
  fstatIdentity,
  mount,
  MS,
  O,
  openPath,
  unshare,
} from "../../ffi/syscalls.ts";
import { NamespaceExistsError, NsnetError, SyscallError } from "../errors.ts";
import { debug } from "../log.ts";
import { checkFault } from "./_faults.ts";
import { randomNSName, validateNSName } from "./name.ts";
import {
  NetNS,
  restoreThreadNS,
  THREAD_NETNS_PATH,
  threadCanReturn,
} from "./netns.ts";
import { nsRunDir, prepareRunDir } from "./run_dir.ts";
import { detachAndRemove } from "./teardown.ts";

/** How many random names {@linkcode newNS} tries before giving up. */
const MAX_NAME_ATTEMPTS = 10_000;

/** Options for creating a namespace. */
export interface CreateOptions {
  /** The run dir to create it in; default {@linkcode nsRunDir}. */
  runDir?: string;
}

/**
 * Makes a new network namespace with a random `netns-…` name, bound in the
 * run dir as `ip netns add` does; on any failure nothing is left.
 *
 * Needs root, or a script inside nsnet's user namespace (`nsnet unshare`,
 * where the run dir is `$XDG_RUNTIME_DIR/netns`); `--allow-ffi`,
 * `--allow-read` and `--allow-write` for the run dir.
 *
 * @example A namespace for one test, removed afterwards
 * ```ts
 * import { newNS, unmountNS } from "@nsnet/nsnet";
 *
 * const ns = newNS();
 * try {
 *   console.log(ns.path); // /run/netns/netns-…
 * } finally {
 *   unmountNS(ns);
 * }
 * ```
 */
export function newNS(options: CreateOptions = {}): NetNS {
  return withRandomName(options, (path) => createAt(path, bindNewNamespace));
}

/**
 * Makes a new network namespace called `name` (`ip netns add NAME`); raises
 * `NamespaceExistsError` if the name is taken.
 *
 * Needs root, or a script inside nsnet's user namespace (`nsnet unshare`,
 * where the run dir is `$XDG_RUNTIME_DIR/netns`); `--allow-ffi`,
 * `--allow-read` and `--allow-write` for the run dir.
 *
 * @example `ip netns add blue`, and `ip netns del blue`
 * ```ts
 * import { newNSWithName, unmountNS } from "@nsnet/nsnet";
 *
 * const ns = newNSWithName("blue");
 * unmountNS(ns);
 * ```
 */
export function newNSWithName(
  name: string,
  options: CreateOptions = {},
): NetNS {
  validateNSName(name);
  const dir = options.runDir ?? nsRunDir();
  prepareRunDir(dir);
  return createAt(`${dir}/${name}`, bindNewNamespace);
}

/** Options for {@linkcode adoptProcessNetNS}. */
export interface AdoptOptions extends CreateOptions {
  /** The name to bind it under; default a random `netns-…` name. */
  name?: string;
}

/**
 * Binds the network namespace of process `pid` under a new name, so that it
 * outlives the process (`ip netns attach`). The name is random unless one is
 * given.
 *
 * Needs root, or a script inside nsnet's user namespace (`nsnet unshare`,
 * where the run dir is `$XDG_RUNTIME_DIR/netns`); `--allow-ffi`,
 * `--allow-read` and `--allow-write` for the run dir. Another user's process needs root.
 *
 * @example Keep a child's network after it exits
 * ```ts
 * import { adoptProcessNetNS, unmountNS } from "@nsnet/nsnet";
 *
 * const child = new Deno.Command("unshare", { args: ["--net", "sleep", "1"] }).spawn();
 * await new Promise((resolve) => setTimeout(resolve, 100)); // until it unshared
 * const ns = adoptProcessNetNS(child.pid, { name: "kept" });
 * await child.status;
 * unmountNS(ns); // as `ip netns del kept`
 * ```
 */
export function adoptProcessNetNS(
  pid: number,
  options: AdoptOptions = {},
): NetNS {
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw new NsnetError(`invalid pid ${pid}`, {
      hint: "give the pid of a running process",
    });
  }
  if (options.name !== undefined) validateNSName(options.name);
  const source = `/proc/${pid}/ns/net`;
  const bindProcess = (path: string): NetNS =>
    createAt(path, (target) => {
      try {
        mount(source, target, "none", MS.BIND);
      } catch (error) {
        if (error instanceof SyscallError && error.code === "ENOENT") {
          throw new NsnetError(`no process with pid ${pid}`, {
            hint: "the process may have exited",
            cause: error,
          });
        }
        throw error;
      }
    });
  if (options.name === undefined) return withRandomName(options, bindProcess);
  const dir = options.runDir ?? nsRunDir();
  prepareRunDir(dir);
  return bindProcess(`${dir}/${options.name}`);
}

function withRandomName(
  options: CreateOptions,
  create: (path: string) => NetNS,
): NetNS {
  const dir = options.runDir ?? nsRunDir();
  prepareRunDir(dir);
  for (let attempt = 0; attempt < MAX_NAME_ATTEMPTS; attempt++) {
    try {
      return create(`${dir}/${randomNSName()}`);
    } catch (error) {
      if (!(error instanceof NamespaceExistsError)) throw error;
    }
  }
  throw new NsnetError(
    `no free namespace name in ${dir} after ${MAX_NAME_ATTEMPTS} attempts`,
  );
}

/**
 * Creates the mount point at `path` (exclusively), lets `bind` mount a
 * namespace on it, and opens the result. On any failure undoes what it did.
 */
function createAt(path: string, bind: (path: string) => void): NetNS {
  try {
    close(openPath(path, O.RDONLY | O.CREAT | O.EXCL, 0o444));
  } catch (error) {
    if (error instanceof SyscallError && error.code === "EEXIST") {
      throw new NamespaceExistsError(path, { cause: error });
    }
    throw error;
  }
  let fd = -1;
  try {
    checkFault("after-create-file");
    bind(path);
    checkFault("after-mount");
    fd = openPath(path, O.RDONLY);
    checkFault("after-open");
    const { dev, ino } = fstatIdentity(fd, path);
    debug(`created namespace ${path} (inode ${ino})`);
    return new NetNS(path, fd, dev, ino);
  } catch (error) {
    if (fd >= 0) close(fd);
    detachAndRemove(path);
    throw error;
  }
}

/**
 * Moves the calling thread into a fresh network namespace, binds it onto
 * `path`, and moves the thread back, whatever happens in between.
 */
function bindNewNamespace(path: string): void {
  if (!threadCanReturn()) {
    bindNewNamespaceInChild(path);
    return;
  }
  const origin = openPath(THREAD_NETNS_PATH, O.RDONLY);
  try {
    unshare(CLONE.NEWNET);
  } catch (error) {
    close(origin);
    throw error;
  }
  try {
    checkFault("after-unshare");
    mount(THREAD_NETNS_PATH, path, "none", MS.BIND);
  } finally {
    restoreThreadNS(origin);
  }
}

/**
 * The same, for a thread that could not come back (rootless, in the host's
 * network namespace): util-linux `unshare --net=PATH` makes the namespace in
 * a short-lived child and binds it, and the child's exit is the way back.
 */
function bindNewNamespaceInChild(path: string): void {
  checkFault("after-unshare");
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command("unshare", {
      args: [`--net=${path}`, "true"],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
  } catch (error) {
    throw new NsnetError("cannot run `unshare` to make a namespace rootless", {
      hint: "install util-linux",
      cause: error,
    });
  }
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new NsnetError(`unshare --net=${path} failed: ${stderr}`);
  }
}
