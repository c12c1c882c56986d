/**
 * How this process reaches nsnet's user namespace. Inside it (the CLI ran
 * itself again there, or the caller used `nsnet unshare`) commands run as
 * they are. Outside it, an unprivileged nsnet that knows the pause process
 * starts each command that needs the user namespace through `nsenter` into
 * the pause process's user and mount namespaces, and sees files of that
 * mount namespace (the namespace file bound there) through
 * `/proc/PID/root`. The outside way spares a second Deno start: it is how
 * `nsnet rootless exec` makes the namespace from nothing.
 *
 * @module
 */

let pausePid: number | undefined;

/**
 * From now on, reach the user namespace through the pause process `pid`
 * (undefined: this process is inside it already).
 */
export function enterThroughPause(pid: number | undefined): void {
  pausePid = pid;
}

/** The pause process this process goes through, or undefined when it is inside. */
export function enteringPause(): number | undefined {
  return pausePid;
}

/** `argv` as a command that runs as root in nsnet's user namespace and mount namespace. */
export function inUserNS(argv: readonly string[]): string[] {
  if (pausePid === undefined) return [...argv];
  return [
    "nsenter",
    "--target",
    String(pausePid),
    "--user",
    "--mount",
    "--",
    ...argv,
  ];
}

/** How `path`, as the user namespace's mount namespace sees it, is reached from here. */
export function seenFromHere(path: string): string {
  return pausePid === undefined ? path : `/proc/${pausePid}/root${path}`;
}
