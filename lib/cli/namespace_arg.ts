/**
 * What the netlink commands share: the `NAME|PATH` namespace argument, a
 * socket in it, and number parsing.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError } from "../errors.ts";
import { pathExists } from "../fs.ts";
import { NetlinkSocket } from "../netlink/socket.ts";
import { currentNS, getNS, type NetNS } from "../netns/netns.ts";
import { nsPath } from "../netns/run_dir.ts";

/** Opens the namespace a `NAME|PATH` argument names; the current one when omitted. */
export function openNamespaceArg(nameOrPath: string | undefined): NetNS {
  return nameOrPath === undefined ? currentNS() : getNS(nsPath(nameOrPath));
}

/** The help text of a `NAME|PATH` argument. */
export const NAMESPACE_ARG_HELP =
  "namespace: a NAME in the netns run dir, or a PATH such as /proc/PID/ns/net";

/** Runs `fn` with a netlink socket in the namespace `nameOrPath` names (the current one when omitted). */
export function withNetlink<T>(
  nameOrPath: string | undefined,
  fn: (sock: NetlinkSocket, ns: NetNS) => T,
): T {
  using ns = openNamespaceArg(nameOrPath);
  using sock = NetlinkSocket.open(ns);
  return fn(sock, ns);
}

/** Parses a non-negative integer option such as an MTU or a metric. */
export function parseCount(text: string, what: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(text)}`, {
      hint: `${what} is a whole number`,
    });
  }
  return Number(text);
}

/** The help text of `--pid`. */
export const PID_HELP =
  "the namespace of this process (/proc/PID/ns/net), e.g. a Podman container's";

/**
 * Opens the namespace a command names by `NAME|PATH` or by `--pid PID`
 * (exactly one of them; anything else is a usage error on `command`).
 */
export function openNamespaceOrPid(
  netns: string | undefined,
  pid: string | undefined,
  command: { error(message: string): never },
): NetNS {
  if ((netns === undefined) === (pid === undefined)) {
    command.error("error: give either a namespace NAME|PATH or --pid PID");
  }
  if (pid === undefined) return openNamespaceArg(netns);
  if (
    !/^\d+$/.test(pid) || Number(pid) <= 0 || !Number.isSafeInteger(Number(pid))
  ) {
    throw new NsnetError(`invalid pid ${JSON.stringify(pid)}`, {
      hint: "give a process id such as 1234",
    });
  }
  if (!pathExists(`/proc/${pid}`)) {
    throw new NsnetError(`no process with pid ${pid}`, {
      hint:
        "for a Podman container: podman inspect --format '{{.State.Pid}}' NAME",
    });
  }
  return openNamespaceArg(`/proc/${pid}/ns/net`);
}
