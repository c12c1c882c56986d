/**
 * nsnet as a CNI plugin (type `nsnet`): the entry point a runtime reaches
 * when it executes nsnet with `CNI_COMMAND` set. It reads the `CNI_*`
 * environment and the network config on standard input, runs the verb, and
 * writes the result (ADD, VERSION) or the specification's error object to
 * standard output, with exit status 0 or 1. It loads only the plugin's own
 * modules, so that a verb costs little more than Deno's start.
 *
 * @example A runtime's view: VERSION
 * ```sh
 * echo '{"cniVersion":"1.1.0"}' | CNI_COMMAND=VERSION nsnet
 * # {"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}
 * ```
 *
 * @module
 */

import {
  type CniEnv,
  decodeConfig,
  LATEST_VERSION,
  parseEnv,
} from "./config.ts";
import { bindLibcSymbols } from "../../../ffi/libc.ts";
import { asCniError } from "./errors.ts";
import {
  cmdAdd,
  cmdCheck,
  cmdDel,
  cmdGc,
  cmdStatus,
  cmdVersion,
  type Invocation,
} from "./verbs.ts";

/** What one plugin run produced. */
export interface PluginOutput {
  /** The exit status. */
  code: number;
  /** What goes to standard output ("" for none). */
  stdout: string;
}

/**
 * Runs one verb with the environment `processEnv` and `stdin` as the
 * config; returns the exit status and standard output.
 */
export async function runPlugin(
  processEnv: Record<string, string>,
  stdin: string,
): Promise<PluginOutput> {
  let version = LATEST_VERSION;
  try {
    const env: CniEnv = parseEnv((name) => processEnv[name]);
    if (env.command === "VERSION") {
      const raw = stdin.trim() === "" ? {} : decodeConfig(stdin);
      return { code: 0, stdout: JSON.stringify(cmdVersion(raw)) + "\n" };
    }
    const raw = decodeConfig(stdin);
    if (typeof raw.cniVersion === "string" && raw.cniVersion !== "") {
      version = raw.cniVersion;
    }
    // The system calls every verb makes, bound in one dlopen instead of one each.
    bindLibcSymbols([
      "statfs",
      "open",
      "ioctl",
      "fstat",
      "setns",
      "socket",
      "bind",
      "getsockname",
      "setsockopt",
      "sendto",
      "recv",
      "close",
      "flock",
    ]);
    const inv: Invocation = { env, raw, processEnv };
    switch (env.command) {
      case "ADD":
        return { code: 0, stdout: JSON.stringify(await cmdAdd(inv)) + "\n" };
      case "DEL":
        await cmdDel(inv);
        break;
      case "CHECK":
        await cmdCheck(inv);
        break;
      case "STATUS":
        await cmdStatus(inv);
        break;
      case "GC":
        await cmdGc(inv);
        break;
    }
    return { code: 0, stdout: "" };
  } catch (error) {
    const cni = asCniError(error);
    return {
      code: 1,
      stdout: JSON.stringify(cni.toObject(version)) + "\n",
    };
  }
}

/** All of standard input, read synchronously (a stream costs milliseconds to set up). */
function readStdin(): string {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  for (;;) {
    const n = Deno.stdin.readSync(buffer);
    if (n === null || n === 0) break;
    chunks.push(buffer.slice(0, n));
  }
  const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return new TextDecoder().decode(all);
}

/** The plugin program: standard input, environment and output of this process. */
export async function pluginMain(): Promise<number> {
  const stdin = readStdin();
  const out = await runPlugin(Deno.env.toObject(), stdin);
  if (out.stdout !== "") {
    const bytes = new TextEncoder().encode(out.stdout);
    let written = 0;
    while (written < bytes.length) {
      written += Deno.stdout.writeSync(bytes.subarray(written));
    }
  }
  if (out.code !== 0) {
    try {
      const error = JSON.parse(out.stdout) as { msg: string; details?: string };
      console.error(
        `nsnet cni: ${error.msg}${error.details ? `: ${error.details}` : ""}`,
      );
    } catch { /* nothing more to say */ }
  }
  return out.code;
}
