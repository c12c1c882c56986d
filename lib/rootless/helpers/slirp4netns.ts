/**
 * slirp4netns as the rootless namespace's helper: arguments from the
 * options and from what the binary's `--help` lists, a start in its own
 * session with readiness reported on a pipe, and its log kept for errors.
 *
 * @module
 */

import { close, mkfifo, O, openPath, readFd } from "../../../ffi/syscalls.ts";
import { NsnetError } from "../../errors.ts";
import { debug, logHelperOutput } from "../../log.ts";
import { writeFileAtomicSync } from "../../fs.ts";
import { getEnv } from "../../env.ts";
import type { PortMapping } from "../../ports/spec.ts";
import { slirp4netnsAddHostFwd } from "../../ports/helper_forwarding.ts";
import { inUserNS } from "../access.ts";
import { isRootless } from "../detect.ts";
import type { ResolvedHelperOptions } from "../helper_options.ts";
import {
  type HelperImplementation,
  type HelperStartOptions,
  type StartedHelper,
  TAP_NAME,
} from "./types.ts";

const featureCache = new Map<string, ReadonlySet<string>>();

/**
 * The long options the slirp4netns at `binary` lists in its `--help`. Cached
 * in memory, and rootless also in the user's cache dir (keyed by the
 * binary's identity and mtime, so an upgrade is noticed): a cold `rootless
 * exec` need not run it.
 */
export function slirp4netnsFeatures(binary: string): ReadonlySet<string> {
  let features = featureCache.get(binary);
  if (features !== undefined) return features;
  const disk = diskCache(binary);
  if (disk !== undefined) {
    try {
      const saved = JSON.parse(Deno.readTextFileSync(disk.path));
      if (saved.key === disk.key && Array.isArray(saved.features)) {
        features = new Set(saved.features.map(String));
      }
    } catch { /* none yet, or unreadable: ask the binary */ }
  }
  if (features === undefined) {
    const out = new Deno.Command(binary, {
      args: ["--help"],
      stdout: "piped",
      stderr: "piped",
    })
      .outputSync();
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    features = new Set(text.match(/--[a-z0-9-]+/g) ?? []);
    if (disk !== undefined) {
      try {
        Deno.mkdirSync(disk.path.slice(0, disk.path.lastIndexOf("/")), {
          recursive: true,
          mode: 0o700,
        });
        writeFileAtomicSync(
          disk.path,
          JSON.stringify({ key: disk.key, features: [...features] }) + "\n",
          0o600,
          { durable: false },
        );
      } catch { /* only a cache */ }
    }
  }
  featureCache.set(binary, features);
  return features;
}

function diskCache(
  binary: string,
): { path: string; key: string } | undefined {
  try {
    if (!isRootless()) return undefined;
    const st = Deno.statSync(binary);
    const home = getEnv("HOME");
    const cache = getEnv("XDG_CACHE_HOME") ??
      (home ? `${home}/.cache` : undefined);
    if (cache === undefined) return undefined;
    return {
      path: `${cache}/nsnet/slirp4netns-features.json`,
      key: `${binary} ${st.dev}:${st.ino} ${st.size} ${st.mtime?.getTime()}`,
    };
  } catch {
    return undefined;
  }
}

/**
 * slirp4netns's arguments: `-c -r 3` (configure, ready fd), the option flags
 * the binary supports, `--netns-type=path NSPATH tap0`. Asking for a feature
 * the binary lacks is an error; defaults it lacks are left out.
 */
export function slirp4netnsArgs(
  options: ResolvedHelperOptions,
  features: ReadonlySet<string>,
  nsPath: string,
  apiSocketPath?: string,
): string[] {
  const args: string[] = [];
  const want = (flag: string, asked: boolean, value?: string): void => {
    if (!features.has(flag)) {
      if (asked) {
        throw new NsnetError(`this slirp4netns does not support ${flag}`, {
          hint: "upgrade slirp4netns, or leave the option out",
        });
      }
      return;
    }
    args.push(value === undefined ? flag : `${flag}=${value}`);
  };
  if (!options.allowHostLoopback) want("--disable-host-loopback", false);
  want("--mtu", options.mtu !== 65520, String(options.mtu));
  if (options.sandbox) want("--enable-sandbox", true);
  if (options.seccomp) want("--enable-seccomp", true);
  if (options.cidr !== "10.0.2.0/24") {
    want("--cidr", true, options.addresses.cidr);
  }
  if (options.ipv6) want("--enable-ipv6", true);
  if (options.outboundAddr) want("--outbound-addr", true, options.outboundAddr);
  if (options.outboundAddr6) {
    want("--outbound-addr6", true, options.outboundAddr6);
  }
  if (apiSocketPath !== undefined) want("--api-socket", true, apiSocketPath);
  return ["-c", "-r", "3", ...args, "--netns-type=path", nsPath, TAP_NAME];
}

/**
 * slirp4netns as a helper driver's implementation: started in its own
 * session with its output in a log under `dir`, ready when it says so on the
 * ready pipe; ports published through its API socket (`add_hostfwd`), which
 * is opened whenever ports are asked for.
 */
export const slirp4netns: HelperImplementation = {
  kind: "slirp4netns",
  portsAtStart: false,
  launch(start): Promise<StartedHelper> {
    const wantsApi = start.options.apiSocket || (start.ports?.length ?? 0) > 0;
    return launchSlirp4netns(start, wantsApi);
  },
  async forwardPorts(started, options, ports): Promise<void> {
    if (started.apiSocket === undefined) {
      throw new NsnetError(
        "slirp4netns was started without an API socket: it cannot publish ports",
        { hint: "start it with apiSocket: true, or with the ports" },
      );
    }
    for (const mapping of ports) {
      await addHostFwd(started.apiSocket, mapping, options);
    }
  },
};

function addHostFwd(
  apiSocket: string,
  mapping: PortMapping,
  options: ResolvedHelperOptions,
): Promise<number> {
  return slirp4netnsAddHostFwd(apiSocket, mapping, {
    guestAddr: options.addresses.guest,
  });
}

/**
 * Starts slirp4netns for the namespace at `start.netnsPath`, in its own
 * session, with its output in a log under `start.dir`. Resolves once it
 * reports ready on the ready pipe; fails, quoting its log, if it exits or is
 * not ready in time.
 */
async function launchSlirp4netns(
  start: HelperStartOptions & Required<Pick<HelperStartOptions, "access">>,
  wantsApi: boolean,
): Promise<StartedHelper> {
  const { options, dir, access, readyTimeoutMs = 1000 } = start;
  const exitFifo = start.exitPipe;
  const apiSocket = wantsApi ? `${dir}/slirp4netns.sock` : undefined;
  const args = slirp4netnsArgs(
    options,
    slirp4netnsFeatures(options.binary),
    start.netnsPath,
    apiSocket,
  );
  // -e 4: slirp4netns ends when fd 4 reads end-of-file, i.e. when the last
  // holder of the exit pipe's write side (the process running the sandbox) is gone.
  if (exitFifo !== undefined) args.unshift("-e", "4");
  const ready = `${dir}/slirp4netns.ready`;
  const log = `${dir}/slirp4netns.log`;
  for (const path of [ready, log]) {
    try {
      Deno.removeSync(path);
    } catch { /* not there */ }
  }
  mkfifo(ready, 0o600);
  // Non-blocking: the open succeeds before the writer exists, and reads never hang.
  const readyFd = openPath(ready, O.RDONLY | O.NONBLOCK);
  let child: Deno.ChildProcess | undefined;
  try {
    debug(`starting ${options.binary} ${args.join(" ")}`);
    // setsid: its own session and process group. The shell only sets up the
    // log and the ready fd, then becomes slirp4netns (same pid).
    child = new Deno.Command("setsid", {
      args: [
        "sh",
        "-c",
        exitFifo === undefined
          ? 'exec "$0" "$@" >"$NSNET_LOG" 2>&1 3>"$NSNET_READY"'
          : 'exec "$0" "$@" >"$NSNET_LOG" 2>&1 3>"$NSNET_READY" 4<"$NSNET_EXIT"',
        ...inUserNS(access, [options.binary, ...args]),
      ],
      env: { NSNET_LOG: log, NSNET_READY: ready, NSNET_EXIT: exitFifo ?? "" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const exited = child.status.then((s) => s);
    let exitStatus: Deno.CommandStatus | undefined;
    exited.then((s) => exitStatus = s);
    const buffer = new Uint8Array(1);
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      const n = readFd(readyFd, buffer);
      if (n === 1) break;
      if (exitStatus !== undefined) {
        throw new NsnetError(
          `slirp4netns failed (exit ${exitStatus.code}): ${readLog(log)}`,
          {
            hint: hintFor(readLog(log)),
          },
        );
      }
      if (Date.now() >= deadline) {
        child.kill("SIGKILL");
        await exited;
        throw new NsnetError(
          `slirp4netns was not ready within ${readyTimeoutMs} ms: ${
            readLog(log)
          }`,
        );
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    logHelperOutput("slirp4netns", readLog(log));
    child.unref();
    return { pid: child.pid, apiSocket };
  } finally {
    close(readyFd);
    for (const path of [ready, log]) {
      try {
        Deno.removeSync(path); // the helper keeps writing to its open log
      } catch { /* gone */ }
    }
  }
}

function readLog(path: string): string {
  try {
    return Deno.readTextFileSync(path).trim() || "(no output)";
  } catch {
    return "(no log)";
  }
}

function hintFor(log: string): string | undefined {
  if (log.includes("/dev/net/tun")) {
    return "slirp4netns cannot open /dev/net/tun: it must be readable and writable by you (mode 0666, as distributions ship it)";
  }
  return undefined;
}
