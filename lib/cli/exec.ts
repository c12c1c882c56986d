/**
 * Running a command inside a network namespace and passing its exit status
 * (and the signals nsnet receives) through.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import { getNS } from "../netns/netns.ts";
import { EXIT } from "./output.ts";

const FORWARDED: readonly Deno.Signal[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
];

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGTERM: 15,
};

/**
 * Spawns `command` with the network namespace at `path` (stdio inherited),
 * forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT to it, and returns its exit status:
 * its code, or 128 + the signal that ended it; 127 when not found, 126 when
 * not executable, as shells do.
 */
export async function runInNamespace(
  path: string,
  command: readonly string[],
): Promise<number> {
  // commander keeps the `--` that separates nsnet's arguments from the command's.
  const [program, ...args] = command[0] === "--" ? command.slice(1) : command;
  if (program === undefined) {
    throw new NsnetError("no command given", {
      hint: "put the command after --",
    });
  }
  let child: Deno.ChildProcess;
  {
    using ns = getNS(path);
    try {
      child = ns.run(() =>
        new Deno.Command(program, { args, stdin: "inherit" }).spawn()
      );
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        console.error(`nsnet: ${program}: command not found`);
        return EXIT.NOT_FOUND;
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        console.error(`nsnet: ${program}: permission denied`);
        return EXIT.NOT_EXECUTABLE;
      }
      throw error;
    }
  }
  const forwarders = FORWARDED.map((signal) => {
    const forward = (): void => {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
    };
    Deno.addSignalListener(signal, forward);
    return () => Deno.removeSignalListener(signal, forward);
  });
  try {
    const status = await child.status;
    if (status.signal !== null) {
      return 128 + (SIGNAL_NUMBERS[status.signal] ?? 0);
    }
    return status.code;
  } finally {
    for (const remove of forwarders) remove();
  }
}
