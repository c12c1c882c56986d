/**
 * What the CLI's arguments ask for, told before the full command line
 * (commander) loads: whether an unprivileged run must enter nsnet's user
 * namespace, and whether it is a plain `rootless exec -- CMD` that the fast
 * path can run. No imports on purpose: `cli.ts` loads this first.
 *
 * @module
 */

/**
 * Commands that work without nsnet's user namespace when run unprivileged
 * (`doctor` checks what making one needs, so it must not need one).
 */
const OUTSIDE_USERNS = new Set(["help", "resolv", "doctor"]);

/**
 * Whether the CLI arguments `args` name a command that, run unprivileged,
 * must run inside nsnet's user namespace: all but help, version, `resolv`
 * and `doctor`.
 */
export function wantsUserNS(args: readonly string[]): boolean {
  if (
    args.some((a) =>
      a === "--help" || a === "-h" || a === "--version" || a === "-V"
    )
  ) {
    return false;
  }
  const command = args.find((a) => !a.startsWith("-"));
  return command !== undefined && !OUTSIDE_USERNS.has(command);
}

/** The command of `rootless exec -- CMD…` when nothing else is on the line, else undefined. */
export function plainRootlessExec(
  args: readonly string[],
): string[] | undefined {
  if (args[0] !== "rootless" || args[1] !== "exec") return undefined;
  const rest = args.slice(2);
  const command = rest[0] === "--" ? rest.slice(1) : rest;
  if (command.length === 0 || command[0]!.startsWith("-")) return undefined;
  return command;
}
