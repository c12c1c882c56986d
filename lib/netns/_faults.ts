/**
 * Failure injection for tests: a hook that tests install, consulted at named
 * steps of production code. With no hook installed (always, outside tests)
 * {@linkcode checkFault} and {@linkcode crashPoint} do nothing. Nothing here
 * reads the environment: a test that needs faults in a CLI subprocess runs
 * `tests/_fixtures/fault_cli.ts`, which installs the hook and then runs the
 * CLI. Not part of the public API.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";

/**
 * What a test wants at a step: `"fail"` (throw as if the step's system call
 * had failed), `"crash"` (end the process on the spot, as SIGKILL would), or
 * `undefined` to let it run.
 */
export type FaultAction = "fail" | "crash" | undefined;

/** A test's fault hook: asked at every named step. */
export type FaultHook = (step: string) => FaultAction;

let hook: FaultHook | undefined;

/** Installs `next` as the process's fault hook (`undefined` removes it). */
export function setFaultHook(next: FaultHook | undefined): void {
  hook = next;
}

const injected = new Set<string>();

/**
 * Makes `step` fail until {@linkcode clearFaults} is called; `crash:step`
 * makes {@linkcode crashPoint}`(step)` end the process. Installs the hook
 * that reads these.
 */
export function injectFault(step: string): void {
  injected.add(step);
  setFaultHook((at) =>
    injected.has(`crash:${at}`)
      ? "crash"
      : injected.has(at)
      ? "fail"
      : undefined
  );
}

/** Removes every injected fault and the hook. */
export function clearFaults(): void {
  injected.clear();
  setFaultHook(undefined);
}

/** Fails if the hook says `step` should. */
export function checkFault(step: string): void {
  if (hook !== undefined && hook(step) === "fail") {
    throw new NsnetError(`injected fault at ${step}`);
  }
}

/**
 * Ends the process on the spot if the hook says `step` should crash, as
 * SIGKILL would: no `finally` runs, nothing is cleaned up. Tests use it to
 * leave the half-made state that a killed nsnet leaves.
 */
export function crashPoint(step: string): void {
  if (hook !== undefined && hook(step) === "crash") Deno.exit(137);
}
