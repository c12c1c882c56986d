/**
 * The rootless namespace's file, from inside nsnet's user namespace or from
 * outside it through the pause process (see `access.ts`): making a namespace
 * on it, and removing it. Whether it holds one is in `state.ts`.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";
import { debug } from "../log.ts";
import { newNSWithName } from "../netns/create.ts";
import { unmountNS } from "../netns/teardown.ts";
import { inUserNS, pausePid, type UserNSAccess } from "./access.ts";

/**
 * Makes a network namespace and binds it at `path`, which must not exist,
 * reaching the user namespace as `access` says.
 */
export async function createNamespaceFile(
  path: string,
  access: UserNSAccess,
): Promise<void> {
  const slash = path.lastIndexOf("/");
  const name = path.slice(slash + 1);
  const dir = path.slice(0, slash);
  const pause = pausePid(access);
  if (pause === undefined) {
    newNSWithName(name, { runDir: dir }).close();
    return;
  }
  Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
  Deno.openSync(path, { createNew: true, write: true, mode: 0o444 }).close();
  // As `ip netns` does: the run dir a shared mount point (bound onto itself
  // first when it is none), so that namespaces bound later reach mount
  // namespaces made earlier. Once per pause process is enough.
  const [program, ...args] = inUserNS(
    access,
    isSharedMountPoint(pause, dir) ? ["unshare", `--net=${path}`, "true"] : [
      "sh",
      "-c",
      'mount --make-rshared "$1" 2>/dev/null || { mount --rbind "$1" "$1" && mount --make-rshared "$1"; } || exit 1; exec unshare --net="$2" true',
      "nsnet-netns",
      dir,
      path,
    ],
  );
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(program!, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (error) {
    removeNamespaceFile(path, access);
    throw new NsnetError("cannot run `nsenter` to make the namespace", {
      hint: "install util-linux",
      cause: error,
    });
  }
  if (!out.success) {
    removeNamespaceFile(path, access);
    throw new NsnetError(
      `cannot make the network namespace ${path}: ${
        new TextDecoder().decode(out.stderr).trim() || `exit ${out.code}`
      }`,
    );
  }
  debug(`created namespace ${path}`);
}

/** Whether `dir` is a shared mount point in the pause process's mount namespace. */
function isSharedMountPoint(pause: number, dir: string): boolean {
  try {
    const mountinfo = Deno.readTextFileSync(`/proc/${pause}/mountinfo`);
    return mountinfo.split("\n").some((line) => {
      const fields = line.split(" ");
      const separator = fields.indexOf("-");
      return fields[4] === dir &&
        fields.slice(6, separator).some((f) => f.startsWith("shared:"));
    });
  } catch {
    return false;
  }
}

/**
 * Unmounts and removes the namespace file at `path`; missing is fine. From
 * outside, removing the file is enough: the kernel detaches what is mounted
 * on it in other mount namespaces when it goes.
 */
export function removeNamespaceFile(path: string, access: UserNSAccess): void {
  if (access.kind === "inside") {
    unmountNS(path);
    return;
  }
  try {
    Deno.removeSync(path);
    debug(`removed namespace ${path}`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
