/**
 * The nsnet command line. Run it with `deno run --allow-all cli.ts --help`,
 * or as the compiled `nsnet` binary.
 *
 * The full CLI (commander and everything it loads) is imported only when
 * needed: the warm `rootless exec` path runs without it, so that its cost
 * is little more than Deno's own startup.
 *
 * @module
 */

/**
 * Runs the nsnet CLI with `args` (without the program name) and returns the
 * exit status. Errors are printed as one line to standard error.
 */
export async function main(args: readonly string[]): Promise<number> {
  const warm = await tryWarmRootlessExec(args);
  if (warm !== undefined) return warm;
  const userns = await import("./lib/rootless/userns.ts");
  if (userns.needsUserNS() && userns.wantsUserNS(args)) {
    // Unprivileged: run again inside nsnet's user namespace, before loading the full CLI.
    if (args.includes("--debug")) (await import("./lib/log.ts")).setDebug(true);
    try {
      return await userns.reexecInUserNS(args);
    } catch (error) {
      return (await import("./lib/cli/report.ts")).reportError(error);
    }
  }
  const cli = await import("./lib/cli/main.ts");
  return await cli.main(args);
}

async function tryWarmRootlessExec(
  args: readonly string[],
): Promise<number | undefined> {
  if (args[0] !== "rootless" || args[1] !== "exec") return undefined;
  const warm = await import("./lib/rootless/warm_exec.ts");
  const command = warm.plainRootlessExec(args);
  if (command === undefined) return undefined;
  try {
    if (warm.inNsnetUserNS()) {
      // Inside already (`nsnet unshare`): still no need for the full CLI.
      const run = await import("./lib/rootless/run.ts");
      return await run.execInRootlessNetNS(command);
    }
    if (!warm.needsUserNS()) return undefined;
    const done = await warm.warmRootlessExec(command, async (pause) => {
      const run = await import("./lib/rootless/run.ts");
      await run.releaseThroughPause(pause);
    });
    if (done !== undefined) return done;
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
  Deno.exit(await main(Deno.args));
}
