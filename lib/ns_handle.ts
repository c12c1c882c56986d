/**
 * What every handle on a network namespace does the same way: start a
 * command inside (`spawn`, `output`), make TCP sockets inside (`listen`,
 * `connect`), run a synchronous function with the thread inside (`run`). The
 * `Sandbox` and the lab's `LabNode` are two such handles; each says where its
 * namespace is, which mounts its commands get, and what to call itself in
 * errors, and this module does the rest, as root and inside `nsnet unshare`.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError } from "./errors.ts";
import { getNS, type NetNS, threadCanReturn } from "./netns/netns.ts";
import { type MountStep, spawnWithMounts } from "./rootless/inside.ts";
import { connectByFd, listenByFd } from "./sandbox/_fd_socket.ts";

/** Deno.CommandOptions fields that a command inside a namespace cannot honour. */
const UNSUPPORTED = ["clearEnv", "uid", "gid", "windowsRawArguments"] as const;

/** Where a handle's namespace is and how its commands are started. */
export interface NamespaceTarget {
  /** Its network namespace file. */
  netnsPath: string;
  /** Mounts in the command's fresh mount namespace (e.g. its own /sys). */
  mounts: readonly MountStep[];
  /** What the handle is, for errors: `sandbox web`, `lab node a of lab l`. */
  subject: string;
  /** The class name for errors (`Sandbox`, `LabNode`). */
  kind: string;
}

/**
 * Starts `command` in the target's namespace as `Deno.Command.spawn`
 * (stdio inherited by default); `cwd` is changed inside, `signal` kills it.
 */
export function spawnIn(
  target: NamespaceTarget,
  command: string,
  options: Deno.CommandOptions = {},
): Deno.ChildProcess {
  for (const key of UNSUPPORTED) {
    if (options[key] !== undefined) {
      throw new InvalidArgumentError(
        `${target.kind}.spawn does not support the ${key} option`,
        { hint: "run the command through a wrapper that sets it" },
      );
    }
  }
  const argv = [command, ...(options.args ?? [])];
  const child = spawnWithMounts(
    target.netnsPath,
    target.mounts,
    // The child enters the namespaces first; the directory is changed there.
    options.cwd === undefined
      ? argv
      : ["sh", "-c", 'cd "$0" && exec "$@"', String(options.cwd), ...argv],
    {
      env: options.env,
      stdin: options.stdin,
      stdout: options.stdout,
      stderr: options.stderr,
    },
  );
  const signal = options.signal;
  if (signal !== undefined) {
    const abort = (): void => {
      try {
        child.kill();
      } catch { /* already exited */ }
    };
    if (signal.aborted) abort();
    else {
      signal.addEventListener("abort", abort, { once: true });
      child.status.finally(() => signal.removeEventListener("abort", abort));
    }
  }
  return child;
}

/**
 * Runs a command to its end through `spawn` and collects its output, as
 * `Deno.Command.output`: stdout and stderr piped, stdin null by default.
 */
export function outputOf(
  spawn: (command: string, options: Deno.CommandOptions) => Deno.ChildProcess,
  command: string,
  options: Deno.CommandOptions = {},
): Promise<Deno.CommandOutput> {
  try {
    return spawn(command, {
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...options,
    }).output();
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A TCP listener in the target's namespace (default hostname `0.0.0.0`):
 * made on this thread inside as root, by a throwaway thread inside
 * `nsnet unshare`.
 */
export function listenIn(
  target: NamespaceTarget,
  options: Deno.TcpListenOptions,
): Deno.TcpListener {
  using ns = getNS(target.netnsPath);
  if (!threadCanReturn()) return listenByFd(ns, options);
  return ns.run(() => Deno.listen({ hostname: "0.0.0.0", ...options }));
}

/** A TCP connection from the target's namespace (IP literals only). */
export async function connectIn(
  target: NamespaceTarget,
  options: Deno.ConnectOptions,
): Promise<Deno.TcpConn> {
  using ns = getNS(target.netnsPath);
  if (!threadCanReturn()) return await connectByFd(ns, options);
  return await ns.connect(options);
}

/**
 * The target's namespace, for entering from this thread and coming back;
 * inside `nsnet unshare`, where a thread cannot come back, one clear error
 * naming `operation` and what works instead. Close it when done.
 */
export function enterableNS(target: NamespaceTarget, operation: string): NetNS {
  const ns = getNS(target.netnsPath);
  if (!threadCanReturn()) {
    ns.close();
    throw new NsnetError(
      `${operation} needs root: inside nsnet's user namespace a thread can enter ${target.subject} but never come back to the host's network namespace`,
      {
        hint:
          "use spawn()/output(), or listen()/connect() (which work here), or run the script as root",
      },
    );
  }
  return ns;
}

/**
 * A UDP socket inside the target's namespace, as `Deno.listenDatagram`
 * (root only: Deno cannot adopt a UDP socket made by another thread).
 * Without Deno's `--unstable-net` one clear error says so.
 */
export function listenDatagramIn(
  target: NamespaceTarget,
  operation: string,
  options: Deno.UdpListenOptions & { transport: "udp" },
): Deno.DatagramConn {
  if (typeof Deno.listenDatagram !== "function") {
    throw new NsnetError("UDP needs Deno.listenDatagram", {
      hint: "run Deno with --unstable-net",
    });
  }
  using ns = enterableNS(target, operation);
  return ns.run(() => Deno.listenDatagram(options));
}

/** Runs the synchronous `fn` with the calling thread inside the target's namespace (root only). */
export function runIn<T>(
  target: NamespaceTarget,
  operation: string,
  fn: () => T,
): T {
  using ns = enterableNS(target, operation);
  return ns.run(fn);
}
