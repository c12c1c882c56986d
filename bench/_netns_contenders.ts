/**
 * The three ways of making and removing one named network namespace that the
 * benchmarks compare: nsnet's API, the bare-FFI floor (the system calls that
 * cannot be avoided, nothing else), and iproute2's `ip netns add`/`del`.
 */
import { newNSWithName, unmountNS } from "../mod.ts";
import { cString, libc } from "../ffi/libc.ts";
import { prepareRunDir } from "../lib/netns/run_dir.ts";

/** Where the benchmarks make their namespaces. */
export const RUN_DIR = "/run/netns";

/** nsnet: create (validated, undo-on-failure) and delete. */
export function nsnetCreateDelete(name: string): void {
  unmountNS(newNSWithName(name));
}

const O_RDONLY_CREAT_EXCL_CLOEXEC = 0o100 | 0o200 | 0o2000000;
const CLONE_NEWNET = 0x40000000;
const MS_BIND = 4096;
const MNT_DETACH = 2;
const SELF = cString("/proc/thread-self/ns/net");
const NONE = cString("none");

/** The floor: create the file, unshare, bind mount, setns back; umount and unlink. No checks. */
export function bareCreateDelete(name: string): void {
  const c = libc();
  const path = cString(`${RUN_DIR}/${name}`);
  c.close(c.open(path, O_RDONLY_CREAT_EXCL_CLOEXEC, 0o444));
  const origin = c.open(SELF, 0o2000000, 0);
  c.unshare(CLONE_NEWNET);
  c.mount(SELF, path, NONE, BigInt(MS_BIND), null);
  c.setns(origin, CLONE_NEWNET);
  c.close(origin);
  c.umount2(path, MNT_DETACH);
  Deno.removeSync(`${RUN_DIR}/${name}`);
}

/** iproute2: two processes, `ip netns add NAME` and `ip netns del NAME`. */
export function ipCreateDelete(name: string): void {
  for (const verb of ["add", "del"]) {
    const out = new Deno.Command("ip", { args: ["netns", verb, name] })
      .outputSync();
    if (!out.success) throw new Error(`ip netns ${verb} ${name} failed`);
  }
}

/** Prepares the run dir once, so that no contender pays for it inside the timing. */
export function prepare(): void {
  prepareRunDir(RUN_DIR);
}
