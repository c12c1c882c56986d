/**
 * Waiting for a child process the way a shell does: signals nsnet receives
 * are passed on to it, and its end becomes an exit status.
 *
 * @module
 */

const FORWARDED: readonly Deno.Signal[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
];

const SIGNAL_NUMBERS: Readonly<Partial<Record<Deno.Signal, number>>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/** The exit status a shell reports for `status`: its code, or 128 + the signal number. */
export function exitStatus(status: Deno.CommandStatus): number {
  if (status.signal === null) return status.code;
  return 128 + (SIGNAL_NUMBERS[status.signal] ?? 0);
}

/**
 * Forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to `child` until it exits,
 * and returns its exit status as {@linkcode exitStatus} gives it.
 */
export async function waitForwardingSignals(
  child: Deno.ChildProcess,
): Promise<number> {
  const removers = FORWARDED.map((signal) => {
    const forward = (): void => {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
    };
    Deno.addSignalListener(signal, forward);
    return (): void => Deno.removeSignalListener(signal, forward);
  });
  try {
    return exitStatus(await child.status);
  } finally {
    for (const remove of removers) remove();
  }
}
