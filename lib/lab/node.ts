/**
 * `LabNode`: a handle on one node of a lab, with the same calls as a
 * `Sandbox` (`spawn`, `output`, `listen`, `connect`, `run`, `inspect`,
 * `stats`), shared with it through `lib/ns_handle.ts`.
 *
 * @module
 */

import { NeedsUserNamespaceError } from "../errors.ts";
import { inspectNetNS, type StatusBlock } from "../inspect.ts";
import { getNS } from "../netns/netns.ts";
import {
  connectIn,
  listenDatagramIn,
  listenIn,
  type NamespaceTarget,
  outputOf,
  runIn,
  spawnIn,
} from "../ns_handle.ts";
import { needsUserNS } from "../rootless/userns.ts";
import { type NetIO, netIO } from "../stats.ts";
import { netnsFile } from "./build.ts";
import type { PlannedNode } from "./types.ts";

function requirePrivilege(operation: string): void {
  if (needsUserNS()) throw new NeedsUserNamespaceError(operation);
}

/**
 * One node of a lab: a network namespace of its own. Got from
 * `lab.node(name)`; it lives as long as its lab. Commands started inside
 * see its own /sys; the host's /etc/resolv.conf stays (labs have no DNS).
 *
 * Privilege as for `Sandbox`: root, or a script inside `nsnet unshare`,
 * where `run` and `listenDatagram` raise (a thread cannot come back) and
 * `spawn`, `output`, `listen`, `connect` work.
 *
 * @example A server on one node, a client on another
 * ```ts
 * import { Lab } from "@nsnet/nsnet/lab";
 *
 * await using lab = await Lab.create({
 *   nodes: { a: {}, b: {} },
 *   links: [{ ends: ["a", "b"] }],
 * });
 * using listener = lab.node("b").listen({ port: 8080 });
 * const conn = await lab.node("a").connect({ hostname: lab.address("b"), port: 8080 });
 * conn.close();
 * ```
 */
export class LabNode {
  readonly #lab: string;
  readonly #node: PlannedNode;

  /** Wraps planned node `node` of lab `lab`. Use `lab.node(name)` instead. */
  constructor(lab: string, node: PlannedNode) {
    this.#lab = lab;
    this.#node = node;
  }

  /** Its name in the lab. */
  get name(): string {
    return this.#node.name;
  }

  /** The lab it belongs to. */
  get lab(): string {
    return this.#lab;
  }

  /** Its network namespace file (`/run/netns/…`). */
  get path(): string {
    return netnsFile(this.#node.netns);
  }

  /** Whether it forwards packets between its links. */
  get router(): boolean {
    return this.#node.router;
  }

  /** Its addresses, CIDR, interface by interface (IPv4 first, then IPv6). */
  get addresses(): string[] {
    return this.#node.interfaces.flatMap((i) => i.addresses);
  }

  #target(): NamespaceTarget {
    return {
      netnsPath: this.path,
      mounts: [{ op: "sysfs", target: "/sys" }],
      subject: `node ${this.name} of lab ${this.#lab}`,
      kind: "LabNode",
    };
  }

  /**
   * Starts `command` inside the node, as `Deno.Command.spawn` (stdio
   * inherited by default), with the node's own /sys. Needs root or
   * `nsnet unshare`; `--allow-run`.
   */
  spawn(command: string, options: Deno.CommandOptions = {}): Deno.ChildProcess {
    requirePrivilege("LabNode.spawn");
    return spawnIn(this.#target(), command, options);
  }

  /**
   * Runs `command` inside to its end, as `Deno.Command.output` (stdout and
   * stderr piped, stdin null by default). Needs root or `nsnet unshare`.
   */
  output(
    command: string,
    options: Deno.CommandOptions = {},
  ): Promise<Deno.CommandOutput> {
    return outputOf((c, o) => this.spawn(c, o), command, options);
  }

  /**
   * Runs the synchronous `fn` with the calling thread inside the node's
   * namespace. Needs root (inside `nsnet unshare` it raises, naming what
   * works instead).
   */
  run<T>(fn: () => T): T {
    requirePrivilege("LabNode.run");
    return runIn(this.#target(), "LabNode.run", fn);
  }

  /**
   * A TCP listener inside the node, as `Deno.listen` (default hostname
   * `0.0.0.0`; IP literals only). Needs root or `nsnet unshare`.
   */
  listen(options: Deno.TcpListenOptions): Deno.TcpListener {
    requirePrivilege("LabNode.listen");
    return listenIn(this.#target(), options);
  }

  /**
   * A UDP socket inside the node, as `Deno.listenDatagram` (Deno's
   * `--unstable-net`). Needs root.
   */
  listenDatagram(
    options: Deno.UdpListenOptions & { transport: "udp" },
  ): Deno.DatagramConn {
    requirePrivilege("LabNode.listenDatagram");
    return listenDatagramIn(this.#target(), "LabNode.listenDatagram", options);
  }

  /**
   * A TCP connection from inside the node, as `Deno.connect` (IP literals
   * only). Needs root or `nsnet unshare`.
   */
  async connect(options: Deno.ConnectOptions): Promise<Deno.TcpConn> {
    requirePrivilege("LabNode.connect");
    return await connectIn(this.#target(), options);
  }

  /** Its network as Podman's StatusBlock (interfaces, addresses, MACs), read from the kernel now. */
  inspect(): StatusBlock {
    requirePrivilege("LabNode.inspect");
    using ns = getNS(this.path);
    return inspectNetNS(ns);
  }

  /** Its network I/O, per interface and summed. Needs root or `nsnet unshare`. */
  stats(): NetIO {
    requirePrivilege("LabNode.stats");
    using ns = getNS(this.path);
    return netIO(ns)!;
  }
}
