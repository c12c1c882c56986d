/**
 * Network namespaces one by one, as `ip netns` knows them: made, opened,
 * entered, listed and removed. The root export `@nsnet/nsnet` has the common
 * calls; this subpath adds listing, identification and naming.
 *
 * Every call needs `--allow-ffi` (libc) and `--allow-read`/`--allow-write`
 * for the run dir; making or removing a namespace needs root, or a script
 * run inside nsnet's user namespace (`nsnet unshare -- deno run -A …`).
 *
 * @example List the namespaces and the processes inside each
 * ```ts
 * import { listNS, pidsInNS } from "@nsnet/nsnet/netns";
 *
 * for (const entry of listNS()) {
 *   console.log(entry.name, entry.status === "stale" ? "(stale)" : pidsInNS(entry.path));
 * }
 * ```
 *
 * @module
 */

export {
  currentNS,
  getNS,
  isIPLiteral,
  NetNS,
  processNS,
  THREAD_NETNS_PATH,
  threadCanReturn,
} from "./netns.ts";
export {
  type AdoptOptions,
  adoptProcessNetNS,
  type CreateOptions,
  newNS,
  newNSWithName,
} from "./create.ts";
export { unmountNS, type UnmountOptions } from "./teardown.ts";
export { identifyPID, listNS, type NSEntry, pidsInNS } from "./list.ts";
export { MAX_NAME_BYTES, randomNSName, validateNSName } from "./name.ts";
export { nsPath, nsRunDir, ROOT_NETNS_RUN_DIR } from "./run_dir.ts";
