/**
 * resolv.conf for private network namespaces: where the host's
 * `/etc/resolv.conf` really lives, and the namespace's own file.
 *
 * @module
 */

export {
  MAX_RESOLV_CONF_LINKS,
  RESOLV_CONF_PATH,
  type ResolvConfLink,
  type ResolvConfPathOptions,
  type ResolvConfPathTrace,
  resolveResolvConfPath,
  traceResolvConfPath,
} from "./path.ts";
export { parseResolvConf, type ResolvConf } from "./parse.ts";
export {
  type DroppedNameserver,
  FALLBACK_NAMESERVERS,
  FALLBACK_NAMESERVERS_IPV6,
  formatResolvConf,
  generateResolvConf,
  localStubUpstream,
  planResolvConf,
  type ResolvConfGenerateOptions,
  type ResolvConfOrigin,
  type ResolvConfPlan,
  type ResolvConfSources,
} from "./generate.ts";
export {
  MAX_RESOLV_CONF_BYTES,
  NETWORK_MANAGER_UPSTREAM_PATH,
  type ReadResolvConfSources,
  readResolvConfSources,
  resolvConfPlanFromFiles,
  type ResolvConfSourceOptions,
  SYSTEMD_RESOLVED_UPSTREAM_PATH,
  writeResolvConf,
  type WriteResolvConfOptions,
} from "./files.ts";
export {
  addToIPv4,
  DEFAULT_HELPER_CIDR,
  HELPER_OFFSETS,
  type HelperAddresses,
  helperAddresses,
  helperDnsAddress,
  type IPv4Subnet,
  parseIPv4Cidr,
} from "./helper_addresses.ts";
export {
  ResolvConfError,
  type ResolvConfErrorOptions,
  type ResolvConfErrorReason,
} from "./errors.ts";
