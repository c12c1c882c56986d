/**
 * Running a command inside a network namespace and passing its exit status
 * (and the signals nsnet receives) through.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import { getNS, threadCanReturn } from "../netns/netns.ts";
import { waitForwardingSignals } from "../child.ts";
import { EXIT } from "./output.ts";

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
      child = threadCanReturn()
        ? ns.run(() =>
          new Deno.Command(program, { args, stdin: "inherit" }).spawn()
        )
        : spawnWithNsenter(path, program, args);
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
  return await waitForwardingSignals(child);
}

/**
 * Rootless in the host's namespace this thread could enter but not leave, so
 * the child enters by itself: `nsenter --net=PATH` (127/126 as a shell would).
 */
function spawnWithNsenter(
  path: string,
  program: string,
  args: readonly string[],
): Deno.ChildProcess {
  return new Deno.Command("nsenter", {
    args: [`--net=${path}`, "--", program, ...args],
    stdin: "inherit",
  }).spawn();
}
