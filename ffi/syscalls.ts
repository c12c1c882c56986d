/**
 * Typed wrappers over libc: each checks the result, reads errno on the same
 * thread right after a failure, and raises one {@linkcode SyscallError} that
 * names the call, the errno and the path or argument involved.
 *
 * All calls are synchronous and run on the calling thread; none is marked
 * `nonblocking`, because namespace calls must act on the JS thread itself.
 *
 * @module
 */

import { SyscallError } from "../lib/errors.ts";
import { Errno } from "./errno.ts";
import { cString, errno, libc } from "./libc.ts";

/** Namespace type flags for {@linkcode unshare} and {@linkcode setns}. */
export const CLONE = {
  FS: 0x00000200,
  NEWNS: 0x00020000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

/** Flags for {@linkcode mount}. */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
} as const;

/** Flags for {@linkcode umount2}. */
export const MNT = { FORCE: 1, DETACH: 2, EXPIRE: 4 } as const;
/** Flag for {@linkcode umount2}: do not follow a symbolic link at the target. */
export const UMOUNT_NOFOLLOW = 8;

/** Flags for {@linkcode openPath}. */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
} as const;

/** Operations for {@linkcode flock}. */
export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

/** Filesystem magic numbers reported by {@linkcode statfsType}. */
export const FS_MAGIC = {
  NSFS: 0x6e736673,
  PROC: 0x9fa0,
  TMPFS: 0x01021994,
} as const;

/** `ioctl` request returning the type (a `CLONE.NEW*` flag) of a namespace fd. */
export const NS_GET_NSTYPE = 0xb703n;
/** `ioctl` request returning an fd of the user namespace that owns a namespace. */
export const NS_GET_USERNS = 0xb701n;

function fail(call: string, subject?: string): never {
  throw new SyscallError(call, errno(), subject);
}

/** `unshare(flags)`: moves the calling thread (or process) into new namespaces. */
export function unshare(flags: number): void {
  if (libc().unshare(flags) < 0) fail("unshare", flagNames(flags));
}

/** `setns(fd, nstype)`: moves the calling thread into the namespace behind `fd`. */
export function setns(fd: number, nstype: number, subject?: string): void {
  if (libc().setns(fd, nstype) < 0) fail("setns", subject ?? `fd ${fd}`);
}

/** `open(path, flags | O_CLOEXEC, mode)`: returns the new file descriptor. */
export function openPath(path: string, flags: number, mode = 0): number {
  const fd = libc().open(cString(path), flags | O.CLOEXEC, mode);
  if (fd < 0) fail("open", path);
  return fd;
}

/** `mkfifo(path, mode)`: a named pipe. */
export function mkfifo(path: string, mode = 0o600): void {
  if (libc().mkfifo(cString(path), mode) < 0) fail("mkfifo", path);
}

/**
 * `read(fd, buffer)`: the number of bytes read, 0 at end of file, or
 * undefined when a non-blocking fd has nothing yet (EAGAIN).
 */
export function readFd(
  fd: number,
  buffer: Uint8Array<ArrayBuffer>,
): number | undefined {
  const n = Number(libc().read(fd, buffer, BigInt(buffer.length)));
  if (n >= 0) return n;
  const code = errno();
  if (code === Errno.EAGAIN) return undefined;
  throw new SyscallError("read", code, `fd ${fd}`);
}

/** `close(fd)`. Errors are raised; EBADF means a double close, a bug. */
export function close(fd: number): void {
  if (libc().close(fd) < 0) fail("close", `fd ${fd}`);
}

/** `mount(source, target, fstype, flags, data)`. */
export function mount(
  source: string,
  target: string,
  fstype: string,
  flags: number,
  data?: string,
): void {
  const rc = libc().mount(
    cString(source),
    cString(target),
    cString(fstype),
    BigInt(flags),
    data === undefined ? null : cString(data),
  );
  if (rc < 0) fail("mount", `${source || fstype} on ${target}`);
}

/** `umount2(target, flags)`. */
export function umount2(target: string, flags: number): void {
  if (libc().umount2(cString(target), flags) < 0) fail("umount2", target);
}

/** `kill(pid, signal)`. Signal 0 only checks that the process exists. */
export function kill(pid: number, signal: number): void {
  if (libc().kill(pid, signal) < 0) fail("kill", `pid ${pid}`);
}

/** `pidfd_open(pid, 0)`: a file descriptor that stays bound to this very process. */
export function pidfdOpen(pid: number): number {
  const fd = libc().pidfd_open(pid, 0);
  if (fd < 0) fail("pidfd_open", `pid ${pid}`);
  return fd;
}

/** `pidfd_send_signal(pidfd, signal, NULL, 0)`: cannot hit a reused pid. */
export function pidfdSendSignal(pidfd: number, signal: number): void {
  if (libc().pidfd_send_signal(pidfd, signal, null, 0) < 0) {
    fail("pidfd_send_signal", `pidfd ${pidfd}`);
  }
}

/** `flock(fd, operation)`. */
export function flock(fd: number, operation: number, subject?: string): void {
  if (libc().flock(fd, operation) < 0) fail("flock", subject ?? `fd ${fd}`);
}

const statfsBuffer = new BigInt64Array(15); // struct statfs is 120 bytes on 64-bit Linux

/** `statfs(path)`: the filesystem magic (`f_type`) of the filesystem holding `path`. */
export function statfsType(path: string): number {
  if (libc().statfs(cString(path), statfsBuffer) < 0) fail("statfs", path);
  return Number(statfsBuffer[0]!);
}

/** Device and inode: what identifies a namespace. */
export interface FileIdentity {
  /** `st_dev`. */
  dev: bigint;
  /** `st_ino`. */
  ino: bigint;
}

const statBuffer = new BigUint64Array(18); // struct stat is 144 bytes on x86_64 and aarch64

/** `fstat(fd)`: device and inode of an open file. */
export function fstatIdentity(fd: number, subject?: string): FileIdentity {
  if (libc().fstat(fd, statBuffer) < 0) fail("fstat", subject ?? `fd ${fd}`);
  // x86_64: st_dev at 0, st_ino at 8. aarch64 (asm-generic): the same two first.
  return { dev: statBuffer[0]!, ino: statBuffer[1]! };
}

/** `ioctl(fd, NS_GET_NSTYPE)`: the `CLONE.NEW*` type of a namespace fd. */
export function namespaceType(fd: number, subject?: string): number {
  const rc = libc().ioctl(fd, NS_GET_NSTYPE);
  if (rc < 0) fail("ioctl(NS_GET_NSTYPE)", subject ?? `fd ${fd}`);
  return rc;
}

/** `ioctl(fd, NS_GET_USERNS)`: an fd of the user namespace owning the namespace behind `fd`. */
export function owningUserNS(fd: number, subject?: string): number {
  const rc = libc().ioctl(fd, NS_GET_USERNS);
  if (rc < 0) fail("ioctl(NS_GET_USERNS)", subject ?? `fd ${fd}`);
  return rc;
}

/** `gettid()`: the calling thread's id. */
export function gettid(): number {
  return libc().gettid();
}

/** `getuid()`: Deno's own when permitted, which spares loading libc for it. */
export function getuid(): number {
  try {
    return Deno.uid() ?? libc().getuid();
  } catch {
    return libc().getuid();
  }
}

/** `geteuid()`. */
export function geteuid(): number {
  return libc().geteuid();
}

/** Names the `CLONE.*` flags set in `flags`, for error messages. */
export function flagNames(flags: number): string {
  const names = Object.entries(CLONE)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([name]) => `CLONE_${name}`);
  return names.length > 0 ? names.join("|") : `0x${flags.toString(16)}`;
}
