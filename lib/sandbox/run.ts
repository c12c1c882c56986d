/**
 * `nsnet run` as a library function: a sandbox for one command (or for the
 * self-check), torn down when it ends, whatever happens.
 *
 * @module
 */

import { waitForwardingSignals } from "../child.ts";
import type { Forwarder } from "../ports/forwarder.ts";
import type { NetIO } from "../stats.ts";
import { spawnInSandbox } from "./exec.ts";
import { startForwarderFor } from "./forwarder_process.ts";
import {
  createSandbox,
  needsHostForwarder,
  removeAfterFailure,
  removeOrphanedSandboxes,
  removeSandbox,
} from "./lifecycle.ts";
import type { SandboxOptions } from "./sandbox.ts";
import { selfCheck } from "./self_check.ts";
import { sandboxStats } from "./stats.ts";

/**
 * Options for {@linkcode runSandbox}: the sandbox's, as for
 * `Sandbox.create`, and the command's.
 */
export interface RunSandboxOptions extends SandboxOptions {
  /** The command and its arguments; absent or empty: the self-check. */
  command?: readonly string[];
  /** Helper modes: the sandbox reaches the host's 127.0.0.1 at the gateway address. */
  allowHostLoopback?: boolean;
  /** The command's environment (added to nsnet's), and where its stdio goes (default inherited). */
  commandOptions?: Pick<
    Deno.CommandOptions,
    "env" | "stdin" | "stdout" | "stderr"
  >;
  /** Self-check: print its report as JSON rather than as text. */
  json?: boolean;
  /**
   * Called with the sandbox's network I/O once the command has ended, before
   * the sandbox is torn down (`nsnet run --stats`).
   */
  onStats?: (stats: NetIO | undefined) => void;
}

const INTERRUPTS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

/**
 * Runs `options.command` in a new sandbox and tears the sandbox down
 * afterwards, as `nsnet run` does: first removes the sandboxes an `nsnet run`
 * that was killed left behind; creates the sandbox, recorded as this
 * process's so that the next run removes it if this one is killed; starts the
 * port forwarder of a rootless named network; runs the command with SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT passed on to it (without a command, runs the
 * self-check, which such a signal ends); reports the stats if asked; and
 * removes the sandbox. Its signal listeners are removed before it returns.
 *
 * Needs root, or to run inside `nsnet unshare`; and `--allow-all` (FFI,
 * running commands, files, the network).
 *
 * @returns the command's exit status (128 + N when signal N ended it), or the
 * self-check's (0 when it passed).
 *
 * @example
 * ```ts
 * import { runSandbox } from "@nsnet/nsnet";
 * const status = await runSandbox({ network: "none", command: ["ip", "link"] });
 * Deno.exit(status);
 * ```
 */
export async function runSandbox(
  options: RunSandboxOptions = {},
): Promise<number> {
  const {
    command = [],
    commandOptions,
    json,
    onStats,
    allowHostLoopback,
    ...create
  } = options;
  const selfChecking = command.length === 0;
  // What an nsnet run killed before it could clean up left behind goes first.
  await removeOrphanedSandboxes();
  const record = await createSandbox({
    ...create,
    // The self-check reaches the host's loopback through the helper.
    helper: { allowHostLoopback: allowHostLoopback || selfChecking },
    runnerPid: Deno.pid,
    callerForwardsPorts: true,
  });
  // S11: rootless, the port forwarder starts once the backend gave its status.
  let forwarder: Forwarder | undefined;
  try {
    forwarder = needsHostForwarder(record)
      ? await startForwarderFor(record)
      : undefined;
  } catch (error) {
    await removeAfterFailure(record.name, error);
    throw error;
  }
  // Until the sandbox is gone, a signal does not end this process: it ends
  // the self-check (a command gets it passed on), then the sandbox is torn down.
  let interrupt: (status: number) => void = () => {};
  const interrupted = new Promise<number>((resolve) => interrupt = resolve);
  const listeners = (Object.keys(INTERRUPTS) as (keyof typeof INTERRUPTS)[])
    .map((signal) => {
      const listener = (): void => interrupt(128 + INTERRUPTS[signal]);
      Deno.addSignalListener(signal, listener);
      return { signal, listener };
    });
  try {
    let status: number;
    if (selfChecking) {
      status = await Promise.race([
        selfCheck(record, Boolean(json)),
        interrupted,
      ]);
    } else {
      const child = spawnInSandbox(record, command, commandOptions);
      status = await waitForwardingSignals(child);
    }
    onStats?.(sandboxStats(record));
    return status;
  } finally {
    try {
      try {
        await forwarder?.close();
      } finally {
        await removeSandbox(record.name, { force: true });
      }
    } finally {
      for (const { signal, listener } of listeners) {
        Deno.removeSignalListener(signal, listener);
      }
    }
  }
}
