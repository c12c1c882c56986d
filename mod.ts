/**
 * nsnet: Linux network namespaces from Deno, root and rootless.
 *
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

export {
  InvalidArgumentError,
  NamespaceExistsError,
  NamespaceNotFoundError,
  NotANamespaceError,
  NsnetError,
  type NsnetErrorOptions,
  SyscallError,
} from "./lib/errors.ts";
export {
  canReturnTo,
  currentNS,
  getNS,
  isIPLiteral,
  NetNS,
  processNS,
  restoreThreadNS,
  THREAD_NETNS_PATH,
  threadCanReturn,
} from "./lib/netns/netns.ts";
export {
  type AdoptOptions,
  adoptProcessNetNS,
  type CreateOptions,
  newNS,
  newNSWithName,
} from "./lib/netns/create.ts";
export { unmountNS, type UnmountOptions } from "./lib/netns/teardown.ts";
export {
  identifyPID,
  listNS,
  type NSEntry,
  pidsInNS,
} from "./lib/netns/list.ts";
export {
  MAX_NAME_BYTES,
  randomNSName,
  validateNSName,
} from "./lib/netns/name.ts";
export {
  nsPath,
  nsRunDir,
  prepareRunDir,
  ROOT_NETNS_RUN_DIR,
} from "./lib/netns/run_dir.ts";
export { isRootless } from "./lib/rootless/detect.ts";
export { getEnv } from "./lib/env.ts";
export {
  hostUid,
  rootlessStateDir,
  runtimeDir,
} from "./lib/rootless/runtime_dir.ts";
export {
  inNsnetUserNS,
  isPauseProcess,
  livePause,
  needsUserNS,
  PAUSE_NAME,
  pausePidFile,
} from "./lib/rootless/userns.ts";
export { writeFileAtomic, writeFileAtomicSync } from "./lib/fs.ts";
export {
  defaultStaticDir,
  getRootlessNetNS,
  readInfo,
  releaseRootlessReference,
  RootlessContextError,
  rootlessDown,
  type RootlessDownOptions,
  type RootlessInfo,
  RootlessNetNS,
  rootlessNetNSName,
  type RootlessNetNSOptions,
  type RootlessPaths,
  rootlessPaths,
  type RootlessStatus,
  rootlessStatus,
  type SpawnInsideOptions,
} from "./lib/rootless/netns.ts";
export {
  DEFAULT_MTU,
  HELPER_KINDS,
  type HelperKind,
  type HelperOptions,
  type ResolvedHelperOptions,
  resolveHelperOptions,
} from "./lib/rootless/helper_options.ts";
export { ThreadRunError } from "./lib/rootless/thread_run.ts";
export {
  type HelperIdentity,
  isHelperProcess,
  readPidFile,
  stopHelper,
  type StopHelperOptions,
  type StopResult,
} from "./lib/rootless/helper_process.ts";
export {
  insideMountPlan,
  type MountPlanInput,
  type MountStep,
  spawnWithMounts,
  type SpawnWithMountsOptions,
} from "./lib/rootless/inside.ts";
export {
  addToIPv4,
  DEFAULT_HELPER_CIDR,
  type DroppedNameserver,
  FALLBACK_NAMESERVERS,
  FALLBACK_NAMESERVERS_IPV6,
  formatResolvConf,
  generateResolvConf,
  HELPER_OFFSETS,
  type HelperAddresses,
  helperAddresses,
  helperDnsAddress,
  type IPv4Subnet,
  localStubUpstream,
  MAX_RESOLV_CONF_BYTES,
  MAX_RESOLV_CONF_LINKS,
  NETWORK_MANAGER_UPSTREAM_PATH,
  parseIPv4Cidr,
  parseResolvConf,
  planResolvConf,
  type ReadResolvConfSources,
  readResolvConfSources,
  RESOLV_CONF_PATH,
  type ResolvConf,
  ResolvConfError,
  type ResolvConfErrorOptions,
  type ResolvConfErrorReason,
  type ResolvConfGenerateOptions,
  type ResolvConfLink,
  type ResolvConfOrigin,
  type ResolvConfPathOptions,
  type ResolvConfPathTrace,
  type ResolvConfPlan,
  resolvConfPlanFromFiles,
  type ResolvConfSourceOptions,
  type ResolvConfSources,
  resolveResolvConfPath,
  SYSTEMD_RESOLVED_UPSTREAM_PATH,
  traceResolvConfPath,
  writeResolvConf,
  type WriteResolvConfOptions,
} from "./lib/resolv_conf/mod.ts";
export { exitStatus, waitForwardingSignals } from "./lib/child.ts";
export {
  debug,
  debugEnabled,
  logHelperOutput,
  setDebug,
  warn,
} from "./lib/log.ts";
export * from "./lib/netlink/mod.ts";
export {
  inspectNetNS,
  type NetAddress,
  type NetInterface,
  type StatusBlock,
} from "./lib/inspect.ts";
export { type NetIO, netIO, readNetIO } from "./lib/stats.ts";
export * from "./lib/ports/mod.ts";
export * from "./lib/bridge/network.ts";
export * from "./lib/bridge/ipam.ts";
export * from "./lib/bridge/nftables.ts";
export * from "./lib/bridge/backend.ts";
export {
  adoptSandbox,
  createSandbox,
  type CreateSandboxOptions,
  inspectSandbox,
  removeSandbox,
  type RemoveSandboxOptions,
  resolveOwner,
  sandboxResolvConf,
} from "./lib/sandbox/lifecycle.ts";
export {
  listRecords as listSandboxes,
  readRecord as readSandbox,
  stateDir,
} from "./lib/sandbox/store.ts";
export { formatNetworkMode, parseNetworkMode } from "./lib/sandbox/mode.ts";
export { spawnInSandbox } from "./lib/sandbox/exec.ts";
export type {
  NetworkMode,
  SandboxConfig,
  SandboxHelper,
  SandboxPhase,
  SandboxRecord,
} from "./lib/sandbox/types.ts";
export { execInRootlessNetNS } from "./lib/rootless/run.ts";
export {
  HOLDER_NAME,
  isHolderProcess,
  spawnInHolder,
} from "./lib/rootless/holder.ts";
export { FileLock } from "./lib/lock.ts";
export { sha256, sha256Hex } from "./lib/sha256.ts";
export * from "./lib/cni/mod.ts";
export * from "./lib/netavark/mod.ts";
