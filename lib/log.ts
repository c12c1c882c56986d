/**
 * nsnet's debug log: off unless enabled; helper output is written to it
 * line by line with a prefix naming the helper.
 *
 * @module
 */

import { getEnv } from "./env.ts";

let enabled = getEnv("NSNET_DEBUG") === "1";

/** Turns debug logging on or off (the CLI's `--debug`, or `NSNET_DEBUG=1`). */
export function setDebug(on: boolean): void {
  enabled = on;
}

/** Whether debug logging is on. */
export function debugEnabled(): boolean {
  return enabled;
}

/** Writes one debug line to standard error when debug logging is on. */
export function debug(message: string): void {
  if (enabled) {
    console.error(
      `DEBU[nsnet] ${performance.now().toFixed(1).padStart(7)}ms ${message}`,
    );
  }
}

/** Writes a warning to standard error: something was refused or skipped, and work went on. */
export function warn(message: string): void {
  console.error(`WARN[nsnet] ${message}`);
}

/**
 * Writes a helper's output to the debug log, one entry per line, each prefixed
 * with the helper's name (S16: `slirp4netns: …`). Empty lines are dropped.
 */
export function logHelperOutput(prefix: string, output: string): void {
  if (!enabled) return;
  for (const line of output.split("\n")) {
    if (line.trim() !== "") debug(`${prefix}: ${line}`);
  }
}
