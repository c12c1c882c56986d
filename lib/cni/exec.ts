/**
 * Running one CNI plugin (specification 1.0.0, "Execution protocol"): the
 * `CNI_*` environment, the config on standard input, the result (or the
 * error object) on standard output.
 *
 * How the plugin process is started is injectable: rootless, plugins must run
 * inside the shared rootless namespace with its mounts, which
 * `RootlessNetNS.spawn()` does and whose signature {@linkcode CniSpawner}
 * matches.
 *
 * @module
 */

import { pathWithSbin } from "../rootless/inside.ts";
import { CniPluginError } from "./errors.ts";

/** The operations a plugin implements. */
export type CniCommand = "ADD" | "DEL" | "CHECK" | "VERSION";

/** What a {@linkcode CniSpawner} is asked for. */
export interface CniSpawnOptions {
  /** Variables to set on top of the inherited environment. */
  env: Record<string, string>;
  /** Always piped: the config goes in. */
  stdin: "piped";
  /** Always piped: the result comes out. */
  stdout: "piped";
  /** Always piped: kept for the error. */
  stderr: "piped";
}

/** Starts a plugin process: `command[0]` is the binary, the rest its arguments. */
export type CniSpawner = (
  command: readonly string[],
  options: CniSpawnOptions,
) => Deno.ChildProcess;

/** Runs the plugin directly, in the caller's namespaces (as root). */
export function directSpawner(
  command: readonly string[],
  options: CniSpawnOptions,
): Deno.ChildProcess {
  return new Deno.Command(command[0]!, {
    args: command.slice(1),
    env: options.env,
    stdin: options.stdin,
    stdout: options.stdout,
    stderr: options.stderr,
  }).spawn();
}

/** One plugin invocation. */
export interface CniInvocation {
  /** The plugin binary. */
  binary: string;
  /** The plugin type, for messages (default: the binary's base name). */
  plugin?: string;
  /** The operation. */
  command: CniCommand;
  /** CNI_CONTAINERID. */
  containerId: string;
  /** CNI_NETNS (may be empty for DEL when the namespace is gone). */
  netns: string;
  /** CNI_IFNAME. */
  ifname: string;
  /** CNI_ARGS, already joined (`K=V;K=V`). */
  args: string;
  /** CNI_PATH directories. */
  cniPath: readonly string[];
  /** The config written to standard input. */
  config: Record<string, unknown>;
  /** How to start the process (default {@linkcode directSpawner}). */
  spawn?: CniSpawner;
  /** Kill the plugin after this many milliseconds (default 60 000). */
  timeoutMs?: number;
}

/** The environment the specification requires for `invocation`. */
export function pluginEnv(invocation: CniInvocation): Record<string, string> {
  return {
    // Plugins look up iptables, ip and friends on PATH.
    PATH: pathWithSbin(),
    CNI_COMMAND: invocation.command,
    CNI_CONTAINERID: invocation.containerId,
    CNI_NETNS: invocation.netns,
    CNI_IFNAME: invocation.ifname,
    CNI_ARGS: invocation.args,
    CNI_PATH: invocation.cniPath.join(":"),
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The error a failed plugin reported, or one made from its exit status and standard error. */
function failure(
  plugin: string,
  command: CniCommand,
  status: Deno.CommandStatus,
  stdout: string,
  stderr: string,
): CniPluginError {
  try {
    const value: unknown = JSON.parse(stdout);
    if (
      isObject(value) && typeof value.code === "number" &&
      typeof value.msg === "string"
    ) {
      return new CniPluginError(plugin, command, {
        code: value.code,
        msg: value.msg,
        details: typeof value.details === "string" && value.details !== ""
          ? value.details
          : undefined,
      }, stderr);
    }
  } catch {
    // not an error object: described below
  }
  const how = status.signal === null
    ? `exited ${status.code}`
    : `was killed by ${status.signal}`;
  const said = (stderr.trim() || stdout.trim()).slice(0, 2000);
  return new CniPluginError(plugin, command, {
    code: 999,
    msg: `${how} without an error object${said ? `: ${said}` : ""}`,
  }, stderr);
}

/**
 * Runs one plugin. Returns what it wrote to standard output, parsed as JSON
 * (ADD's result, VERSION's answer), or undefined when it wrote nothing
 * (DEL, CHECK). A failure raises {@linkcode CniPluginError} carrying the
 * plugin's code, msg and details.
 */
export async function execPlugin(
  invocation: CniInvocation,
): Promise<unknown> {
  const plugin = invocation.plugin ??
    invocation.binary.slice(invocation.binary.lastIndexOf("/") + 1);
  const spawn = invocation.spawn ?? directSpawner;
  const child = spawn([invocation.binary], {
    env: pluginEnv(invocation),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, invocation.timeoutMs ?? 60_000);
  try {
    const writer = child.stdin.getWriter();
    const input = new TextEncoder().encode(JSON.stringify(invocation.config));
    // A plugin may exit before reading its input; that is its status to report.
    await writer.write(input).catch(() => {});
    await writer.close().catch(() => {});
    const out = await child.output();
    const decoder = new TextDecoder();
    const stdout = decoder.decode(out.stdout);
    const stderr = decoder.decode(out.stderr);
    if (!out.success) {
      throw failure(plugin, invocation.command, out, stdout, stderr);
    }
    if (stdout.trim() === "") return undefined;
    try {
      return JSON.parse(stdout);
    } catch {
      throw new CniPluginError(plugin, invocation.command, {
        code: 999,
        msg: `wrote output that is not JSON: ${stdout.slice(0, 200)}`,
      }, stderr);
    }
  } finally {
    clearTimeout(timer);
  }
}
