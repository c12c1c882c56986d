/**
 * A process's identity that survives pid reuse: its pid and its start time
 * (clock ticks since boot, from /proc/PID/stat), which a new process with
 * the same pid never shares.
 *
 * @module
 */

/** The start time of `pid` (field 22 of /proc/PID/stat), or undefined when it is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

/** Whether the process `pid` that started at `startTime` still runs. */
export function processAlive(
  pid: number,
  startTime: string | undefined,
): boolean {
  const now = processStartTime(pid);
  return now !== undefined && (startTime === undefined || now === startTime);
}
