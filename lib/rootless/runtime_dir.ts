/**
 * The rootless runtime dir (`$XDG_RUNTIME_DIR`) and nsnet's state under it,
 * checked the way Podman's users needed (Podman #13671, #14462, #14606).
 *
 * @module
 */

import { getEnv } from "../env.ts";
import { NsnetError } from "../errors.ts";
import { getuid } from "../../ffi/syscalls.ts";

/**
 * `$XDG_RUNTIME_DIR`, checked: set, an existing directory, owned by the
 * calling user, and not reached through a symbolic link (a path that resolves
 * elsewhere would put mounts and state in two places). Each failure says how
 * to fix it.
 */
export function runtimeDir(): string {
  const dir = getEnv("XDG_RUNTIME_DIR");
  const fix = `export XDG_RUNTIME_DIR=/run/user/${hostUid()}`;
  if (dir === undefined) {
    throw new NsnetError(
      "XDG_RUNTIME_DIR is not set, so rootless nsnet has no runtime dir",
      {
        hint: `log in through a session manager (not su), or ${fix}`,
      },
    );
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch {
    throw new NsnetError(`XDG_RUNTIME_DIR ${dir} does not exist`, {
      hint:
        `create it (as root: install -d -m 0700 -o $USER ${dir}), or ${fix}`,
    });
  }
  if (!info.isDirectory) {
    throw new NsnetError(`XDG_RUNTIME_DIR ${dir} is not a directory`, {
      hint: fix,
    });
  }
  if (info.uid !== getuid()) {
    throw new NsnetError(
      `XDG_RUNTIME_DIR ${dir} belongs to uid ${info.uid}, not to you (uid ${getuid()})`,
      {
        hint:
          `after su or sudo the variable still names the old user's dir: ${fix}`,
      },
    );
  }
  const real = Deno.realPathSync(dir);
  if (real !== dir.replace(/\/+$/, "")) {
    throw new NsnetError(
      `XDG_RUNTIME_DIR ${dir} is reached through a symbolic link (it is ${real})`,
      {
        hint: `use the real path: export XDG_RUNTIME_DIR=${real}`,
      },
    );
  }
  return real;
}

/** nsnet's rootless state dir: `$XDG_RUNTIME_DIR/nsnet` (made 0700 on first use). */
export function rootlessStateDir(): string {
  const dir = `${runtimeDir()}/nsnet`;
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** The uid the user has on the host: the same inside nsnet's user namespace via the env marker. */
export function hostUid(): number {
  const marked = Number(getEnv("_NSNET_HOST_UID"));
  return Number.isInteger(marked) && marked > 0 ? marked : getuid();
}
