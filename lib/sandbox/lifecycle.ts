/**
 * A sandbox's life: created with its own network namespace (S9) or an
 * adopted one (S10), configured by its network mode (S11), sharing another's
 * namespace (S12, S13), and torn down so that nothing remains even when a
 * step fails (S12). Every step is recorded first, so that what a killed nsnet
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
import {
  type HelperOptions,
  resolveHelperOptions,
} from "../rootless/helper_options.ts";
import { isHelperProcess, stopHelper } from "../rootless/helper_process.ts";
import { startPasta } from "../rootless/pasta.ts";
import { startSlirp4netns } from "../rootless/slirp4netns.ts";
import { writeResolvConf } from "../resolv_conf/files.ts";
import { parseNetworkMode } from "./mode.ts";
import {
  listRecords,
  lockSandbox,
  readRecord,
  removeRecord,
  sandboxDir,
  validateSandboxName,
  writeRecord,
} from "./store.ts";
import type { NetworkMode, SandboxRecord } from "./types.ts";
import { checkFault } from "../netns/_faults.ts";
import { processAlive, processStartTime } from "../process_identity.ts";
import {
  spawnForwarderProcess,
  stopForwarderProcess,
} from "./forwarder_process.ts";
import { mkfifo, O, openPath } from "../../ffi/syscalls.ts";
import { releaseRootlessReference } from "./rootless_ref.ts";
import { backendNamed } from "./backends.ts";
import { preparePortMappings } from "../ports/probe.ts";
import {
  pastaPortArgs,
  slirp4netnsAddHostFwd,
} from "../ports/helper_forwarding.ts";

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

/**
 * Makes the exit pipe of a helper that must die with this process, and keeps
 * its write side open until the process ends (O_RDWR: opening a pipe's write
 * side alone fails while nobody reads it). Returns its path.
 */
function holdExitPipe(dir: string): string {
  const path = `${dir}/exit`;
  mkfifo(path, 0o600);
  openPath(path, O.RDWR); // deliberately never closed: the process's end closes it
  return path;
}

/** The dir of a sandbox's own helper: its pid file, ready pipe, log, API socket. */
function helperDir(name: string): string {
  return `${sandboxDir()}/.${name}.helper`;
}

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `sandbox-${
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/**
 * The namespace a sandbox uses and the sandbox that owns it, following a
 * chain of `sandbox:NAME` modes to its end (S13).
 */
export function resolveOwner(name: string): { path: string; owner: string } {
  const seen = new Set<string>();
  let current = name;
  for (;;) {
    if (seen.has(current)) {
      throw new NsnetError(
        `sandboxes share namespaces in a loop: ${
          [...seen, current].join(" -> ")
        }`,
      );
    }
    seen.add(current);
    const record = readRecord(current);
    if (record === undefined) {
      throw new SandboxNotFoundError(current);
    }
    if (record.mode.kind !== "sandbox") {
      if (record.netnsPath === undefined || record.phase !== "ready") {
        throw new NsnetError(
          `sandbox ${current} has no network namespace ready to share`,
        );
      }
      return { path: record.netnsPath, owner: current };
    }
    current = record.mode.name;
  }
}

/**
 * Creates and configures a sandbox (S9, S11); on any failure undoes what was
 * done and raises the error.
 */
export async function createSandbox(
  options: CreateSandboxOptions = {},
): Promise<SandboxRecord> {
  const name = options.name ?? randomName();
  validateSandboxName(name);
  const mode = parseNetworkMode(options.network);
  const ports = options.ports ?? [];
  if (
    ports.length > 0 && !["bridge", "slirp4netns", "pasta"].includes(mode.kind)
  ) {
    throw new NsnetError(
      `port mappings need a network of the sandbox's own, not ${options.network}`,
      {
        hint: "drop -p, or use --network bridge, slirp4netns or pasta",
      },
    );
  }
  const helperOptions = mode.kind === "slirp4netns" || mode.kind === "pasta"
    ? resolveHelperOptions({
      ...options.helper,
      helper: mode.kind,
      apiSocket: mode.kind === "slirp4netns" && ports.length > 0,
    })
    : undefined;
  // A backend that cannot serve the network is a clear error before anything is created.
  if (mode.kind === "bridge") {
    backendNamed(options.backend).check(mode.network, isRootless());
  } else if (options.backend !== undefined && options.backend !== "builtin") {
    throw new NsnetError(
      `--backend applies to named networks, not to --network ${options.network}`,
    );
  }
  // Port conflicts are clear errors before anything is created.
  const mappings = ports.length > 0 ? preparePortMappings(ports) : [];
  using lock = lockSandbox(name);
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
    rootless: isRootless(),
    ownsNetns: false,
    backend: options.backend,
    runnerPid: options.runnerPid,
    runnerStart: options.runnerPid === undefined
      ? undefined
      : processStartTime(options.runnerPid),
  };
  try {
    record.published = mappings;
    await configure(record, mode, options.helper ?? {}, helperOptions);
    // S11: rootless, the port forwarder starts once the backend gave its status.
    const needsForwarder = record.rootless && mode.kind === "bridge" &&
      mappings.length > 0;
    if (needsForwarder && !options.callerForwardsPorts) {
      writeRecord(record);
      lock.release(); // the forwarder records itself under this lock
      await spawnForwarderProcess(name);
      lock.acquire();
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

async function configure(
  record: SandboxRecord,
  mode: NetworkMode,
  helperRequest: HelperOptions,
  helperOptions: ReturnType<typeof resolveHelperOptions> | undefined,
): Promise<void> {
  if (mode.kind === "ns") {
    getNS(mode.path).close(); // S12: join an existing namespace by path
    record.netnsPath = mode.path;
    writeRecord(record);
    return;
  }
  if (mode.kind === "sandbox") {
    const { path, owner } = resolveOwner(mode.name);
    record.netnsPath = path;
    record.owner = owner;
    writeRecord(record);
    return;
  }
  // S9: a namespace of its own, recorded before anything else is done with it.
  const ns = newNS();
  try {
    record.netnsPath = ns.path;
    record.ownsNetns = true;
    writeRecord(record);
    checkFault("sandbox-after-netns");
    bringLoopbackUp(ns);
    await writeResolvConf(sandboxResolvConf(record.name), {
      nameservers: record.dns.length > 0
        ? record.dns
        : helperOptions
        ? [helperOptions.addresses.dns]
        : undefined,
      keepHostServers: record.dns.length === 0,
      ipv6: helperOptions?.ipv6 ?? false,
    });
    switch (mode.kind) {
      case "none":
        record.status = inspectNetNS(ns);
        break;
      case "slirp4netns":
      case "pasta": {
        const dir = helperDir(record.name);
        Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const started = mode.kind === "pasta"
          ? await startPasta(
            helperOptions!,
            ns.path,
            dir,
            `${dir}/pasta.pid`,
            record.published?.length
              ? pastaPortArgs(record.published)
              : undefined,
          )
          : await startSlirp4netns(
            helperOptions!,
            ns.path,
            dir,
            undefined,
            record.runnerPid === Deno.pid ? holdExitPipe(dir) : undefined,
          );
        record.helper = {
          program: mode.kind,
          pid: started.pid,
          apiSocket: started.apiSocket,
        };
        writeRecord(record);
        if (started.apiSocket !== undefined) {
          for (const mapping of record.published ?? []) {
            await slirp4netnsAddHostFwd(started.apiSocket, mapping);
          }
        }
        record.status = inspectNetNS(ns);
        break;
      }
      case "bridge":
        record.status = await backendNamed(record.backend).setup(
          record,
          ns,
          mode.network,
          helperRequest,
        );
        break;
    }
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
 * Tears down what the record says exists (S12): the backend first (its error
 * remembered, not stopping the rest), the helper, then the namespace, which
 * is always unmounted. Returns the first error, if any.
 */
async function teardown(record: SandboxRecord): Promise<unknown> {
  let first: unknown;
  const remember = (error: unknown): void => {
    first ??= error;
  };
  try {
    checkFault("sandbox-teardown-backend"); // a backend that fails to tear down
    if (record.mode.kind === "bridge" && record.netnsPath !== undefined) {
      await backendNamed(record.backend).teardown(record, record.mode.network);
    }
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
  if (record.helper !== undefined && record.netnsPath !== undefined) {
    const identity = {
      program: record.helper.program,
      netnsPath: record.netnsPath,
    };
    try {
      if (isHelperProcess(record.helper.pid, identity)) {
        await stopHelper(record.helper.pid, identity);
      }
    } catch (error) {
      remember(error);
    }
  }
  if (record.ownsNetns && record.netnsPath !== undefined) {
    try {
      unmountNS(record.netnsPath);
    } catch (error) {
      remember(error);
    }
  }
  for (const path of [sandboxResolvConf(record.name), helperDir(record.name)]) {
    try {
      Deno.removeSync(path, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) remember(error);
    }
  }
  return first;
}

/**
 * Removes the sandboxes whose `nsnet run` is gone (killed, or its machine's
 * power cut): what the next run cleans up. Returns their names.
 */
export async function removeOrphanedSandboxes(): Promise<string[]> {
  const removed: string[] = [];
  for (const record of listRecords()) {
    if (
      record.runnerPid === undefined ||
      processAlive(record.runnerPid, record.runnerStart)
    ) continue;
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

/** Options for {@linkcode removeSandbox}. */
export interface RemoveSandboxOptions {
  /** Remove it even while other sandboxes share its namespace. */
  force?: boolean;
}

/**
 * Removes a sandbox (S12): everything is torn down and the record removed
 * even when a step fails; the first error is raised afterwards. Works on the
 * remains of a sandbox whose nsnet was killed.
 */
export async function removeSandbox(
  name: string,
  options: RemoveSandboxOptions = {},
): Promise<void> {
  using lock = lockSandbox(name);
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
 * Binds the network namespace of process `pid` as a new sandbox (S10), with
 * no further configuration (mode `none`: the process's own network stays).
 */
export function adoptSandbox(name: string, pid: number): SandboxRecord {
  validateSandboxName(name);
  using lock = lockSandbox(name);
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
 * What `inspect` shows for a sandbox (S15): the backend's status, or, for a
 * joined namespace or when the backend gave none, an inspect of the namespace
 * itself; plus the owner when the namespace is shared (S13).
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
    record.status !== undefined && record.mode.kind !== "sandbox" &&
    record.mode.kind !== "ns"
  ) {
    return { record, owner, status: record.status };
  }
  using ns = getNS(record.netnsPath);
  return { record, owner, status: inspectNetNS(ns) };
}
