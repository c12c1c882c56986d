/**
 * Looking at named namespaces from outside: list them, find the processes in
 * one, and find the names of a process's namespace (as `ip netns` does).
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import { getNS } from "./netns.ts";
import { nsRunDir } from "./run_dir.ts";

/** One entry of a netns run dir. */
export interface NSEntry {
  /** File name in the run dir. */
  name: string;
  /** Full path. */
  path: string;
  /** `ok` when a network namespace is mounted there, `stale` when not (a leftover file). */
  status: "ok" | "stale";
  /** Inode of the namespace (absent when stale). */
  inode?: bigint;
}

/**
 * Lists the run dir's namespaces (`ip netns list`), sorted by name, with
 * stale files marked; a missing run dir is an empty list. Needs
 * `--allow-ffi` and `--allow-read` (rootless: `XDG_RUNTIME_DIR` set).
 *
 * @example Find what a crash left
 * ```ts
 * import { listNS } from "@nsnet/nsnet";
 *
 * for (const entry of listNS()) {
 *   if (entry.status === "stale") console.log(`stale: ${entry.path}`);
 * }
 * ```
 */
export function listNS(runDir: string = nsRunDir()): NSEntry[] {
  let names: string[];
  try {
    names = [...Deno.readDirSync(runDir)].filter((e) => !e.isDirectory).map((
      e,
    ) => e.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  names.sort();
  return names.map((name) => {
    const path = `${runDir}/${name}`;
    try {
      using ns = getNS(path);
      return { name, path, status: "ok", inode: ns.ino };
    } catch {
      return { name, path, status: "stale" };
    }
  });
}

/** The pids of all processes whose network namespace is the one at `path`. */
export function pidsInNS(path: string): number[] {
  let inode: bigint;
  {
    using ns = getNS(path);
    inode = ns.ino;
  }
  const wanted = `net:[${inode}]`;
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${entry.name}/ns/net`) === wanted) {
        pids.push(Number(entry.name));
      }
    } catch {
      // The process exited, or is not ours to look at.
    }
  }
  return pids.sort((a, b) => a - b);
}

/** The names in the run dir under which the network namespace of `pid` is mounted. */
export function identifyPID(
  pid: number,
  runDir: string = nsRunDir(),
): string[] {
  let link: string;
  try {
    link = Deno.readLinkSync(`/proc/${pid}/ns/net`);
  } catch (error) {
    throw new NsnetError(`cannot read the network namespace of pid ${pid}`, {
      hint: "is the process running, and yours to look at?",
      cause: error,
    });
  }
  const inode = BigInt(link.slice("net:[".length, -1));
  return listNS(runDir).filter((e) => e.inode === inode).map((e) => e.name);
}
