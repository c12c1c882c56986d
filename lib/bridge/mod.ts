/**
 * nsnet's built-in bridge backend: named networks (a Linux bridge, a subnet,
 * a gateway), its file-locked IPAM, and connecting a namespace to a network
 * with a veth pair and nftables masquerading, as Podman's netavark does.
 * Sandboxes use it by default (`network: "bridge"`); this subpath is for
 * managing networks and for wiring namespaces of your own.
 *
 * Root, or a script inside nsnet's user namespace (`nsnet unshare`), with
 * `--allow-ffi`, `--allow-read`, `--allow-write` and `--allow-run` (`nft`).
 *
 * @example Create a network, and remove it again
 * ```ts
 * import { createNetwork, listNetworks, removeNetwork } from "@nsnet/nsnet/bridge";
 *
 * createNetwork("lab", { subnet: "10.99.0.0/24" });
 * console.log(listNetworks().map((n) => `${n.name} ${n.subnet}`));
 * removeNetwork("lab");
 * ```
 *
 * @module
 */

export {
  type BridgeSubnet,
  createNetwork,
  type CreateNetworkOptions,
  DEFAULT_NETWORK,
  DEFAULT_NETWORK_NAME,
  getNetwork,
  listNetworks,
  type NetworkConfig,
  NetworkExistsError,
  type NetworkStoreOptions,
  parseSubnet,
  removeNetwork,
  subnetsOverlap,
  validateNetwork,
  validateNetworkName,
} from "./network.ts";
export { AddressesExhaustedError } from "./ipam.ts";
export {
  AlreadyConnectedError,
  type BridgeContext,
  type BridgeOptions,
  hostVethName,
  rootBridgeContext,
  rootlessBridgeContext,
  setupBridge,
  teardownBridge,
} from "./backend.ts";
export { NftablesError } from "./nftables.ts";
