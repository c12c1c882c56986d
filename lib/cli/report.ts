/**
 * How an error ends the CLI: one line on standard error, naming the cause
 * and the fix, and an exit status. Free of commander, so that the CLI's fast
 * paths report errors the same way without loading it.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import { debug } from "../log.ts";
import { EXIT, ExitRequest } from "./output.ts";

/** Prints `error` as one line (with its hint) and returns the exit status for it. */
export function reportError(error: unknown): number {
  if (error instanceof ExitRequest) return error.code;
  if (error instanceof NsnetError) {
    const hint = error.hint === undefined ? "" : ` (${error.hint})`;
    console.error(`nsnet: ${error.message}${hint}`);
    debug(error.stack ?? "");
    return EXIT.FAILURE;
  }
  if (error instanceof Deno.errors.NotCapable) {
    console.error(
      `nsnet: ${error.message} (run with --allow-all, as the compiled binary does)`,
    );
    return EXIT.FAILURE;
  }
  console.error(
    `nsnet: ${error instanceof Error ? error.message : String(error)}`,
  );
  debug(error instanceof Error ? error.stack ?? "" : "");
  return EXIT.FAILURE;
}

/**
 * Runs `action` for each name, reporting each failure on its own line and
 * going on; fails (exit 1) at the end if any did, as `ip netns del` does.
 */
export async function forEachName(
  names: readonly string[],
  action: (name: string) => void | Promise<void>,
): Promise<void> {
  let failed = 0;
  for (const name of names) {
    try {
      await action(name);
    } catch (error) {
      failed++;
      reportError(error);
    }
  }
  if (failed > 0) throw new ExitRequest(EXIT.FAILURE);
}
