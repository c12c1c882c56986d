/**
 * `nsnet gc`'s file groups: rootless, nsnet's own rootless namespace when
 * its file holds no namespace any more (torn down as `rootless down
 * --force` does; Podman's, named after another dir, is never looked at);
 * the files a sandbox leaves beside its record (lock, resolv.conf, helper
 * dir) when the record is gone, and IPAM and bridge lock files of no
 * network; then nsnet's state directories that are empty. A lock file goes
 * only while gc holds it itself (a non-blocking `flock`), so one in use is
 * never pulled away from its holder.
 *
 * @module
 */

import { close, flock, LOCK, O, openPath } from "../../ffi/syscalls.ts";
import { pathExists } from "../fs.ts";
import { INSIDE } from "../rootless/access.ts";
import { isRootless } from "../rootless/detect.ts";
import { namespaceFileState, rootlessPaths } from "../rootless/state.ts";
import { rootlessDown } from "../rootless/status.ts";
import { sandboxDir, stateDir } from "../sandbox/store.ts";
import { bridgeStateDir } from "./bridge.ts";
import { sandboxGone } from "./sandboxes.ts";
import type { Leftover, LeftoverGroup } from "./types.ts";

/** Rootless: nsnet's rootless namespace when its file is stale (a namespace that is gone). */
export const rootlessNetnsGroup: LeftoverGroup = {
  name: "a stale rootless namespace",
  find(): Leftover[] {
    if (!isRootless()) return [];
    const paths = rootlessPaths();
    if (!pathExists(paths.dir)) return [];
    let state;
    try {
      state = namespaceFileState(paths.netns, INSIDE);
    } catch {
      return [];
    }
    if (state !== "stale") return [];
    return [{
      kind: "rootless-netns",
      name: paths.netns,
      detail:
        "the file holds no namespace any more (its user namespace ended): its helper, holder and state go",
      async remove(): Promise<void> {
        await rootlessDown({ force: true });
      },
    }];
  },
};

/**
 * Removes `path` while holding its lock (non-blocking), if `stillStray()`
 * holds then; a lock another process holds is left alone.
 */
function removeLockFile(path: string, stillStray: () => boolean): void {
  let fd: number;
  try {
    fd = openPath(path, O.RDWR | O.NOFOLLOW | O.CLOEXEC);
  } catch {
    return; // gone meanwhile
  }
  try {
    try {
      flock(fd, LOCK.EX | LOCK.NB, path);
    } catch {
      return; // held: in use
    }
    if (stillStray()) Deno.removeSync(path);
  } finally {
    close(fd);
  }
}

function entriesOf(dir: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(dir)];
  } catch {
    return [];
  }
}

function removeIfPresent(path: string, recursive = false): void {
  try {
    Deno.removeSync(path, { recursive });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** What a gone sandbox left beside its record, and lock files of no IPAM table or bridge. */
export const strayFileGroup: LeftoverGroup = {
  name: "files of gone sandboxes",
  find(): Leftover[] {
    const found: Leftover[] = [];
    const dir = sandboxDir();
    for (const entry of entriesOf(dir)) {
      const path = `${dir}/${entry.name}`;
      const lock = /^\.(.+)\.lock$/.exec(entry.name);
      const helper = /^\.(.+)\.helper$/.exec(entry.name);
      const resolv = /^([^.].*)\.resolv\.conf$/.exec(entry.name);
      const name = (lock ?? helper ?? resolv)?.[1];
      if (name === undefined || !sandboxGone(name)) continue;
      if (lock !== null && entry.isFile) {
        found.push({
          kind: "file",
          name: path,
          detail: `the lock of sandbox ${name}, which has no record`,
          remove: () =>
            Promise.resolve(removeLockFile(path, () => sandboxGone(name))),
        });
      } else if (helper !== null && entry.isDirectory) {
        found.push({
          kind: "directory",
          name: path,
          detail: `the helper dir of sandbox ${name}, which has no record`,
          remove: () => Promise.resolve(removeIfPresent(path, true)),
        });
      } else if (resolv !== null && entry.isFile) {
        found.push({
          kind: "file",
          name: path,
          detail: `the resolv.conf of sandbox ${name}, which has no record`,
          remove: () => Promise.resolve(removeIfPresent(path)),
        });
      }
    }
    const bridge = bridgeStateDir();
    const ipam = `${bridge}/ipam`;
    const tables = (): string[] =>
      entriesOf(ipam).filter((e) => e.name.endsWith(".json")).map((e) =>
        e.name.slice(0, -5)
      );
    for (const entry of entriesOf(ipam)) {
      const m = /^(.+)\.lock$/.exec(entry.name);
      if (m === null || !entry.isFile || tables().includes(m[1]!)) continue;
      const path = `${ipam}/${entry.name}`;
      found.push({
        kind: "file",
        name: path,
        detail: `the IPAM lock of network ${m[1]}, which has no lease`,
        remove: () =>
          Promise.resolve(
            removeLockFile(path, () => !tables().includes(m[1]!)),
          ),
      });
    }
    const bridgeLock = `${bridge}/bridge.lock`;
    if (pathExists(bridgeLock) && tables().length === 0) {
      found.push({
        kind: "file",
        name: bridgeLock,
        detail: "the bridge backend's lock, and no network has a lease",
        remove: () =>
          Promise.resolve(
            removeLockFile(bridgeLock, () => tables().length === 0),
          ),
      });
    }
    return found;
  },
};

/** nsnet's state dirs that hold nothing: the sandbox dir, the bridge dirs, and root's state dir. */
export const emptyDirGroup: LeftoverGroup = {
  name: "empty state directories",
  find(): Leftover[] {
    const bridge = bridgeStateDir();
    const dirs = [sandboxDir(), `${bridge}/ipam`, bridge];
    // Rootless, the state dir holds the pause process's files: never empty while in use.
    if (!isRootless()) dirs.push(stateDir());
    const found: Leftover[] = [];
    const empty = new Set<string>();
    for (const dir of dirs) {
      let entries: Deno.DirEntry[];
      try {
        if (!Deno.lstatSync(dir).isDirectory) continue;
        entries = [...Deno.readDirSync(dir)];
      } catch {
        continue;
      }
      // A dir holding only dirs that go before it goes too.
      if (entries.some((e) => !empty.has(`${dir}/${e.name}`))) continue;
      empty.add(dir);
      found.push({
        kind: "directory",
        name: dir,
        detail: "an empty state directory of nsnet",
        remove: () =>
          Promise.resolve((() => {
            try {
              Deno.removeSync(dir); // only while empty
            } catch (error) {
              if (
                !(error instanceof Deno.errors.NotFound) &&
                (error as { code?: string }).code !== "ENOTEMPTY"
              ) throw error;
            }
          })()),
      });
    }
    return found;
  },
};
