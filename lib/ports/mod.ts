/**
 * Publishing sandbox ports on the host (`-p`), as Podman does: specs
 * ({@linkcode parsePortSpecs}, {@linkcode probeHostPorts}), and three ways to
 * forward: nftables DNAT as root ({@linkcode publishPortsDnat}), a userspace
 * forwarder rootless ({@linkcode startForwarder}, which keeps each client's
 * address once {@linkcode prepareClientAddressRouting} has prepared the
 * namespace it connects from; UDP without `--unstable-net`), or the rootless helper's
 * own forwarding ({@linkcode slirp4netnsAddHostFwd}, {@linkcode pastaPortArgs}).
 *
 * @module
 */

export {
  PortConflictError,
  type PortConflictReason,
  PortSpecError,
} from "./errors.ts";
export {
  assertNoDuplicatePorts,
  expandPortSpecs,
  formatPortMapping,
  parsePortSpec,
  parsePortSpecs,
  PORT_PROTOCOLS,
  type PortMapping,
  type PortProtocol,
  type PortSpec,
} from "./spec.ts";
export { preparePortMappings, probeHostPorts } from "./probe.ts";
export {
  type Forwarder,
  type ForwarderOptions,
  startForwarder,
} from "./forwarder.ts";
export { prepareClientAddressRouting } from "./client_address.ts";
export {
  DEFAULT_PORTS_TABLE,
  type DnatJumpRule,
  type DnatOptions,
  type DnatTableState,
  emptyDnatState,
  enableRouteLocalnet,
  parseDnatState,
  publishDnatBatch,
  publishPortsDnat,
  readDnatState,
  unpublishDnatBatch,
  unpublishPortsDnat,
} from "./nftables_dnat.ts";
export {
  type HostFwdEntry,
  type HostFwdOptions,
  pastaPortArgs,
  slirp4netnsAddHostFwd,
  slirp4netnsListHostFwd,
  slirp4netnsRemoveHostFwd,
  slirp4netnsRequest,
} from "./helper_forwarding.ts";
