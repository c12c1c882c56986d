/**
 * The netavark backend: Podman's network definitions and `netavark
 * setup`/`teardown` driven as Podman drives them.
 *
 * @module
 */

export {
  defaultPodmanNetworksDir,
  getPodmanNetwork,
  InvalidPodmanNetworkError,
  ipv4Subnet,
  listPodmanNetworks,
  parsePodmanNetwork,
  PODMAN_DEFAULT_NETWORK,
  PODMAN_DEFAULT_NETWORK_NAME,
  type PodmanNetwork,
  type PodmanNetworkStoreOptions,
  type PodmanSubnet,
  validatePodmanNetwork,
} from "./network.ts";
export {
  defaultNetavarkRunDir,
  findNetavark,
  HELPER_BINARY_DIRS,
  type NetavarkAttachment,
  netavarkAvailable,
  netavarkContainerId,
  NetavarkError,
  NetavarkNotFoundError,
  type NetavarkOptions,
  type NetavarkPortMapping,
  netavarkSetup,
  netavarkSetupDetailed,
  type NetavarkSetupResult,
  type NetavarkSpawn,
  type NetavarkSpawnOptions,
  type NetavarkStatusBlock,
  netavarkTeardown,
  parseNetavarkAnswer,
  toNetavarkPortMappings,
} from "./driver.ts";
