/**
 * `nsnet gc`'s process groups: port forwarders (`nsnet sandbox forward
 * NAME`) whose sandbox is gone, and slirp4netns/pasta helpers started for a
 * sandbox (their pid file in its helper dir) whose sandbox is gone. Only the
 * calling user's processes are looked at, and each is stopped through a
 * pidfd after its identity is checked again with the pid pinned, so a pid
 * reused in between is never hit.
 *
 * @module
 */

import {
  close,
  getuid,
  pidfdOpen,
  pidfdSendSignal,
} from "../../ffi/syscalls.ts";
import { NsnetError, SyscallError } from "../errors.ts";
import { nsRunDir } from "../netns/run_dir.ts";
import { processStartTime } from "../process_identity.ts";
import {
  isHelperProcess,
  readPidFile,
  stopHelper,
} from "../rootless/helper_process.ts";
import { readRecord, sandboxDir } from "../sandbox/store.ts";
import { namespaceState, sandboxGone } from "./sandboxes.ts";
import { unmountNS } from "../netns/teardown.ts";
import type { Leftover, LeftoverGroup } from "./types.ts";

function argvOf(pid: number): string[] | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    if (text === "") return undefined; // a kernel thread, or exiting
    return text.replace(/\0$/, "").split("\0");
  } catch {
    return undefined;
  }
}

function ownerOf(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    if (/^State:\s+[ZX]/m.test(status)) return undefined;
    return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
  } catch {
    return undefined;
  }
}

/**
 * The sandbox `argv` forwards for when it is an nsnet port forwarder
 * (`nsnet … sandbox forward NAME`, run by the nsnet binary or by Deno with
 * nsnet's CLI), else undefined.
 */
export function forwarderSandbox(argv: readonly string[]): string | undefined {
  const n = argv.length;
  if (n < 3 || argv[n - 3] !== "sandbox" || argv[n - 2] !== "forward") {
    return undefined;
  }
  const program = argv[0]?.split("/").pop() ?? "";
  const nsnetCli = argv.some((a) => /(^|\/)cli\.(ts|js)$/.test(a));
  if (program !== "nsnet" && !(program.startsWith("deno") && nsnetCli)) {
    return undefined;
  }
  return argv[n - 1];
}

/** Stops `pid` through a pidfd if `stillIt()` holds once the pid is pinned: SIGTERM, then SIGKILL after 2 s. */
async function stopPinned(
  pid: number,
  stillIt: () => boolean,
  what: string,
): Promise<void> {
  let pidfd: number;
  try {
    pidfd = pidfdOpen(pid);
  } catch (error) {
    if (error instanceof SyscallError && error.code === "ESRCH") return;
    throw error;
  }
  try {
    if (!stillIt()) {
      throw new NsnetError(`pid ${pid} is no longer ${what}: left alone`);
    }
    const send = (signal: number): void => {
      try {
        pidfdSendSignal(pidfd, signal);
      } catch (error) {
        if (!(error instanceof SyscallError) || error.code !== "ESRCH") {
          throw error;
        }
      }
    };
    send(15);
    const deadline = Date.now() + 2000;
    while (ownerOf(pid) !== undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    if (ownerOf(pid) !== undefined) send(9);
  } finally {
    close(pidfd);
  }
}

/** Forwarders of this user whose sandbox has no record, or whose record names another forwarder. */
export const forwarderGroup: LeftoverGroup = {
  name: "port forwarders of gone sandboxes",
  find(): Leftover[] {
    const uid = getuid();
    const found: Leftover[] = [];
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const pid = Number(entry.name);
      if (pid === Deno.pid || ownerOf(pid) !== uid) continue;
      const argv = argvOf(pid);
      const name = argv && forwarderSandbox(argv);
      if (name === undefined) continue;
      let record;
      try {
        record = readRecord(name);
      } catch {
        continue; // a damaged record, or a name no sandbox can have
      }
      const replaced = record?.phase === "ready" &&
        record.forwarder !== undefined && record.forwarder.pid !== pid;
      if (record !== undefined && !replaced) continue;
      const start = processStartTime(pid);
      found.push({
        kind: "forwarder",
        name: String(pid),
        detail: record === undefined
          ? `forwards ports of sandbox ${name}, which is gone`
          : `a second forwarder of sandbox ${name} (its record names pid ${
            record.forwarder!.pid
          })`,
        remove: () =>
          stopPinned(
            pid,
            () =>
              processStartTime(pid) === start &&
              forwarderSandbox(argvOf(pid) ?? []) === name,
            `the forwarder of sandbox ${name}`,
          ),
      });
    }
    return found;
  },
};

const HELPERS = ["slirp4netns", "pasta"] as const;

/** The names nsnet gives the namespaces it makes (`randomNSName()`). */
const NSNET_NAME =
  /^netns-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The namespace path on a helper's command line: one in the netns run dir. */
function helperNetns(argv: readonly string[]): string | undefined {
  const dir = `${nsRunDir()}/`;
  for (const arg of argv) {
    const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : arg;
    if (value.startsWith(dir)) return value;
  }
  return undefined;
}

/** Helper dirs (`.NAME.helper`) of sandboxes with no record, with the helper still running from there. */
export const helperGroup: LeftoverGroup = {
  name: "helpers of gone sandboxes",
  find(): Leftover[] {
    const found: Leftover[] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(sandboxDir())];
    } catch {
      return found;
    }
    for (const entry of entries) {
      const m = /^\.(.+)\.helper$/.exec(entry.name);
      if (!entry.isDirectory || m === null || !sandboxGone(m[1]!)) continue;
      const dir = `${sandboxDir()}/${entry.name}`;
      for (const program of HELPERS) {
        const pid = readPidFile(`${dir}/${program}.pid`);
        const argv = pid === undefined ? undefined : argvOf(pid);
        const netnsPath = argv && helperNetns(argv);
        if (pid === undefined || netnsPath === undefined) continue;
        const identity = { program, netnsPath };
        if (!isHelperProcess(pid, identity)) continue;
        found.push({
          kind: "helper",
          name: String(pid),
          detail: `${program} of sandbox ${
            m[1]
          } (pid file ${dir}/${program}.pid), which is gone`,
          async remove(): Promise<void> {
            const outcome = await stopHelper(pid, identity);
            if (outcome === "refused") {
              throw new NsnetError(
                `pid ${pid} is no longer the ${program} of ${netnsPath}: left alone`,
              );
            }
            // The namespace it served was made for that sandbox (helper mode owns its own).
            if (
              NSNET_NAME.test(
                netnsPath.slice(netnsPath.lastIndexOf("/") + 1),
              ) &&
              namespaceState(netnsPath) !== "missing"
            ) {
              unmountNS(netnsPath);
            }
          },
        });
      }
    }
    return found;
  },
};
