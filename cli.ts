/**
 * The nsnet command line. Run it with `deno run --allow-all cli.ts --help`,
 * or as the compiled `nsnet` binary.
 *
 * The full CLI (commander and everything it loads) is imported only when
 * needed: the warm `rootless exec` path, the commands that only read state
 * (`list`, `sandbox ls`, `inspect`) and the top-level `--help` and
 * `--version` run without it, so that their cost is little more than Deno's
 * own startup. Each loads only the modules it uses.
 *
 * @module
 */

import { plainRootlessExec, wantsUserNS } from "./lib/cli/argv.ts";
import { readCommand } from "./lib/cli/read_commands.ts";
import { viaPause } from "./lib/rootless/access.ts";

/**
 * Runs the nsnet CLI with `args` (without the program name) and returns the
 * exit status. Errors are printed as one line to standard error.
 */
export async function main(args: readonly string[]): Promise<number> {
  const command = plainRootlessExec(args);
  if (command !== undefined) {
    const warm = await tryWarmRootlessExec(command);
    if (warm !== undefined) return warm;
  }
  // Real root needs no user namespace: that takes no module to tell.
  if (!isRealRoot() && wantsUserNS(args)) {
    const userns = await import("./lib/rootless/userns.ts");
    if (userns.needsUserNS()) {
      // Unprivileged: run again inside nsnet's user namespace, before loading the full CLI.
      if (args.includes("--debug")) {
        (await import("./lib/log.ts")).setDebug(true);
      }
      try {
        return await userns.reexecInUserNS(args);
      } catch (error) {
        return (await import("./lib/cli/report.ts")).reportError(error);
      }
    }
  }
  const read = readCommand(args);
  if (read !== undefined) return await read();
  const cli = await import("./lib/cli/main.ts");
  return await cli.main(args);
}

/** Whether this process runs as uid 0 (false when Deno may not tell). */
function isRealRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

/** `rootless exec -- CMD` without the full CLI; undefined when that path does not apply. */
async function tryWarmRootlessExec(
  command: readonly string[],
): Promise<number | undefined> {
  const warm = await import("./lib/rootless/warm_exec.ts");
  try {
    if (warm.inNsnetUserNS()) {
      // Inside already (`nsnet unshare`): still no need for the full CLI.
      const run = await import("./lib/rootless/run.ts");
      return await run.execInRootlessNetNS(command);
    }
    if (!warm.needsUserNS()) return undefined;
    const live = warm.livePause();
    if (live !== undefined) {
      // Outside the user namespace: every step reaches it through the pause process.
      const done = await warm.warmRootlessExec(
        viaPause(live),
        command,
        async (access) => {
          const status = await import("./lib/rootless/status.ts");
          await status.releaseRootlessReference({ access });
        },
      );
      if (done !== undefined) return done;
    }
    // Cold, or something to mend. While the pause process starts, what
    // makes namespaces loads and does what needs no user namespace.
    const pause = warm.ensurePause().then((p) => p.pid);
    pause.catch(() => {}); // reported where it is awaited
    const run = await import("./lib/rootless/run.ts");
    return await run.execThroughPause(pause, command);
  } catch (error) {
    const { reportError } = await import("./lib/cli/report.ts");
    return reportError(error);
  }
}

if (import.meta.main) {
  if (Deno.env.get("CNI_COMMAND") !== undefined) {
    // Run by a container runtime as a CNI plugin: only the plugin's code loads.
    const plugin = await import("./lib/cni/plugin/main.ts");
    Deno.exit(await plugin.pluginMain());
  }
  Deno.exit(await main(Deno.args));
}
