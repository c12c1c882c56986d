/**
 * Whether nsnet runs rootless: as a non-root user, or as a mapped root inside
 * a user namespace (where the real root's powers over the host are absent).
 *
 * @module
 */

import { getuid } from "../../ffi/syscalls.ts";

/** The uid map of the initial user namespace: all ids mapped to themselves. */
const INITIAL_UID_MAP = /^\s*0\s+0\s+4294967295\s*$/;

let cached: boolean | undefined;

/** True when not root, or root only inside a user namespace. Cached per process. */
export function isRootless(): boolean {
  if (cached === undefined) {
    // nsnet is never setuid: the real uid tells.
    if (getuid() !== 0) {
      cached = true;
    } else {
      let map = "";
      try {
        map = Deno.readTextFileSync("/proc/self/uid_map");
      } catch {
        map = "0 0 4294967295";
      }
      cached = !INITIAL_UID_MAP.test(map);
    }
  }
  return cached;
}
