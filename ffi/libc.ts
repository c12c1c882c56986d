/**
 * The one table of libc symbols nsnet calls, and the lazily opened library.
 *
 * Nothing here runs at import time: `mod.ts` can be imported (for docs, for
 * `--help`, by tests without FFI permission) and libc is opened on the first
 * call that needs it.
 *
 * @module
 */

import { getEnv } from "../lib/env.ts";

/** Every libc symbol nsnet uses, with its C signature beside it. */
export const LIBC_SYMBOLS = {
  // int unshare(int flags)
  unshare: { parameters: ["i32"], result: "i32" },
  // int setns(int fd, int nstype)
  setns: { parameters: ["i32", "i32"], result: "i32" },
  // int open(const char *path, int flags, mode_t mode)
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  // ssize_t read(int fd, void *buf, size_t count)
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // int mkfifo(const char *path, mode_t mode)
  mkfifo: { parameters: ["buffer", "u32"], result: "i32" },
  // int close(int fd)
  close: { parameters: ["i32"], result: "i32" },
  // int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const void *data)
  mount: {
    parameters: ["buffer", "buffer", "buffer", "u64", "buffer"],
    result: "i32",
  },
  // int umount2(const char *target, int flags)
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  // int kill(pid_t pid, int sig)
  kill: { parameters: ["i32", "i32"], result: "i32" },
  // int pidfd_open(pid_t pid, unsigned int flags)
  pidfd_open: { parameters: ["i32", "u32"], result: "i32" },
  // int pidfd_send_signal(int pidfd, int sig, siginfo_t *info, unsigned int flags)
  pidfd_send_signal: {
    parameters: ["i32", "i32", "pointer", "u32"],
    result: "i32",
  },
  // int flock(int fd, int operation)
  flock: { parameters: ["i32", "i32"], result: "i32" },
  // int statfs(const char *path, struct statfs *buf)
  statfs: { parameters: ["buffer", "buffer"], result: "i32" },
  // int fstat(int fd, struct stat *buf)
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  // int ioctl(int fd, unsigned long request, ...) — only argument-less requests
  ioctl: { parameters: ["i32", "u64"], result: "i32" },
  // int ioctl(int fd, unsigned long request, void *arg) — ioctl is variadic,
  // so each argument form it is called with is bound as its own entry.
  ioctl_pointer: {
    name: "ioctl",
    parameters: ["i32", "u64", "buffer"],
    result: "i32",
  },
  // int ioctl(int fd, unsigned long request, unsigned long arg)
  ioctl_integer: {
    name: "ioctl",
    parameters: ["i32", "u64", "u64"],
    result: "i32",
  },
  // pid_t gettid(void)
  gettid: { parameters: [], result: "i32" },
  // uid_t getuid(void)
  getuid: { parameters: [], result: "u32" },
  // uid_t geteuid(void)
  geteuid: { parameters: [], result: "u32" },
  // int socket(int domain, int type, int protocol)
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // int bind(int fd, const struct sockaddr *addr, socklen_t len)
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // int listen(int fd, int backlog)
  listen: { parameters: ["i32", "i32"], result: "i32" },
  // int connect(int fd, const struct sockaddr *addr, socklen_t len) — blocking
  // like every call here (errno is per thread, so never `nonblocking`); make
  // the socket SOCK_NONBLOCK to get EINPROGRESS instead of a wait.
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  // int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
  // ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t alen)
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"],
    result: "isize",
  },
  // ssize_t recv(int fd, void *buf, size_t len, int flags)
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  // int *__errno_location(void)
  __errno_location: { parameters: [], result: "pointer" },
  // void *memcpy(void *dest, const void *src, size_t n) — reads errno without
  // UnsafePointerView, which would need an unscoped --allow-ffi.
  memcpy: { parameters: ["buffer", "pointer", "usize"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The typed symbols of the opened libc. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

/**
 * Where libc is loaded from: `NSNET_LIBC` when set, else the soname. A scoped
 * `--allow-ffi=PATH` needs the absolute path (a bare name is resolved against
 * the current directory by the permission check).
 */
function libcPath(): string {
  return getEnv("NSNET_LIBC") ?? "libc.so.6";
}

type SymbolName = keyof typeof LIBC_SYMBOLS;

/** Every library opened so far: kept, so that no symbol is ever unloaded. */
const opened: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>[] = [];
let symbols: Libc | undefined;

/**
 * Binds `names` (with errno's two helpers on the first call, so that reading
 * errno never binds, and so never clobbers it) and caches them on `table`.
 */
function bind(table: Libc, names: readonly SymbolName[]): void {
  const wanted = opened.length === 0
    ? [...names, "__errno_location", "memcpy"] as SymbolName[]
    : names;
  const subset = Object.fromEntries(
    wanted.map((name) => [name, LIBC_SYMBOLS[name]]),
  ) as Deno.ForeignLibraryInterface;
  let lib: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>;
  try {
    lib = Deno.dlopen(libcPath(), subset);
  } catch (cause) {
    // Deno's own permission errors say which flag is missing: they pass
    // through untouched, so that callers can catch them by kind.
    if (
      cause instanceof Deno.errors.PermissionDenied ||
      cause instanceof Deno.errors.NotCapable
    ) throw cause;
    throw new Error(
      `cannot load libc (${libcPath()}): run with --allow-ffi, or set NSNET_LIBC to libc's absolute path`,
      { cause },
    );
  }
  opened.push(lib);
  for (const name of wanted) {
    Object.defineProperty(table, name, {
      value: lib.symbols[name],
      enumerable: true,
    });
  }
}

/**
 * libc's symbols. Each is bound on its first use: binding all of them at
 * once costs about 4 ms, a tenth of a short nsnet command.
 */
export function libc(): Libc {
  if (symbols === undefined) {
    const table = {} as Libc;
    for (const name of Object.keys(LIBC_SYMBOLS) as SymbolName[]) {
      Object.defineProperty(table, name, {
        get: () => {
          bind(table, [name]);
          return table[name];
        },
        enumerable: true,
        configurable: true,
      });
    }
    symbols = table;
  }
  return symbols;
}

/**
 * Binds `names` (default: every symbol) that are not bound yet, in one go:
 * for a process that will use them soon and has time now, and for tests,
 * whose sanitizer counts a library loaded during a test as a leak.
 */
export function bindLibcSymbols(
  names: readonly (keyof typeof LIBC_SYMBOLS)[] = Object.keys(
    LIBC_SYMBOLS,
  ) as SymbolName[],
): void {
  const table = libc();
  const unbound = names.filter((name) =>
    Object.getOwnPropertyDescriptor(table, name)?.get !== undefined
  );
  if (unbound.length > 0) bind(table, unbound);
}

const errnoCell = new Int32Array(1);

/**
 * The calling thread's errno. Read it right after the failing call, on the same
 * thread: any call in between may overwrite it.
 */
export function errno(): number {
  const sym = libc();
  sym.memcpy(errnoCell, sym.__errno_location(), 4n);
  return errnoCell[0]!;
}

const encoder = new TextEncoder();

/** A NUL-terminated copy of `s` for passing as `const char *`. */
export function cString(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s + "\0");
}
