/**
 * The public API as a JSR user meets it: a small root, everything else behind
 * the subpaths declared in deno.json, and plumbing exported nowhere.
 */
import { assert, assertEquals } from "./_assert.ts";

const root = new URL("../", import.meta.url);
const config = JSON.parse(
  Deno.readTextFileSync(new URL("deno.json", root)),
) as { exports: Record<string, string> };

/** Every subpath a user can import, with its module. */
const SUBPATHS = [
  ".",
  "./netlink",
  "./rootless",
  "./resolv-conf",
  "./bridge",
  "./ports",
  "./cni",
  "./netavark",
  "./lab",
  "./cli",
];

/** Names that are implementation details wherever they live. */
const PLUMBING = [
  "sha256",
  "sha256Hex",
  "FileLock",
  "getEnv",
  "setDebug",
  "writeFileAtomic",
  "writeFileAtomicSync",
  "insideMountPlan",
  "spawnWithMounts",
  "readPidFile",
  "injectFault",
  "clearFaults",
  "checkFault",
  "crashPoint",
  "setFaultHook",
  "bindLibcSymbols",
  "enterThroughPause",
  "INSIDE",
  "viaPause",
  "ensurePause",
  "livePause",
  "writeCniCache",
  "removeCniCache",
  "lockSandbox",
];

function load(subpath: string): Promise<Record<string, unknown>> {
  const target = config.exports[subpath];
  assert(target !== undefined, `deno.json exports no ${subpath}`);
  return import(new URL(target, root).href);
}

Deno.test("deno.json declares every subpath the issue names", () => {
  for (const subpath of SUBPATHS) {
    assert(subpath in config.exports, `missing export ${subpath}`);
  }
});

Deno.test("the root export holds at most 40 runtime names, handles first", async () => {
  const mod = await load(".");
  const names = Object.keys(mod);
  assert(
    names.length <= 40,
    `root exports ${names.length}: ${names.join(", ")}`,
  );
  for (
    const name of [
      "NetNS",
      "Sandbox",
      "RootlessNetNS",
      "newNS",
      "newNSWithName",
      "getNS",
      "adoptProcessNetNS",
      "unmountNS",
      "inspectNetNS",
      "netIO",
      "resolveResolvConfPath",
      "NsnetError",
      "ErrnoError",
      "SyscallError",
      "SandboxNotFoundError",
      "SandboxExistsError",
      "NetworkNotFoundError",
    ]
  ) {
    assert(name in mod, `root does not export ${name}`);
  }
});

Deno.test("no subpath exports plumbing", async () => {
  for (const subpath of SUBPATHS) {
    const mod = await load(subpath);
    const leaked = PLUMBING.filter((name) => name in mod);
    assertEquals(leaked, [], `${subpath} exports plumbing`);
  }
});

Deno.test("error classes are caught by kind: one errno base, one not-found network", async () => {
  const mod = await load(".");
  const base = mod.NsnetError as new (...a: unknown[]) => Error;
  const errno = mod.ErrnoError as new (...a: unknown[]) => Error;
  const syscall = mod.SyscallError as { prototype: object };
  const netlink = (await load("./netlink")).NetlinkError as {
    prototype: object;
  };
  assert(syscall.prototype instanceof errno, "SyscallError is an ErrnoError");
  assert(netlink.prototype instanceof errno, "NetlinkError is an ErrnoError");
  assert(errno.prototype instanceof base, "ErrnoError is an NsnetError");
  for (const name of ["SandboxNotFoundError", "SandboxExistsError"]) {
    const cls = mod[name] as { prototype: object };
    assert(cls.prototype instanceof base, `${name} is an NsnetError`);
  }
});
