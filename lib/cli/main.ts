/**
 * The nsnet command line: the program, its global options, and the one place
 * where errors become a one-line message and an exit status.
 *
 * @module
 */

import {
  Command,
  CommanderError,
  type CommandUnknownOpts,
} from "@commander-js/extra-typings";
import { getEnv } from "../env.ts";
import { setDebug } from "../log.ts";
import { netnsCommands } from "./netns.ts";
import { unshareCommand } from "./unshare.ts";
import { resolvCommand } from "./resolv.ts";
import { rootlessCommand } from "./rootless.ts";
import { runCommand, sandboxCommand } from "./sandbox.ts";
import { networkCommand } from "./network.ts";
import { inspectCommand } from "./inspect.ts";
import { statsCommand } from "./stats.ts";
import { linkCommand } from "./link.ts";
import { addrCommand } from "./addr.ts";
import { routeCommand } from "./route.ts";
import { ruleCommand } from "./rule.ts";
import { neighCommand } from "./neigh.ts";
import { monitorCommand } from "./monitor.ts";
import { classCommand, qdiscCommand } from "./qdisc.ts";
import { filterCommand } from "./filter.ts";
import { cniCommand } from "./cni.ts";
import { labCommand } from "./lab.ts";
import { doctorCommand } from "./doctor.ts";
import { gcCommand } from "./gc.ts";
import { needsUserNS, reexecInUserNS } from "../rootless/userns.ts";
import { wantsUserNS } from "./argv.ts";
import { EXIT } from "./output.ts";
import { reportError as reportNsnetError } from "./report.ts";
import { VERSION } from "../version.ts";

export { VERSION };

function buildProgram(): Command {
  const program = new Command("nsnet")
    .description(
      "Linux network namespaces, root and rootless: make, enter, inspect and remove them.",
    )
    .version(VERSION)
    .option(
      "--debug",
      "log what nsnet does (and helper output) to standard error",
    )
    .enablePositionalOptions()
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) })
    .addHelpText(
      "after",
      `
Exit status: 0 success, 1 failure (the message says why), 2 bad usage;
exec and run pass the command's status through, 125 when nsnet failed first,
126 when the command could not be run, 127 when it was not found.`,
    );
  program.hook("preAction", (cmd) => {
    if (cmd.opts().debug || getEnv("NSNET_DEBUG") === "1") setDebug(true);
  });
  for (const command of netnsCommands()) program.addCommand(command);
  program.addCommand(unshareCommand());
  program.addCommand(resolvCommand());
  program.addCommand(rootlessCommand());
  program.addCommand(runCommand());
  program.addCommand(sandboxCommand());
  program.addCommand(networkCommand());
  program.addCommand(labCommand());
  program.addCommand(doctorCommand());
  program.addCommand(gcCommand());
  for (
    const command of [
      inspectCommand(),
      statsCommand(),
      linkCommand(),
      addrCommand(),
      routeCommand(),
      ruleCommand(),
      neighCommand(),
      monitorCommand(),
      qdiscCommand(),
      classCommand(),
      filterCommand(),
      cniCommand(),
    ]
  ) {
    program.addCommand(command);
  }
  inheritErrorHandling(program);
  return program;
}

/** Makes every subcommand throw instead of exiting, as `addCommand` does not pass that on. */
function inheritErrorHandling(command: CommandUnknownOpts): void {
  for (const sub of command.commands) {
    sub.exitOverride()
      .showHelpAfterError("(run with --help for usage)")
      .configureOutput({ outputError: (text, write) => write(text) });
    inheritErrorHandling(sub);
  }
}

/**
 * Runs the nsnet CLI with `args` (without the program name) and returns the
 * exit status. Errors are printed as one line to standard error.
 */
export async function main(args: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    if (needsUserNS() && wantsUserNS(args)) { // only when main() is called directly
      if (args.includes("--debug") || getEnv("NSNET_DEBUG") === "1") {
        setDebug(true);
      }
      return await reexecInUserNS(args);
    }
    await program.parseAsync([...args], { from: "user" });
    return EXIT.OK;
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    const quiet = [
      "commander.helpDisplayed",
      "commander.version",
      "commander.help",
    ];
    return quiet.includes(error.code) ? EXIT.OK : EXIT.USAGE;
  }
  return reportNsnetError(error);
}
