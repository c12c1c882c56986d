/**
 * `nsnet unshare [-- CMD]`: a command (the user's shell by default) inside
 * nsnet's user and mount namespaces, as `podman unshare` does.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { waitForwardingSignals } from "../child.ts";
import { getEnv } from "../env.ts";
import { EXIT, ExitRequest } from "./output.ts";

/** The `unshare` command. */
export function unshareCommand(): CommandUnknownOpts {
  return new Command("unshare")
    .description(
      "run a command (default: your shell) inside nsnet's user namespace, as root there",
    )
    .argument("[command...]", "the command and its arguments (after --)")
    .passThroughOptions()
    .action(async (command) => {
      const argv = command[0] === "--" ? command.slice(1) : command;
      const [program, ...args] = argv.length > 0
        ? argv
        : [getEnv("SHELL") ?? "/bin/sh"];
      let child: Deno.ChildProcess;
      try {
        child = new Deno.Command(program!, { args, stdin: "inherit" }).spawn();
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) {
          console.error(`nsnet: ${program}: command not found`);
          throw new ExitRequest(EXIT.NOT_FOUND);
        }
        if (error instanceof Deno.errors.PermissionDenied) {
          console.error(`nsnet: ${program}: permission denied`);
          throw new ExitRequest(EXIT.NOT_EXECUTABLE);
        }
        throw error;
      }
      const status = await waitForwardingSignals(child);
      if (status !== 0) throw new ExitRequest(status);
    });
}
