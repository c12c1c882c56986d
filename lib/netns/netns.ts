/**
 * The {@linkcode NetNS} handle: an open network namespace, and the one safe way
 * to run code inside it on the calling thread.
 *
 * @module
 */

import {
  CLONE,
  close,
  FS_MAGIC,
  fstatIdentity,
  namespaceType,
  O,
  openPath,
  owningUserNS,
  setns,
  statfsType,
} from "../../ffi/syscalls.ts";
import { isRootless } from "../rootless/detect.ts";
import { errno, libc } from "../../ffi/libc.ts";
import { socketOnThrowawayThread } from "./socket_thread.ts";
import {
  NamespaceNotFoundError,
  NotANamespaceError,
  NsnetError,
  SyscallError,
} from "../errors.ts";

/** The network namespace of the calling thread. */
export const THREAD_NETNS_PATH = "/proc/thread-self/ns/net";

/**
 * An open network namespace. Close it (or `using` it) when done.
 *
 * Opening and entering one needs `--allow-ffi` (libc) and `--allow-read`;
 * entering one nsnet did not make, or any as an unprivileged user, needs
 * root or nsnet's user namespace (`nsnet unshare`).
 *
 * @example Serve inside a namespace, connect from outside it
 * ```ts
 * import { getNS } from "@nsnet/nsnet";
 *
 * using ns = getNS("/run/netns/blue"); // made by `ip netns add blue`
 * const listener = ns.run(() => Deno.listen({ hostname: "127.0.0.1", port: 8080 }));
 * const conn = await ns.connect({ hostname: "127.0.0.1", port: 8080 });
 * conn.close();
 * listener.close();
 * ```
 */
export class NetNS {
  /** The path it was opened from. */
  readonly path: string;
  /** Device number of the namespace (nsfs). */
  readonly dev: bigint;
  /** Inode number of the namespace: what `ip netns identify` compares. */
  readonly ino: bigint;
  #fd: number;

  /** Wraps an already validated, open namespace fd. Use {@linkcode getNS} instead. */
  constructor(path: string, fd: number, dev: bigint, ino: bigint) {
    this.path = path;
    this.#fd = fd;
    this.dev = dev;
    this.ino = ino;
  }

  /** The open file descriptor; -1 after {@linkcode NetNS.close}. */
  get fd(): number {
    return this.#fd;
  }

  /** Whether {@linkcode NetNS.close} has been called. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Whether `other` is the same namespace (same device and inode). */
  equals(other: { dev: bigint; ino: bigint }): boolean {
    return this.dev === other.dev && this.ino === other.ino;
  }

  /**
   * Runs `fn` with the calling thread inside this namespace, then switches
   * back, also when `fn` throws. Sockets, child processes and Workers made by
   * `fn` stay in this namespace after the switch back.
   *
   * `fn` must be synchronous: an `await` would let other code run inside the
   * namespace, and the rest of `fn` would run outside it. A function that
   * returns a Promise is refused.
   */
  run<T>(fn: () => T): T {
    if (this.closed) {
      throw new NsnetError(`namespace handle for ${this.path} is closed`);
    }
    if (fn.constructor.name === "AsyncFunction") {
      throw new NsnetError(
        "NetNS.run takes a synchronous function; an async one would leave the namespace at its first await",
        {
          hint:
            "create sockets or spawn processes synchronously inside run(), and await them outside",
        },
      );
    }
    const origin = openPath(THREAD_NETNS_PATH, O.RDONLY);
    try {
      if (!canReturnTo(origin)) {
        throw new NsnetError(
          `cannot enter ${this.path} on this thread: it could not come back to its network namespace, which belongs to a user namespace outside this one`,
          {
            hint:
              "rootless, run commands with `nsnet exec` or execInNS(), which enter in a child process",
          },
        );
      }
      setns(this.#fd, CLONE.NEWNET, this.path);
    } catch (error) {
      close(origin);
      throw error;
    }
    let result: T;
    try {
      result = fn();
    } finally {
      restoreThreadNS(origin);
    }
    if (isThenable(result)) {
      throw new NsnetError(
        "NetNS.run: the function returned a Promise; only its synchronous part ran inside the namespace",
        { hint: "do the asynchronous part after run() returns" },
      );
    }
    return result;
  }

  /**
   * Opens a TCP connection from inside this namespace. The socket is created
   * synchronously while the thread is inside; the handshake completes outside.
   * Only IP literals are accepted: a name lookup would run on another thread
   * and create the socket later, in whatever namespace that thread is in.
   */
  connect(options: Deno.ConnectOptions): Promise<Deno.TcpConn> {
    const host = options.hostname ?? "127.0.0.1";
    if (!isIPLiteral(host)) {
      return Promise.reject(
        new NsnetError(
          `NetNS.connect needs an IP address, not ${JSON.stringify(host)}`,
          {
            hint:
              "a name lookup would create the socket outside the namespace; resolve it first",
          },
        ),
      );
    }
    // Wrapped so run() sees no Promise: Deno creates the socket when connect is called.
    return this.run(() => ({
      pending: Deno.connect({ ...options, hostname: host }),
    })).pending;
  }

  /**
   * Creates a socket (`socket(domain, type, protocol)`) inside this
   * namespace and returns its fd. The calling thread enters and comes back
   * when it can; rootless, where it could not come back to the host's
   * namespace, a throwaway thread makes the socket instead. A socket stays in
   * the namespace it was made in, whoever uses it later.
   */
  socket(domain: number, type: number, protocol: number): number {
    if (this.closed) {
      throw new NsnetError(`namespace handle for ${this.path} is closed`);
    }
    if (threadCanReturn()) {
      return this.run(() => {
        const fd = libc().socket(domain, type, protocol);
        if (fd < 0) throw new SyscallError("socket", errno(), this.path);
        return fd;
      });
    }
    return socketOnThrowawayThread(this.#fd, domain, type, protocol, this.path);
  }

  /** Closes the handle; the namespace lives on while it is mounted or used. Idempotent. */
  close(): void {
    if (this.#fd >= 0) {
      const fd = this.#fd;
      this.#fd = -1;
      close(fd);
    }
  }

  /** Closes the handle at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Switches the calling thread back to the network namespace behind the fd
 * `origin` and closes it. If that fails the thread would run on in a foreign
 * namespace, where every later socket or process would silently land: the
 * process is stopped instead.
 */
export function restoreThreadNS(origin: number): void {
  try {
    setns(origin, CLONE.NEWNET, THREAD_NETNS_PATH);
  } catch (error) {
    console.error(
      `nsnet: fatal: cannot return the thread to its network namespace: ${error}`,
    );
    Deno.exit(70);
  }
  close(origin);
}

const IPV4 =
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Whether `host` is an IPv4 or IPv6 address rather than a name to look up. */
export function isIPLiteral(host: string): boolean {
  if (IPV4.test(host)) return true;
  return host.includes(":") && /^[0-9a-fA-F:.]+(%[\w.-]+)?$/.test(host);
}

const returnable = new Map<bigint, boolean>();

/**
 * Whether the calling thread, once elsewhere, may `setns` back into the
 * network namespace behind `origin`: it needs CAP_SYS_ADMIN in the user
 * namespace owning it. Root of the initial user namespace always may; inside
 * a user namespace (rootless), only namespaces that this user namespace owns
 * qualify, not the host's. Cached per namespace.
 */
export function canReturnTo(origin: number): boolean {
  if (!isRootless()) return true;
  const { ino } = fstatIdentity(origin, THREAD_NETNS_PATH);
  let known = returnable.get(ino);
  if (known === undefined) {
    known = ownedByThisUserNS(origin);
    returnable.set(ino, known);
  }
  return known;
}

function ownedByThisUserNS(nsFd: number): boolean {
  let owner: number;
  try {
    owner = owningUserNS(nsFd, THREAD_NETNS_PATH);
  } catch (error) {
    // EPERM: the owner is an ancestor of this user namespace, out of reach.
    if (error instanceof SyscallError && error.code === "EPERM") return false;
    throw error;
  }
  try {
    const userNS = `user:[${fstatIdentity(owner).ino}]`;
    return userNS === Deno.readLinkSync("/proc/thread-self/ns/user");
  } finally {
    close(owner);
  }
}

/** Whether code on the calling thread can enter a namespace and come back (see {@linkcode canReturnTo}). */
export function threadCanReturn(): boolean {
  const origin = openPath(THREAD_NETNS_PATH, O.RDONLY);
  try {
    return canReturnTo(origin);
  } finally {
    close(origin);
  }
}

function isThenable(value: unknown): boolean {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}

/**
 * Opens the network namespace at `path` (a file under a netns run dir, or
 * `/proc/PID/ns/net`). A missing path and a path that holds no network
 * namespace raise different errors. Needs `--allow-ffi` and read access to
 * `path` (another user's `/proc/PID/ns/net` needs root).
 *
 * @example Tell a stale file from a missing one
 * ```ts
 * import { getNS, NamespaceNotFoundError, NotANamespaceError } from "@nsnet/nsnet";
 *
 * try {
 *   using ns = getNS("/run/netns/blue");
 *   console.log(`blue is net:[${ns.ino}]`);
 * } catch (error) {
 *   if (error instanceof NamespaceNotFoundError) console.log("no namespace blue");
 *   else if (error instanceof NotANamespaceError) console.log("a stale file: nsnet del blue");
 *   else throw error;
 * }
 * ```
 */
export function getNS(path: string): NetNS {
  let magic: number;
  try {
    magic = statfsType(path);
  } catch (error) {
    if (error instanceof SyscallError && error.code === "ENOENT") {
      throw new NamespaceNotFoundError(path, { cause: error });
    }
    throw error;
  }
  if (magic !== FS_MAGIC.NSFS && magic !== FS_MAGIC.PROC) {
    throw new NotANamespaceError(
      path,
      `unknown filesystem magic 0x${magic.toString(16)}`,
    );
  }
  let fd: number;
  try {
    fd = openPath(path, O.RDONLY);
  } catch (error) {
    if (error instanceof SyscallError && error.code === "ENOENT") {
      throw new NamespaceNotFoundError(path, { cause: error });
    }
    throw error;
  }
  try {
    let type: number;
    try {
      type = namespaceType(fd, path);
    } catch (error) {
      throw new NotANamespaceError(path, "no namespace behind it", {
        cause: error,
      });
    }
    if (type !== CLONE.NEWNET) {
      throw new NotANamespaceError(
        path,
        "a namespace, but not a network namespace",
      );
    }
    const { dev, ino } = fstatIdentity(fd, path);
    return new NetNS(path, fd, dev, ino);
  } catch (error) {
    close(fd);
    throw error;
  }
}

/** Opens the calling thread's current network namespace. Needs `--allow-ffi`. */
export function currentNS(): NetNS {
  return getNS(THREAD_NETNS_PATH);
}

/**
 * Opens the network namespace of process `pid` (as `ip netns identify` reads
 * it). Needs `--allow-ffi`; another user's process needs root.
 */
export function processNS(pid: number): NetNS {
  return getNS(`/proc/${pid}/ns/net`);
}
