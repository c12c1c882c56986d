/**
 * Helper mode (`--network slirp4netns` or `pasta`): the sandbox's own
 * namespace gets a user-mode network helper of its own, as Podman's
 * rootless default, started by the one helper driver; published ports go
 * through the helper (slirp4netns's API socket, pasta's own arguments).
 *
 * @module
 */

import { inspectNetNS } from "../../inspect.ts";
import type { NetNS } from "../../netns/netns.ts";
import {
  type HelperKind,
  type ResolvedHelperOptions,
  resolveHelperOptions,
} from "../../rootless/helper_options.ts";
import {
  isHelperProcess,
  readPidFile,
  stopHelper,
} from "../../rootless/helper_process.ts";
import { helperDriver } from "../../rootless/helpers/driver.ts";
import { close, mkfifo, O, openPath } from "../../../ffi/syscalls.ts";
import { sandboxDir, writeRecord } from "../store.ts";
import type {
  BackendOptions,
  NetworkBackend,
  PreparedBackend,
  SandboxConfig,
  SandboxRecord,
} from "../types.ts";

/** The dir of a sandbox's own helper: its pid file, ready pipe, log, API socket. */
function helperDir(name: string): string {
  return `${sandboxDir()}/.${name}.helper`;
}

/**
 * The write sides of the exit pipes this process holds, by sandbox: open
 * until the sandbox is torn down, or until the process ends (killed, the
 * kernel closes them, and the helper sees its pipe close and exits).
 */
const exitPipes = new Map<string, number>();

/**
 * Makes the exit pipe of a helper that must die with this process, and keeps
 * its write side open (O_RDWR: opening a pipe's write side alone fails while
 * nobody reads it). Returns its path.
 */
function holdExitPipe(name: string, dir: string): string {
  const path = `${dir}/exit`;
  mkfifo(path, 0o600);
  exitPipes.set(name, openPath(path, O.RDWR));
  return path;
}

/** Closes the exit pipe held for sandbox `name`, if this process holds one. */
function releaseExitPipe(name: string): void {
  const fd = exitPipes.get(name);
  if (fd === undefined) return;
  exitPipes.delete(name);
  close(fd);
}

async function setup(
  program: HelperKind,
  options: ResolvedHelperOptions,
  record: SandboxRecord,
  ns: NetNS,
): Promise<ReturnType<typeof inspectNetNS>> {
  const dir = helperDir(record.name);
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // The one helper driver: pasta takes the ports as arguments, slirp4netns
  // through its API socket once ready; a failure leaves no helper running.
  const helper = await helperDriver(program).start({
    netnsPath: ns.path,
    dir,
    options,
    // A helper of `nsnet run` dies with its process (slirp4netns only).
    exitPipe: program === "slirp4netns" && record.runnerPid === Deno.pid
      ? holdExitPipe(record.name, dir)
      : undefined,
    ports: record.published ?? [],
  });
  record.helper = { program, pid: helper.pid, apiSocket: helper.apiSocket };
  writeRecord(record);
  return inspectNetNS(ns);
}

function helperBackend(program: HelperKind): NetworkBackend {
  return {
    name: program,
    hostForwarder: false,
    keepsStatus: true,
    // The helper maps its gateway address to the host's loopback.
    hostLoopbackPath: (_record, gateway) => ({
      dial: gateway,
      via: `the ${program} gateway ${gateway}`,
      throughBridge: false,
    }),
    prepare(
      config: SandboxConfig,
      _rootless: boolean,
      backendOptions: BackendOptions,
    ): PreparedBackend {
      const options = resolveHelperOptions({
        ...backendOptions.helper,
        helper: program,
        apiSocket: program === "slirp4netns" && config.ports.length > 0,
      });
      return {
        namespace: "own",
        nameservers: [options.addresses.dns],
        ipv6: options.ipv6,
        setup: (record, ns) => setup(program, options, record, ns!),
      };
    },
    async teardown(record: SandboxRecord): Promise<void> {
      let first: unknown;
      // A crash after the helper started but before the record said so
      // leaves only its pid file: identity-checked, that one is stopped too.
      const pid = record.helper?.pid ??
        readPidFile(`${helperDir(record.name)}/${program}.pid`);
      if (pid !== undefined && record.netnsPath !== undefined) {
        const identity = { program, netnsPath: record.netnsPath };
        try {
          if (isHelperProcess(pid, identity)) await stopHelper(pid, identity);
        } catch (error) {
          first = error;
        }
      }
      releaseExitPipe(record.name);
      try {
        Deno.removeSync(helperDir(record.name), { recursive: true });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) first ??= error;
      }
      if (first !== undefined) throw first;
    },
  };
}

/** The slirp4netns helper backend. */
export const slirp4netnsBackend: NetworkBackend = helperBackend("slirp4netns");
/** The pasta helper backend. */
export const pastaBackend: NetworkBackend = helperBackend("pasta");
