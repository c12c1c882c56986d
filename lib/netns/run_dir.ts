/**
 * The netns run dir: where named network namespaces live as bind-mounted
 * files. nsnet shares it with iproute2, so that `ip netns` and nsnet see and
 * delete each other's namespaces.
 *
 * @module
 */

import { SyscallError } from "../errors.ts";
import {
  close,
  flock,
  LOCK,
  mount,
  MS,
  O,
  openPath,
} from "../../ffi/syscalls.ts";
import { getEnv } from "../env.ts";
import { isRootless } from "../rootless/detect.ts";
import { validateNSName } from "./name.ts";
import { NsnetError } from "../errors.ts";

/** The run dir of root: iproute2's `/run/netns`. */
export const ROOT_NETNS_RUN_DIR = "/run/netns";

/**
 * The netns run dir: `NSNET_NETNS_DIR` if set, else `/run/netns` as root and
 * `$XDG_RUNTIME_DIR/netns` when rootless (as Podman).
 */
export function nsRunDir(): string {
  const override = getEnv("NSNET_NETNS_DIR");
  if (override) return override;
  if (!isRootless()) return ROOT_NETNS_RUN_DIR;
  const runtime = getEnv("XDG_RUNTIME_DIR");
  if (!runtime) {
    throw new NsnetError(
      "XDG_RUNTIME_DIR is not set, so rootless nsnet has no run dir",
      {
        hint:
          "log in through a session manager, or export XDG_RUNTIME_DIR=/run/user/$(id -u)",
      },
    );
  }
  return `${runtime}/netns`;
}

/**
 * The path of a namespace given by name or path: anything with a `/` is a
 * path as is; a bare name is checked and looked up in the run dir.
 */
export function nsPath(nameOrPath: string): string {
  if (nameOrPath.includes("/")) return nameOrPath;
  validateNSName(nameOrPath);
  return `${nsRunDir()}/${nameOrPath}`;
}

const prepared = new Set<string>();

/**
 * Makes sure `dir` exists (0755) and is a shared mount point, as iproute2
 * does, so that a namespace mounted in it shows up in every mount namespace
 * that shares the dir, and unmounts propagate. The dir is `flock`ed while
 * this happens so two processes never stack two mounts on it. Done once per
 * dir per process.
 */
export function prepareRunDir(dir: string): void {
  if (prepared.has(dir)) return;
  Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const fd = openPath(dir, O.RDONLY | O.DIRECTORY);
  try {
    flock(fd, LOCK.EX, dir);
    try {
      mount("none", dir, "none", MS.SHARED | MS.REC);
    } catch (error) {
      if (!(error instanceof SyscallError) || error.code !== "EINVAL") {
        throw error;
      }
      // Not a mount point yet: make it one by binding it onto itself, then share it.
      mount(dir, dir, "none", MS.BIND | MS.REC);
      mount("none", dir, "none", MS.SHARED | MS.REC);
    }
  } finally {
    close(fd); // also drops the lock
  }
  prepared.add(dir);
}
