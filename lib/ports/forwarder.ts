/**
 * The userspace port forwarder (rootless, or wherever DNAT is not wanted):
 * listens on host ports and, for each TCP connection or UDP peer, opens a
 * connection to the sandbox from inside the sandbox's network namespace and
 * copies both ways.
 *
 * Each forwarder is one dedicated Worker (its own OS thread), created by a
 * thread in the host's namespace. The worker binds the host ports, then
 * enters the sandbox's namespace and never leaves: rootless, a thread can
 * enter a namespace its user namespace owns but never return to the host's,
 * and Deno sockets cannot move between Workers, so the thread that accepts
 * must be the one that connects. The thread dies with {@linkcode Forwarder.close}.
 *
 * UDP goes through `node:dgram`, so no `--unstable-net` is needed: each UDP
 * client gets a session socket of its own toward the sandbox (ended after
 * `udpIdleMs` without traffic), so each answer goes back to the client it
 * answers. With `keepClientAddress`, the sandbox sees each client's own
 * address as the peer (see `client_address.ts` for what the namespace
 * needs); loopback clients, which no other namespace could answer, still
 * come from the namespace's own address.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError, SyscallError } from "../errors.ts";
import { tryParseIP } from "../netlink/ip_address.ts";
import { workerUrl } from "../worker.ts";
import { PortConflictError } from "./errors.ts";
import { formatPortMapping, type PortMapping } from "./spec.ts";

/** Options for {@linkcode startForwarder}. */
export interface ForwarderOptions {
  /**
   * The sandbox's network namespace: an open handle (a `NetNS`, or anything
   * with its fd; it may be closed once the forwarder has started), or a path
   * such as `/run/netns/NAME`. Exactly one of `ns` and `nsPath`.
   */
  ns?: { readonly fd: number };
  /** The sandbox's network namespace as a path; see `ns`. */
  nsPath?: string;
  /** The sandbox's IP address, as seen from inside its namespace (e.g. `127.0.0.1`). */
  sandboxAddress: string;
  /**
   * The sandbox's IPv6 address, for mappings whose host address is IPv6
   * (`[::1]:8080:80`); without it those go to `sandboxAddress` too.
   */
  sandboxAddress6?: string;
  /**
   * Connect to the sandbox from each client's own address, so the server
   * sees its real peer. The namespace entered must route the answers back:
   * `prepareClientAddressRouting()` (`client_address.ts`). Default false.
   */
  keepClientAddress?: boolean;
  /** How long a UDP client's session lives without traffic; default 60 s. */
  udpIdleMs?: number;
  /** The ports to publish; a host port 0 gets a free port. */
  mappings: readonly PortMapping[];
  /** How long to wait for the forwarder thread to start; default 10 s. */
  startTimeoutMs?: number;
}

/** A running forwarder. */
export interface Forwarder {
  /** The mappings as published, with every host port filled in. */
  readonly mappings: readonly PortMapping[];
  /** The network namespace the forwarder thread ended up in (`net:[…]`). */
  readonly threadNetns: string;
  /** Stops listening, closes every forwarded connection, ends the thread. Idempotent. */
  close(): Promise<void>;
  /** Same as {@linkcode Forwarder.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What starts the forwarder thread (in `_forwarder_worker.ts`). */
export interface ForwarderStart {
  /** Says what this message is. */
  type: "start";
  /** The ports to publish. */
  mappings: PortMapping[];
  /** An fd of the sandbox's network namespace, or undefined with `nsPath`. */
  nsFd: number | undefined;
  /** The path of the sandbox's network namespace, or undefined with `nsFd`. */
  nsPath: string | undefined;
  /** The sandbox's address inside its namespace. */
  address: string;
  /** Its IPv6 address, for IPv6 host addresses; undefined without one. */
  address6: string | undefined;
  /** Whether to connect from the clients' own addresses. */
  keepClientAddress: boolean;
  /** The idle time of a UDP session, in ms. */
  udpIdleMs: number;
}

/** What the forwarder thread is sent: start, then close. */
export type ForwarderRequest = ForwarderStart | { type: "close" };

/** What the forwarder thread answers. */
export type ForwarderReply =
  | { type: "ready"; ports: number[]; netns: string }
  | {
    type: "bind-error";
    index: number;
    error: { name: string; message: string };
  }
  | { type: "ns-error"; syscall: string; errno: number }
  | { type: "closed" };

const CLOSE_TIMEOUT_MS = 2_000;

/**
 * Whether root publishing needs the userspace forwarder for `mapping`: an
 * IPv6 host address (`[::1]:8080:80`, `[::]:8080:80`). The kernel cannot
 * DNAT from `::1`, and nsnet's DNAT table is IPv4; everything else is
 * DNAT'ed as root.
 */
export function forwardedInUserspace(mapping: PortMapping): boolean {
  return mapping.hostIp?.includes(":") ?? false;
}

function validate(options: ForwarderOptions): void {
  if ((options.ns === undefined) === (options.nsPath === undefined)) {
    throw new InvalidArgumentError(
      "startForwarder needs exactly one of `ns` and `nsPath`",
    );
  }
  if (tryParseIP(options.sandboxAddress) === undefined) {
    throw new InvalidArgumentError(
      `the sandbox address must be an IP address, not ${
        JSON.stringify(options.sandboxAddress)
      }`,
      { hint: "a name lookup would run outside the sandbox's namespace" },
    );
  }
  if (options.mappings.length === 0) {
    throw new InvalidArgumentError("startForwarder needs at least one mapping");
  }
  if (
    options.sandboxAddress6 !== undefined &&
    tryParseIP(options.sandboxAddress6)?.bytes.length !== 16
  ) {
    throw new InvalidArgumentError(
      `the sandbox's IPv6 address must be an IPv6 address, not ${
        JSON.stringify(options.sandboxAddress6)
      }`,
    );
  }
}

function bindError(
  mapping: PortMapping,
  error: { name: string; message: string },
): Error {
  const where = `${mapping.hostPort}/${mapping.protocol} on ${
    mapping.hostIp ?? "0.0.0.0"
  }`;
  if (error.name === "AddrInUse") {
    return new PortConflictError(
      "in-use",
      mapping.hostPort,
      mapping.protocol,
      mapping.hostIp,
      `host port ${where} is already in use (publishing ${
        formatPortMapping(mapping)
      })`,
      { hint: "choose another host port, or stop the program using it" },
    );
  }
  return new PortConflictError(
    "unavailable",
    mapping.hostPort,
    mapping.protocol,
    mapping.hostIp,
    `cannot publish host port ${where}: ${error.message}`,
  );
}

/**
 * Starts a forwarder for `mappings` into the sandbox at `sandboxAddress`.
 * Resolves once every host port is bound and the forwarder thread is inside
 * the sandbox's namespace; rejects with {@linkcode PortConflictError} naming
 * the first host port it could not bind, or a {@linkcode SyscallError} if it
 * could not enter the namespace. Call it from a thread in the host's network
 * namespace (never inside `NetNS.run`): the worker starts where its creator is.
 */
export function startForwarder(options: ForwarderOptions): Promise<Forwarder> {
  try {
    validate(options);
  } catch (error) {
    return Promise.reject(error);
  }
  const mappings = options.mappings.map((m) => ({ ...m }));
  const subject = options.nsPath ?? `namespace fd ${options.ns?.fd}`;
  const worker = new Worker(workerUrl("ports/_forwarder_worker"), {
    type: "module",
  });
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  return new Promise<Forwarder>((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.terminate();
      reject(
        new NsnetError(`the forwarder did not start within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      worker.terminate();
      reject(error);
    };
    worker.onerror = (event): void => {
      event.preventDefault();
      fail(new NsnetError(`the forwarder thread failed: ${event.message}`));
    };
    worker.onmessage = (event: MessageEvent<ForwarderReply>): void => {
      const reply = event.data;
      if (reply.type === "bind-error") {
        fail(bindError(mappings[reply.index]!, reply.error));
      } else if (reply.type === "ns-error") {
        fail(new SyscallError(reply.syscall, reply.errno, subject));
      } else if (reply.type === "ready") {
        clearTimeout(timer);
        reply.ports.forEach((port, i) => mappings[i]!.hostPort = port);
        resolve(new RunningForwarder(worker, mappings, reply.netns));
      }
    };
    const start: ForwarderRequest = {
      type: "start",
      mappings,
      nsFd: options.ns?.fd,
      nsPath: options.nsPath,
      address: options.sandboxAddress,
      address6: options.sandboxAddress6,
      keepClientAddress: options.keepClientAddress ?? false,
      udpIdleMs: options.udpIdleMs ?? 60_000,
    };
    worker.postMessage(start);
  });
}

class RunningForwarder implements Forwarder {
  readonly mappings: readonly PortMapping[];
  readonly threadNetns: string;
  #worker: Worker;
  #closed: Promise<void> | undefined;

  constructor(worker: Worker, mappings: PortMapping[], netns: string) {
    this.#worker = worker;
    this.mappings = mappings;
    this.threadNetns = netns;
    worker.onerror = (event): void => event.preventDefault();
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      const worker = this.#worker;
      const done = (): void => {
        clearTimeout(timer);
        worker.terminate();
        resolve();
      };
      // Wait for the worker to close its sockets, so the ports are free on return.
      const timer = setTimeout(done, CLOSE_TIMEOUT_MS);
      worker.onmessage = (event: MessageEvent<ForwarderReply>): void => {
        if (event.data.type === "closed") done();
      };
      const request: ForwarderRequest = { type: "close" };
      worker.postMessage(request);
    });
    return this.#closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
