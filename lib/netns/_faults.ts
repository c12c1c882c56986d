/**
 * Failure injection for tests: a step listed here fails as if its system call
 * had. Set by tests through {@linkcode injectFault}, or for a whole process
 * through `NSNET_FAULT=step[,step…]`. Not part of the public API.
 *
 * @module
 */

import { getEnv } from "../env.ts";
import { NsnetError } from "../errors.ts";

const active = new Set<string>(
  (getEnv("NSNET_FAULT") ?? "").split(",").filter((s) => s !== ""),
);

/** Makes `step` fail until {@linkcode clearFaults} is called. */
export function injectFault(step: string): void {
  active.add(step);
}

/** Removes every injected fault. */
export function clearFaults(): void {
  active.clear();
}

/** Fails if a fault was injected at `step`. */
export function checkFault(step: string): void {
  if (active.size > 0 && active.has(step)) {
    throw new NsnetError(`injected fault at ${step}`);
  }
}

/**
 * Ends the process on the spot if `crash:step` was injected, as SIGKILL
 * would: no `finally` runs, nothing is cleaned up. Tests use it to leave
 * the half-made state that a killed nsnet leaves.
 */
export function crashPoint(step: string): void {
  if (active.size > 0 && active.has(`crash:${step}`)) Deno.exit(137);
}
