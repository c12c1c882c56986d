/**
 * `Sandbox`: a handle for a container-style network sandbox, used the way
 * `Deno.Command` and `Deno.listen` are: create it, run commands and open
 * sockets inside it, read its status and counters, and remove it, with
 * `await using` so that nothing is left behind even when the block throws.
 *
 * @module
 */

import {
  NeedsUserNamespaceError,
  NsnetError,
  SandboxNotFoundError,
} from "../errors.ts";
import type { StatusBlock } from "../inspect.ts";
import {
  connectIn,
  listenDatagramIn,
  listenIn,
  type NamespaceTarget,
  outputOf,
  runIn,
  spawnIn,
} from "../ns_handle.ts";
import type { Forwarder } from "../ports/forwarder.ts";
import { needsUserNS } from "../rootless/userns.ts";
import type { NetIO } from "../stats.ts";
import { sandboxMountPlan } from "./exec.ts";
import { startForwarderFor } from "./forwarder_process.ts";
import {
  createSandbox,
  inspectSandbox,
  needsHostForwarder,
  removeAfterFailure,
  removeSandbox,
} from "./lifecycle.ts";
import { sandboxStats } from "./stats.ts";
import { statusAddresses, statusGateway } from "./status.ts";
import { listRecords, readRecord } from "./store.ts";
import type { SandboxRecord } from "./types.ts";

/** Options for {@linkcode Sandbox.create}. */
export interface SandboxOptions {
  /** Its name; default a random `sandbox-xxxxxxxx`. */
  name?: string;
  /**
   * Its network, as `--network` on the CLI: `bridge` (the default network,
   * the default), `none`, `slirp4netns`, `pasta`, `ns:PATH`, `sandbox:NAME`,
   * or the name of a network.
   */
  network?: string;
  /** Ports to publish: `[HOST_IP:]HOST_PORT:SANDBOX_PORT[/tcp|/udp]`. */
  ports?: string[];
  /** DNS servers for its resolv.conf (default: the helper's, or the host's). */
  dns?: string[];
  /** The backend of a named network: `builtin` (default), `cni` or `netavark`. */
  backend?: string;
}

/**
 * Raises {@linkcode NeedsUserNamespaceError} when this process is an
 * unprivileged user's outside nsnet's user namespace, where `operation`
 * cannot work.
 */
function requirePrivilege(operation: string): void {
  if (needsUserNS()) throw new NeedsUserNamespaceError(operation);
}

/**
 * A network sandbox: a network namespace of its own (or a joined one),
 * configured by its network mode, with its own resolv.conf for the commands
 * run inside. Created with {@linkcode Sandbox.create}, found again with
 * {@linkcode Sandbox.open} and {@linkcode Sandbox.list}; removed with
 * {@linkcode Sandbox.remove} or at the end of an `await using` block.
 *
 * Privilege: creating, entering and removing a sandbox needs root, or an
 * unprivileged user's script run inside nsnet's user namespace
 * (`nsnet unshare -- deno run -A script.ts`, as `podman unshare`); called
 * outside it, those calls raise {@linkcode NeedsUserNamespaceError}.
 * `Sandbox.open`, `Sandbox.list`, the getters and `inspect()` only read
 * nsnet's records. Inside `nsnet unshare`, `listen`/`connect` work (their
 * sockets are made inside by a throwaway thread); `run` and `listenDatagram`
 * need root. Deno permissions: `--allow-ffi` (namespaces, netlink),
 * `--allow-run` (`nsenter`, helpers, backends), `--allow-read`/`--allow-write`
 * (nsnet's state), `--allow-env`, `--allow-net` for sockets; `-A` covers all.
 *
 * @example Two sandboxes on the default bridge talk over TCP
 * ```ts
 * import { Sandbox } from "@nsnet/nsnet";
 *
 * await using server = await Sandbox.create();
 * await using client = await Sandbox.create();
 * using listener = server.listen({ hostname: "0.0.0.0", port: 8080 });
 * const address = server.addresses[0]!.split("/")[0]!;
 * const [accepted, conn] = await Promise.all([
 *   listener.accept(),
 *   client.connect({ hostname: address, port: 8080 }),
 * ]);
 * await conn.write(new TextEncoder().encode("hello"));
 * conn.close();
 * accepted.close();
 * const out = await client.output("ip", { args: ["-j", "addr"] });
 * console.log(new TextDecoder().decode(out.stdout), client.stats().txBytes);
 * ```
 */
export class Sandbox implements AsyncDisposable {
  #record: SandboxRecord;
  #status: StatusBlock | undefined;
  #forwarder: Forwarder | undefined;
  #removed = false;

  private constructor(record: SandboxRecord, forwarder?: Forwarder) {
    this.#record = record;
    this.#forwarder = forwarder;
  }

  /**
   * Creates a sandbox and configures its network; on any failure nothing is
   * left and the error is raised (`SandboxExistsError` for a name that is
   * taken, `NetworkNotFoundError` for an unknown network…). It lives until
   * {@linkcode remove} (or the end of its `await using` block), also beyond
   * this process (as `nsnet sandbox create`'s); except that a rootless
   * sandbox's published ports on a named network are forwarded by this
   * process, so they answer only while it runs.
   *
   * Needs root, or running inside `nsnet unshare`; `-A` (or `--allow-ffi`,
   * `--allow-run`, `--allow-read`, `--allow-write`, `--allow-env`).
   *
   * @example A sandbox with only loopback, gone after the block
   * ```ts
   * import { Sandbox } from "@nsnet/nsnet";
   *
   * await using sb = await Sandbox.create({ network: "none" });
   * const out = await sb.output("ip", { args: ["-o", "link"] });
   * console.log(new TextDecoder().decode(out.stdout)); // 1: lo: ...
   * ```
   */
  static async create(options: SandboxOptions = {}): Promise<Sandbox> {
    requirePrivilege("Sandbox.create");
    const record = await createSandbox({
      name: options.name,
      network: options.network,
      ports: options.ports,
      dns: options.dns,
      backend: options.backend,
      // Its forwarder, when it needs one, is this handle's (started below):
      // a detached forwarder would run this script again, not nsnet.
      callerForwardsPorts: true,
    });
    let forwarder: Forwarder | undefined;
    try {
      if (needsHostForwarder(record)) {
        forwarder = await startForwarderFor(record);
      }
    } catch (error) {
      await removeAfterFailure(record.name, error);
      throw error;
    }
    return new Sandbox(record, forwarder);
  }

  /**
   * The sandbox called `name`, made earlier by this or another process (or
   * by `nsnet sandbox create`). Raises {@linkcode SandboxNotFoundError} when
   * there is none. Reads nsnet's records only: no privilege needed.
   */
  static open(name: string): Sandbox {
    const record = readRecord(name);
    if (record === undefined) throw new SandboxNotFoundError(name);
    return new Sandbox(record);
  }

  /** Every sandbox there is, by name. Reads nsnet's records only: no privilege needed. */
  static list(): Sandbox[] {
    return listRecords().map((record) => new Sandbox(record));
  }

  /** Its name. */
  get name(): string {
    return this.#record.name;
  }

  /** Its network namespace file (e.g. `/run/netns/netns-…`). */
  get path(): string {
    const path = this.#record.netnsPath;
    if (path === undefined) {
      throw new NsnetError(
        `sandbox ${this.name} has no network namespace (phase ${this.#record.phase})`,
        { hint: `remove it with \`nsnet sandbox rm ${this.name}\`` },
      );
    }
    return path;
  }

  /** Its addresses, as CIDR strings (`10.89.0.2/24`), from its status. */
  get addresses(): string[] {
    return statusAddresses(this.#cachedStatus());
  }

  /** Its default gateway, if it has one. */
  get gateway(): string | undefined {
    return statusGateway(this.#cachedStatus());
  }

  #cachedStatus(): StatusBlock {
    this.#status ??= this.#record.status ?? this.inspect();
    return this.#status;
  }

  /**
   * Its status (Podman's StatusBlock, S11): what its backend reported, or
   * for a joined namespace, an inspection of the namespace as it is now.
   */
  inspect(): StatusBlock {
    return inspectSandbox(this.name).status;
  }

  /** Its network I/O, per interface and summed. Needs root or `nsnet unshare`. */
  stats(): NetIO {
    requirePrivilege("Sandbox.stats");
    const stats = sandboxStats(this.#usable());
    if (stats === undefined) {
      throw new NsnetError(`sandbox ${this.name} has no network namespace`);
    }
    return stats;
  }

  /**
   * Starts `command` inside: in its network namespace, with its resolv.conf
   * where /etc/resolv.conf lives and its own /sys, as `nsnet sandbox exec`.
   * Takes `Deno.CommandOptions` (`args`, `env`, `cwd`, `stdin`, `stdout`,
   * `stderr`, `signal`); stdio is inherited by default, as
   * `Deno.Command.spawn`. A command that does not exist is exit status 127.
   *
   * Needs root or `nsnet unshare`; `--allow-run`.
   */
  spawn(command: string, options: Deno.CommandOptions = {}): Deno.ChildProcess {
    requirePrivilege("Sandbox.spawn");
    return spawnIn(this.#target(true), command, options);
  }

  /**
   * Runs `command` inside to its end and collects its output, as
   * `Deno.Command.output`: stdout and stderr piped, stdin null by default.
   *
   * Needs root or `nsnet unshare`; `--allow-run`.
   */
  output(
    command: string,
    options: Deno.CommandOptions = {},
  ): Promise<Deno.CommandOutput> {
    return outputOf((c, o) => this.spawn(c, o), command, options);
  }

  /**
   * Runs the synchronous `fn` with the calling thread inside the sandbox's
   * network namespace (see `NetNS.run`): sockets it makes stay inside.
   *
   * Needs root: inside `nsnet unshare` a thread can enter the sandbox but
   * never come back to the host's namespace, so this raises (naming
   * {@linkcode spawn}, {@linkcode listen} and {@linkcode connect}, which work).
   */
  run<T>(fn: () => T): T {
    requirePrivilege("Sandbox.run");
    return runIn(this.#target(), "Sandbox.run", fn);
  }

  /**
   * A TCP listener inside the sandbox, as `Deno.listen` (default hostname
   * `0.0.0.0`; an IP address, not a name). As root the socket is made by
   * `Deno.listen` on this thread inside; inside `nsnet unshare`, where no
   * thread can come back from the sandbox, a throwaway thread makes it and
   * `node:net` serves it (the listener and its connections still implement
   * `Deno.TcpListener` and `Deno.TcpConn`).
   *
   * Needs root or `nsnet unshare`; `--allow-net`, `--allow-ffi`.
   */
  listen(options: Deno.TcpListenOptions): Deno.TcpListener {
    requirePrivilege("Sandbox.listen");
    return listenIn(this.#target(), options);
  }

  /**
   * A UDP socket inside the sandbox, as `Deno.listenDatagram` (which needs
   * Deno's `--unstable-net`). Needs root (inside `nsnet unshare` it raises:
   * Deno cannot adopt a UDP socket made elsewhere); `--allow-net`,
   * `--allow-ffi`.
   */
  listenDatagram(
    options: Deno.UdpListenOptions & { transport: "udp" },
  ): Deno.DatagramConn {
    requirePrivilege("Sandbox.listenDatagram");
    return listenDatagramIn(this.#target(), "Sandbox.listenDatagram", options);
  }

  /**
   * A TCP connection from inside the sandbox, as `Deno.connect`; the
   * hostname must be an IP address (a name lookup would run elsewhere).
   * Inside `nsnet unshare` the socket is made by a throwaway thread and
   * served by `node:net`, as for {@linkcode listen}; a refused connection is
   * then a `SyscallError` (ECONNREFUSED).
   *
   * Needs root or `nsnet unshare`; `--allow-net`, `--allow-ffi`.
   */
  async connect(options: Deno.ConnectOptions): Promise<Deno.TcpConn> {
    requirePrivilege("Sandbox.connect");
    return await connectIn(this.#target(), options);
  }

  /**
   * Removes the sandbox: its network, namespace and record, even when a step
   * fails (the first error is raised afterwards). Idempotent: removing it
   * again, or after someone else did, does nothing.
   *
   * Needs root or `nsnet unshare`.
   */
  async remove(): Promise<void> {
    if (this.#removed) return;
    requirePrivilege("Sandbox.remove");
    let first: unknown;
    try {
      await this.#forwarder?.close();
    } catch (error) {
      first = error;
    }
    this.#forwarder = undefined;
    try {
      // Its record goes even when a step fails: it is removed either way.
      await removeSandbox(this.name);
    } catch (error) {
      if (!(error instanceof SandboxNotFoundError)) first ??= error;
    }
    // Refused (others share its namespace): it is still there to remove later.
    this.#removed = first === undefined || !this.#stillThere();
    if (first !== undefined) throw first;
  }

  /** Removes the sandbox at the end of an `await using` block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.remove();
  }

  #stillThere(): boolean {
    try {
      return readRecord(this.name) !== undefined;
    } catch {
      return true; // a damaged record is still there
    }
  }

  /** The record, checked to be a sandbox that this handle has not removed. */
  #usable(): SandboxRecord {
    if (this.#removed) {
      throw new SandboxNotFoundError(this.name, {
        hint: "this handle's sandbox was removed",
      });
    }
    return this.#record;
  }

  /**
   * Where its namespace is, for the shared namespace-handle calls; with
   * `ready`, a sandbox that is not ready raises, naming its phase.
   */
  #target(ready = false): NamespaceTarget {
    const record = this.#usable();
    if (ready && record.phase !== "ready") {
      throw new NsnetError(
        `sandbox ${record.name} is not ready (phase ${record.phase})`,
        { hint: `remove it with \`nsnet sandbox rm ${record.name}\`` },
      );
    }
    return {
      netnsPath: record.netnsPath ?? this.path,
      mounts: sandboxMountPlan(record),
      subject: `sandbox ${this.name}`,
      kind: "Sandbox",
    };
  }
}
