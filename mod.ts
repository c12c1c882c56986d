/**
 * nsnet: Linux network namespaces from Deno, root and rootless.
 *
 * Start from {@linkcode Sandbox}: a container-style network sandbox (a
 * namespace of its own on nsnet's bridge, or `none`, `slirp4netns`, `pasta`,
 * a joined namespace, a CNI or netavark network), used the way `Deno.Command`
 * and `Deno.listen` are, and gone at the end of an `await using` block.
 * {@linkcode NetNS} is one namespace as `ip netns` knows it;
 * {@linkcode RootlessNetNS} is the shared namespace of an unprivileged user.
 *
 * Privilege: making, entering and removing namespaces needs root, or a script
 * run inside nsnet's user namespace (`nsnet unshare -- deno run -A …`).
 * Importing this module needs no permission; calls need `--allow-ffi`,
 * `--allow-read`/`--allow-write` (nsnet's state), `--allow-run` (commands,
 * helpers) and `--allow-net` (sockets): `-A` covers them.
 *
 * Subpaths hold the rest: `./netns`, `./netlink`, `./rootless`,
 * `./resolv-conf`, `./bridge`, `./ports`, `./cni`, `./netavark` and `./cli`.
 *
 * @example Two sandboxes talk over TCP, and nothing is left afterwards
 * ```ts
 * import { Sandbox } from "@nsnet/nsnet";
 *
 * await using server = await Sandbox.create();
 * await using client = await Sandbox.create();
 * const listener = server.listen({ port: 7000 });
 * const conn = await client.connect({
 *   hostname: server.addresses[0]!.split("/")[0]!,
 *   port: 7000,
 * });
 * conn.close();
 * listener.close();
 * const ip = await client.output("ip", { args: ["-brief", "address"] });
 * console.log(new TextDecoder().decode(ip.stdout));
 * console.log(client.stats().rxBytes);
 * ```
 *
 * @example One namespace, as `ip netns add blue`
 * ```ts
 * import { newNSWithName, unmountNS } from "@nsnet/nsnet";
 *
 * const ns = newNSWithName("blue");
 * try {
 *   // Sockets and processes made inside run() stay in the namespace.
 *   const listener = ns.run(() => Deno.listen({ hostname: "127.0.0.1", port: 8080 }));
 *   listener.close();
 * } finally {
 *   unmountNS(ns);
 * }
 * ```
 *
 * @module
 */

export { Sandbox, type SandboxOptions } from "./lib/sandbox/sandbox.ts";
export { runSandbox, type RunSandboxOptions } from "./lib/sandbox/run.ts";
export { currentNS, getNS, NetNS, processNS } from "./lib/netns/netns.ts";
export {
  type AdoptOptions,
  adoptProcessNetNS,
  type CreateOptions,
  newNS,
  newNSWithName,
} from "./lib/netns/create.ts";
export { unmountNS, type UnmountOptions } from "./lib/netns/teardown.ts";
export { listNS, type NSEntry } from "./lib/netns/list.ts";
export {
  getRootlessNetNS,
  RootlessContextError,
  type RootlessHold,
  RootlessNetNS,
  type RootlessNetNSOptions,
  type SpawnInsideOptions,
} from "./lib/rootless/mod.ts";
export type {
  HelperKind,
  HelperOptions,
  RootlessInfo,
  RootlessPaths,
  TeardownOptions,
  UserNSAccess,
} from "./lib/rootless/mod.ts";
export { ThreadRunError } from "./lib/rootless/thread_run.ts";
export {
  inspectNetNS,
  type NetAddress,
  type NetInterface,
  type StatusBlock,
} from "./lib/inspect.ts";
export { type NetIO, netIO } from "./lib/stats.ts";
export type { LinkStats } from "./lib/netlink/link_message.ts";
export {
  type ResolvConfPathOptions,
  resolveResolvConfPath,
} from "./lib/resolv_conf/path.ts";
export {
  ResolvConfError,
  type ResolvConfErrorOptions,
  type ResolvConfErrorReason,
} from "./lib/resolv_conf/errors.ts";
export {
  ErrnoError,
  InvalidArgumentError,
  NamespaceExistsError,
  NamespaceNotFoundError,
  NeedsUserNamespaceError,
  type NetworkBackendKind,
  NetworkNotFoundError,
  type NetworkNotFoundErrorOptions,
  NotANamespaceError,
  NsnetError,
  type NsnetErrorOptions,
  SandboxExistsError,
  SandboxNotFoundError,
  SyscallError,
} from "./lib/errors.ts";
