/**
 * pasta (Debian's passt package) as a network helper: the same job as
 * slirp4netns with pasta's own flags. pasta daemonises itself and writes its
 * pid file once the namespace is configured.
 *
 * @module
 */

import { NsnetError } from "../../errors.ts";
import { debug, logHelperOutput } from "../../log.ts";
import { pastaPortArgs } from "../../ports/helper_forwarding.ts";
import { inUserNS, type UserNSAccess } from "../access.ts";
import { isRootless } from "../detect.ts";
import type { ResolvedHelperOptions } from "../helper_options.ts";
import { readPidFile } from "../helper_process.ts";
import {
  type HelperImplementation,
  type StartedHelper,
  TAP_NAME,
} from "./types.ts";

/**
 * pasta's arguments for the namespace at `nsPath`: the same addresses as
 * slirp4netns; ports forwarded only as `portArgs` says (default none).
 */
export function pastaArgs(
  options: ResolvedHelperOptions,
  nsPath: string,
  pidFile: string,
  logFile: string,
  portArgs: readonly string[] = ["--tcp-ports", "none", "--udp-ports", "none"],
): string[] {
  const { addresses } = options;
  const args = [
    "--config-net",
    "--netns",
    nsPath,
    "--netns-only",
    "--pid",
    pidFile,
    "--log-file",
    logFile,
    "--quiet",
    "--mtu",
    String(options.mtu),
    "--ns-ifname",
    TAP_NAME,
    "--address",
    addresses.guest,
    "--netmask",
    String(addresses.prefixLength),
    "--gateway",
    addresses.gateway,
    "--dns-forward",
    addresses.dns,
    // Ports are published per sandbox, never all at once.
    ...portArgs,
    "--tcp-ns",
    "none",
    "--udp-ns",
    "none",
  ];
  // As real root pasta would drop to nobody, who may not enter a root-owned
  // namespace; in a user namespace that drop works and is kept.
  if (!isRootless()) args.push("--runas", "0:0");
  if (!options.ipv6) args.push("--ipv4-only");
  if (!options.allowHostLoopback) args.push("--no-map-gw");
  if (options.outboundAddr) args.push("--outbound", options.outboundAddr);
  if (options.outboundAddr6) args.push("--outbound", options.outboundAddr6);
  return args;
}

/**
 * pasta as a helper driver's implementation: it daemonises itself once the
 * namespace is configured and reports its pid only through a pid file (the
 * driver's, given as `--pid`). Ports are published only as it starts, as
 * `-t`/`-u` arguments: a running pasta takes no new ones.
 */
export const pasta: HelperImplementation = {
  kind: "pasta",
  portsAtStart: true,
  launch(start): Promise<StartedHelper> {
    return runPasta(
      start.options,
      start.access,
      start.netnsPath,
      start.dir,
      start.pidFile,
      start.ports?.length ? pastaPortArgs(start.ports) : undefined,
    );
  },
  forwardPorts(_started, _options, ports): Promise<void> {
    if (ports.length === 0) return Promise.resolve();
    return Promise.reject(
      new NsnetError("a running pasta takes no new ports", {
        hint: "give the ports when the helper starts",
      }),
    );
  },
};

/**
 * Runs pasta for the namespace at `nsPath` with `portArgs` (default: none)
 * and its log in `dir`; resolves with its pid once it has daemonised.
 */
export async function runPasta(
  options: ResolvedHelperOptions,
  access: UserNSAccess,
  nsPath: string,
  dir: string,
  pidFile: string,
  portArgs?: readonly string[],
): Promise<StartedHelper> {
  const log = `${dir}/pasta.log`;
  const args = pastaArgs(options, nsPath, pidFile, log, portArgs);
  debug(`starting ${options.binary} ${args.join(" ")}`);
  try {
    const [program, ...rest] = inUserNS(access, [options.binary, ...args]);
    const out = await new Deno.Command(program!, {
      args: rest,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = readLog(log) + new TextDecoder().decode(out.stderr).trim();
    if (!out.success) {
      throw new NsnetError(
        `pasta failed (exit ${out.code}): ${text || "(no output)"}`,
      );
    }
    logHelperOutput("pasta", text);
    const pid = readPidFile(pidFile);
    if (pid === undefined) {
      throw new NsnetError(`pasta wrote no pid to ${pidFile}`);
    }
    return { pid };
  } finally {
    try {
      Deno.removeSync(log);
    } catch { /* gone */ }
  }
}

function readLog(path: string): string {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return "";
  }
}
