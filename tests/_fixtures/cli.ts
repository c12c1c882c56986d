/**
 * Running one of nsnet's commander commands in-process and reading what it
 * printed.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";

function throwInsteadOfExit(command: CommandUnknownOpts): void {
  command.exitOverride();
  for (const sub of command.commands) throwInsteadOfExit(sub);
}

/**
 * Parses `args` (starting with the command's own name) with `command`, and
 * returns what it wrote with `console.log`, one line per call. A usage error
 * throws instead of ending the test process.
 */
export function cli(
  command: CommandUnknownOpts,
  ...args: string[]
): Promise<string> {
  return runCommands([command], args);
}

/**
 * An in-process `nsnet` with the commands `make` returns (made afresh for
 * each call: commander keeps parsed options on its objects): each call
 * parses its arguments and returns what was printed, as {@linkcode cli}.
 */
export function cliOf(
  make: () => CommandUnknownOpts[],
): (...args: string[]) => Promise<string> {
  return (...args: string[]) => runCommands(make(), args);
}

async function runCommands(
  commands: CommandUnknownOpts[],
  args: string[],
): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]): void => {
    lines.push(parts.map(String).join(" "));
  };
  try {
    const program = new Command("nsnet");
    for (const command of commands) program.addCommand(command);
    throwInsteadOfExit(program);
    await program.parseAsync(args, { from: "user" });
  } finally {
    console.log = log;
  }
  return lines.join("\n");
}
