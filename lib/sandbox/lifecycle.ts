/**
 * A sandbox's life: created with its own network namespace or an
 * adopted one, configured by its network mode, sharing another's
 * namespace, and torn down so that nothing remains even when a
 * step fails. Every step is recorded first, so that what a killed nsnet
 * left is found and removed by `nsnet sandbox rm`.
 *
 * @module
 */

import {
  NsnetError,
  SandboxExistsError,
  SandboxNotFoundError,
} from "../errors.ts";
import { warn } from "../log.ts";
import { inspectNetNS, type StatusBlock } from "../inspect.ts";
import { getLink, setLink } from "../netlink/link.ts";
import { NetlinkSocket } from "../netlink/socket.ts";
import { adoptProcessNetNS, newNS } from "../netns/create.ts";
import { getNS, type NetNS } from "../netns/netns.ts";
import { unmountNS } from "../netns/teardown.ts";
import { isRootless } from "../rootless/detect.ts";
import type { HelperOptions } from "../rootless/helper_options.ts";
import { writeResolvConf } from "../resolv_conf/files.ts";
import { parseNetworkMode } from "./network_mode.ts";
import {
  listRecords,
  lockSandbox,
  lockSandboxSync,
  readRecord,
  removeRecord,
  sandboxDir,
  validateSandboxName,
  writeRecord,
} from "./store.ts";
import type { PreparedBackend, SandboxRecord } from "./types.ts";
import { checkFault } from "../netns/_faults.ts";
import { processAlive, processStartTime } from "../process_identity.ts";
import {
  spawnForwarderProcess,
  stopForwarderProcess,
} from "./forwarder_process.ts";
import { releaseRootlessReference } from "./rootless_ref.ts";
import { selectBackend } from "./backends/select.ts";
import { preparePortMappings } from "../ports/probe.ts";
import { forwardedInUserspace } from "../ports/forwarder.ts";

export { resolveOwner } from "./backends/join.ts";

/** Options for {@linkcode createSandbox}. */
export interface CreateSandboxOptions {
  /** Its name; default a random `sandbox-xxxxxxxx`. */
  name?: string;
  /** `--network`: a mode or a network name; default `bridge`. */
  network?: string;
  /** Port mappings (`[HOST_IP:]HOST_PORT:SANDBOX_PORT[/PROTO]`). */
  ports?: string[];
  /** DNS servers for its resolv.conf (else the helper's or the host's). */
  dns?: string[];
  /** The backend of a named network: `builtin` (default), `cni` or `netavark`. */
  backend?: string;
  /** Built-in bridge: its IPv4 address (`--ip`); an error if outside the subnet or taken. */
  ip?: string;
  /** Built-in bridge: its interface's MAC address (`--mac`). */
  mac?: string;
  /** Built-in bridge: other names on the network's DNS responder (`--alias`). */
  aliases?: string[];
  /** Options of a slirp4netns or pasta helper (helper mode). */
  helper?: HelperOptions;
  /** The pid of the nsnet process running it (`nsnet run`). */
  runnerPid?: number;
  /**
   * Rootless bridge sandboxes publish ports through a forwarder in the
   * process that runs them: set when the caller starts one (as `nsnet run`
   * does) once the sandbox is made.
   */
  callerForwardsPorts?: boolean;
}

/** The resolv.conf file of a sandbox. */
export function sandboxResolvConf(name: string): string {
  return `${sandboxDir()}/${name}.resolv.conf`;
}

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `sandbox-${
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/**
 * Creates and configures a sandbox; on any failure undoes what was
 * done and raises the error.
 */
export async function createSandbox(
  options: CreateSandboxOptions = {},
): Promise<SandboxRecord> {
  const name = options.name ?? randomName();
  validateSandboxName(name);
  const mode = parseNetworkMode(options.network);
  const ports = options.ports ?? [];
  const rootless = isRootless();
  // A backend that cannot serve the sandbox is a clear error before anything is created.
  const backend = selectBackend(mode, options.backend);
  const prepared = backend.prepare(
    { name, mode, ports, dns: options.dns ?? [], backend: options.backend },
    rootless,
    { helper: options.helper ?? {} },
  );
  // Port conflicts are clear errors before anything is created.
  const mappings = ports.length > 0 ? preparePortMappings(ports) : [];
  using lock = await lockSandbox(name);
  if (readRecord(name) !== undefined) {
    throw new SandboxExistsError(name);
  }
  const record: SandboxRecord = {
    version: 1,
    name,
    mode,
    ports,
    dns: options.dns ?? [],
    created: new Date().toISOString(),
    phase: "creating",
    rootless,
    ownsNetns: false,
    backend: options.backend,
    ...(options.ip === undefined ? {} : { ip: options.ip }),
    ...(options.mac === undefined ? {} : { mac: options.mac }),
    ...(options.aliases === undefined || options.aliases.length === 0
      ? {}
      : { aliases: options.aliases }),
    runnerPid: options.runnerPid,
    runnerStart: options.runnerPid === undefined
      ? undefined
      : processStartTime(options.runnerPid),
  };
  try {
    record.published = mappings;
    await configure(record, prepared);
    // S11: rootless, the port forwarder starts once the backend gave its status.
    const needsForwarder = needsHostForwarder(record);
    if (needsForwarder && !options.callerForwardsPorts) {
      writeRecord(record);
      lock.release(); // the forwarder records itself under this lock
      await spawnForwarderProcess(name);
      await lock.acquireAsync();
      Object.assign(record, readRecord(name));
    }
    record.phase = "ready";
    writeRecord(record);
    return record;
  } catch (error) {
    const teardownError = await teardown(record);
    removeRecord(name);
    if (teardownError !== undefined) {
      warn(`undoing sandbox ${name}: ${(teardownError as Error).message}`);
    }
    throw error;
  }
}

/**
 * Whether the ports of `record` are published by a forwarder on the host
 * side (rootless, on a named network), started by whoever runs the sandbox.
 */
export function needsHostForwarder(record: SandboxRecord): boolean {
  const published = record.published ?? [];
  if (!selectBackend(record.mode, record.backend).hostForwarder) return false;
  // As root the builtin bridge DNATs, except IPv6 host addresses.
  return record.rootless
    ? published.length > 0
    : record.mode.kind === "bridge" &&
      (record.backend ?? "builtin") === "builtin" &&
      published.some(forwardedInUserspace);
}

/**
 * Gives the sandbox its namespace and its network: a joining backend finds
 * the namespace itself; for the others a new one is made and recorded before
 * anything else is done with it, loopback up and resolv.conf written.
 */
async function configure(
  record: SandboxRecord,
  prepared: PreparedBackend,
): Promise<void> {
  if (prepared.namespace === "join") {
    record.status = await prepared.setup(record, undefined);
    return;
  }
  const ns = newNS();
  try {
    record.netnsPath = ns.path;
    record.ownsNetns = true;
    writeRecord(record);
    checkFault("sandbox-after-netns");
    bringLoopbackUp(ns);
    await writeResolvConf(sandboxResolvConf(record.name), {
      nameservers: record.dns.length > 0 ? record.dns : prepared.nameservers,
      keepHostServers: record.dns.length === 0 && !prepared.onlyNameservers,
      ipv6: prepared.ipv6 ?? false,
    });
    record.status = await prepared.setup(record, ns);
    checkFault("sandbox-after-configure");
  } finally {
    ns.close();
  }
}

function bringLoopbackUp(ns: NetNS): void {
  using sock = NetlinkSocket.open(ns);
  const lo = getLink(sock, "lo");
  setLink(sock, lo.index, { up: true });
}

/**
 * Tears down what the record says exists: the backend first (its error
 * remembered, not stopping the rest; a helper-mode backend stops its
 * helper), the forwarder, the rootless reference, then the namespace, which
 * is always unmounted. Returns the first error, if any.
 */
async function teardown(record: SandboxRecord): Promise<unknown> {
  let first: unknown;
  const remember = (error: unknown): void => {
    first ??= error;
  };
  try {
    await selectBackend(record.mode, record.backend).teardown(record);
    // A backend whose teardown fails, having done what it could (S12).
    checkFault("sandbox-teardown-backend");
  } catch (error) {
    remember(error);
  }
  try {
    await stopForwarderProcess(record);
  } catch (error) {
    remember(error);
  }
  try {
    await releaseRootlessReference(record);
  } catch (error) {
    remember(error);
  }
  if (record.ownsNetns && record.netnsPath !== undefined) {
    try {
      unmountNS(record.netnsPath);
    } catch (error) {
      remember(error);
    }
  }
  try {
    Deno.removeSync(sandboxResolvConf(record.name));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) remember(error);
  }
  return first;
}

/**
 * The sandboxes whose `nsnet run` is gone (its pid ended, or now names a
 * process that started later): what {@linkcode removeOrphanedSandboxes}
 * removes, and what `nsnet gc --dry-run` lists.
 */
export function orphanedSandboxes(): SandboxRecord[] {
  return listRecords().filter((record) =>
    record.runnerPid !== undefined &&
    !processAlive(record.runnerPid, record.runnerStart)
  );
}

/**
 * Removes the sandboxes whose `nsnet run` is gone (killed, or its machine's
 * power cut): what the next run cleans up. Returns their names.
 */
export async function removeOrphanedSandboxes(): Promise<string[]> {
  const removed: string[] = [];
  for (const record of orphanedSandboxes()) {
    try {
      await removeSandbox(record.name, { force: true });
      warn(
        `removed sandbox ${record.name}, left by an nsnet run (pid ${record.runnerPid}) that is gone`,
      );
      removed.push(record.name);
    } catch (error) {
      warn(
        `cannot remove sandbox ${record.name} left by a dead nsnet run: ${
          (error as Error).message
        }`,
      );
    }
  }
  return removed;
}

/**
 * Removes sandbox `name` after a step that followed its creation failed with
 * `cause`: that error is the one to raise, so a failure of the removal is
 * only logged.
 */
export async function removeAfterFailure(
  name: string,
  cause: unknown,
): Promise<void> {
  try {
    await removeSandbox(name, { force: true });
  } catch (error) {
    warn(
      `removing sandbox ${name} after ${(cause as Error)?.message ?? cause}: ${
        (error as Error)?.message ?? error
      }`,
    );
  }
}

/** Options for {@linkcode removeSandbox}. */
export interface RemoveSandboxOptions {
  /** Remove it even while other sandboxes share its namespace. */
  force?: boolean;
}

/**
 * Removes a sandbox: everything is torn down and the record removed
 * even when a step fails; the first error is raised afterwards. Works on the
 * remains of a sandbox whose nsnet was killed.
 */
export async function removeSandbox(
  name: string,
  options: RemoveSandboxOptions = {},
): Promise<void> {
  using lock = await lockSandbox(name);
  void lock;
  const record = readRecord(name);
  if (record === undefined) {
    removeRecord(name); // the lock file just made
    throw new SandboxNotFoundError(name);
  }
  const sharers = listRecords().filter((r) =>
    r.owner === name && r.name !== name
  );
  if (sharers.length > 0 && !options.force) {
    throw new NsnetError(
      `sandbox ${name} owns the namespace that ${
        sharers.map((r) => r.name).join(", ")
      } share`,
      { hint: "remove those first, or use --force" },
    );
  }
  record.phase = "removing";
  writeRecord(record);
  const error = await teardown(record);
  removeRecord(name);
  if (error !== undefined) throw error;
}

/**
 * Binds the network namespace of process `pid` as a new sandbox, with
 * no further configuration (mode `none`: the process's own network stays).
 */
export function adoptSandbox(name: string, pid: number): SandboxRecord {
  validateSandboxName(name);
  using lock = lockSandboxSync(name);
  void lock;
  if (readRecord(name) !== undefined) {
    throw new SandboxExistsError(name);
  }
  const ns = adoptProcessNetNS(pid);
  try {
    const record: SandboxRecord = {
      version: 1,
      name,
      mode: { kind: "none" },
      ports: [],
      dns: [],
      created: new Date().toISOString(),
      phase: "ready",
      rootless: isRootless(),
      netnsPath: ns.path,
      ownsNetns: true,
      status: inspectNetNS(ns),
    };
    writeRecord(record);
    return record;
  } catch (error) {
    unmountNS(ns);
    throw error;
  } finally {
    ns.close();
  }
}

/**
 * What `inspect` shows for a sandbox: the backend's status, or, for a
 * joined namespace or when the backend gave none, an inspect of the namespace
 * itself; plus the owner when the namespace is shared.
 */
export function inspectSandbox(name: string): {
  record: SandboxRecord;
  owner: string;
  status: StatusBlock;
} {
  const record = readRecord(name);
  if (record === undefined) {
    throw new SandboxNotFoundError(name);
  }
  if (record.netnsPath === undefined) {
    throw new NsnetError(
      `sandbox ${name} has no network namespace (phase ${record.phase})`,
    );
  }
  const owner = record.owner ?? name;
  if (
    record.status !== undefined &&
    selectBackend(record.mode, record.backend).keepsStatus
  ) {
    return { record, owner, status: record.status };
  }
  using ns = getNS(record.netnsPath);
  return { record, owner, status: inspectNetNS(ns) };
}
