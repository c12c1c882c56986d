/**
 * How a call reaches nsnet's user namespace, as a value the caller passes
 * in. Inside it (the CLI ran itself again there, or the caller used `nsnet
 * unshare`) commands run as they are. Outside it, an unprivileged nsnet that
 * knows the pause process starts each command that needs the user namespace
 * through `nsenter` into the pause process's user and mount namespaces, and
 * sees files of that mount namespace (the namespace file bound there)
 * through `/proc/PID/root`. The outside way spares a second Deno start: it
 * is how `nsnet rootless exec` makes the namespace from nothing.
 *
 * Small and without imports on purpose: the warm `rootless exec` path loads it.
 *
 * @module
 */

/**
 * How this process reaches nsnet's user namespace: it runs `inside` it
 * already, or goes `viaPause` through the pause process `pid` that holds it.
 */
export type UserNSAccess =
  | { readonly kind: "inside" }
  | { readonly kind: "viaPause"; readonly pid: number };

/** Reaching the user namespace through the pause process. */
export type ViaPause = Extract<UserNSAccess, { kind: "viaPause" }>;

/** This process runs inside nsnet's user namespace (or needs none: real root). */
export const INSIDE: UserNSAccess = Object.freeze({ kind: "inside" });

/** Reaching the user namespace from outside, through the pause process `pid`. */
export function viaPause(pid: number): ViaPause {
  return Object.freeze({ kind: "viaPause", pid });
}

/** The pause process `access` goes through, or undefined when it is inside. */
export function pausePid(access: UserNSAccess): number | undefined {
  return access.kind === "viaPause" ? access.pid : undefined;
}

/** `argv` as a command that runs as root in nsnet's user namespace and mount namespace. */
export function inUserNS(
  access: UserNSAccess,
  argv: readonly string[],
): string[] {
  if (access.kind === "inside") return [...argv];
  return [
    "nsenter",
    "--target",
    String(access.pid),
    "--user",
    "--mount",
    "--",
    ...argv,
  ];
}

/** How `path`, as the user namespace's mount namespace sees it, is reached from here. */
export function seenFromHere(access: UserNSAccess, path: string): string {
  return access.kind === "inside" ? path : `/proc/${access.pid}/root${path}`;
}
