/**
 * rtnetlink protocol constants (from the kernel's uapi headers), grouped by
 * the header or attribute space they belong to.
 *
 * @module
 */

/** Socket-level constants for a netlink socket. */
export const NETLINK = {
  /** `AF_NETLINK`. */
  AF_NETLINK: 16,
  /** `NETLINK_ROUTE`: the rtnetlink protocol. */
  ROUTE: 0,
  /** `SOL_NETLINK`: the level of the netlink socket options. */
  SOL_NETLINK: 270,
  /** `NETLINK_EXT_ACK`: ask for the kernel's error text. */
  EXT_ACK: 11,
  /** `NETLINK_GET_STRICT_CHK`: make the kernel honour (and check) dump filters. */
  GET_STRICT_CHK: 12,
} as const;

/** Well-known `nlmsg_type` values. */
export const NLMSG = {
  NOOP: 1,
  ERROR: 2,
  DONE: 3,
  OVERRUN: 4,
} as const;

/** `nlmsg_flags` bits. Some values mean different things for GET and NEW requests. */
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  ECHO: 0x8,
  DUMP_INTR: 0x10,
  DUMP_FILTERED: 0x20,
  ROOT: 0x100,
  MATCH: 0x200,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
  /** On an ACK: the echoed request was cut to its header. */
  CAPPED: 0x100,
  /** On an ACK: extended-ACK attributes follow. */
  ACK_TLVS: 0x200,
} as const;

/** Extended-ACK attribute types. */
export const NLMSGERR_ATTR = { MSG: 1, OFFS: 2 } as const;

/** Attribute type bits that are flags, not part of the type. */
export const NLA_F = { NESTED: 0x8000, NET_BYTEORDER: 0x4000 } as const;
/** Mask that removes the flag bits from an attribute type. */
export const NLA_TYPE_MASK = 0x3fff;

/** rtnetlink message types. */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const;

/** Address families. */
export const AF = { UNSPEC: 0, INET: 2, INET6: 10 } as const;

/** `ifinfomsg` attribute types. */
export const IFLA = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  QDISC: 6,
  STATS: 7,
  MASTER: 10,
  TXQLEN: 13,
  OPERSTATE: 16,
  LINKMODE: 17,
  LINKINFO: 18,
  NET_NS_PID: 19,
  IFALIAS: 20,
  STATS64: 23,
  AF_SPEC: 26,
  GROUP: 27,
  NET_NS_FD: 28,
  EXT_MASK: 29,
  PROMISCUITY: 30,
  CARRIER: 33,
  CARRIER_CHANGES: 35,
  LINK_NETNSID: 37,
  MIN_MTU: 50,
  MAX_MTU: 51,
  PROP_LIST: 52,
  ALT_IFNAME: 53,
  PERM_ADDRESS: 54,
} as const;

/** `IFLA_LINKINFO` nested attribute types. */
export const IFLA_INFO = {
  KIND: 1,
  DATA: 2,
  XSTATS: 3,
  SLAVE_KIND: 4,
  SLAVE_DATA: 5,
} as const;

/** `IFLA_INFO_DATA` of a veth. */
export const VETH_INFO = { PEER: 1 } as const;

/** `IFLA_INFO_DATA` of a macvlan. */
export const IFLA_MACVLAN = { MODE: 1 } as const;

/** macvlan modes. */
export const MACVLAN_MODE = {
  private: 1,
  vepa: 2,
  bridge: 4,
  passthru: 8,
  source: 16,
} as const;

/** `IFLA_INFO_DATA` of a vxlan (the attributes nsnet sets). */
export const IFLA_VXLAN = {
  ID: 1,
  GROUP: 2,
  LINK: 3,
  LOCAL: 4,
  PORT: 15,
  GROUP6: 16,
  LOCAL6: 17,
} as const;

/** `IFLA_EXT_MASK` bits. */
export const RTEXT_FILTER = { VF: 1, SKIP_STATS: 8 } as const;

/** Interface flags (`ifi_flags`). */
export const IFF = {
  UP: 0x1,
  BROADCAST: 0x2,
  DEBUG: 0x4,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  NOTRAILERS: 0x20,
  RUNNING: 0x40,
  NOARP: 0x80,
  PROMISC: 0x100,
  ALLMULTI: 0x200,
  MASTER: 0x400,
  SLAVE: 0x800,
  MULTICAST: 0x1000,
  PORTSEL: 0x2000,
  AUTOMEDIA: 0x4000,
  DYNAMIC: 0x8000,
  LOWER_UP: 0x10000,
  DORMANT: 0x20000,
  ECHO: 0x40000,
} as const;

/** `ifaddrmsg` attribute types. */
export const IFA = {
  ADDRESS: 1,
  LOCAL: 2,
  LABEL: 3,
  BROADCAST: 4,
  ANYCAST: 5,
  CACHEINFO: 6,
  MULTICAST: 7,
  FLAGS: 8,
  RT_PRIORITY: 9,
  PROTO: 11,
} as const;

/** Address flags (`ifa_flags`, extended by `IFA_FLAGS`). */
export const IFA_F = {
  SECONDARY: 0x1,
  NODAD: 0x2,
  OPTIMISTIC: 0x4,
  DADFAILED: 0x8,
  HOMEADDRESS: 0x10,
  DEPRECATED: 0x20,
  TENTATIVE: 0x40,
  PERMANENT: 0x80,
  MANAGETEMPADDR: 0x100,
  NOPREFIXROUTE: 0x200,
  MCAUTOJOIN: 0x400,
  STABLE_PRIVACY: 0x800,
} as const;

/** `rtmsg` attribute types. */
export const RTA = {
  DST: 1,
  SRC: 2,
  IIF: 3,
  OIF: 4,
  GATEWAY: 5,
  PRIORITY: 6,
  PREFSRC: 7,
  METRICS: 8,
  MULTIPATH: 9,
  FLOW: 11,
  CACHEINFO: 12,
  TABLE: 15,
  MARK: 16,
  VIA: 18,
  PREF: 20,
  EXPIRES: 23,
  NH_ID: 30,
} as const;

/** Routing tables. */
export const RT_TABLE = {
  UNSPEC: 0,
  COMPAT: 252,
  DEFAULT: 253,
  MAIN: 254,
  LOCAL: 255,
} as const;

/** Route types. */
export const RTN = {
  UNSPEC: 0,
  UNICAST: 1,
  LOCAL: 2,
  BROADCAST: 3,
  ANYCAST: 4,
  MULTICAST: 5,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
  THROW: 9,
  NAT: 10,
} as const;

/** Route protocols (who installed the route). */
export const RTPROT = {
  UNSPEC: 0,
  REDIRECT: 1,
  KERNEL: 2,
  BOOT: 3,
  STATIC: 4,
  RA: 9,
  DHCP: 16,
} as const;

/** Scopes of routes and addresses. */
export const RT_SCOPE = {
  UNIVERSE: 0,
  SITE: 200,
  LINK: 253,
  HOST: 254,
  NOWHERE: 255,
} as const;

/** `rtm_flags` bits. */
export const RTM_F = { CLONED: 0x200 } as const;

/** Operational states (`IFLA_OPERSTATE`), RFC 2863. */
export const OPERSTATES: readonly string[] = [
  "UNKNOWN",
  "NOTPRESENT",
  "DOWN",
  "LOWERLAYERDOWN",
  "TESTING",
  "DORMANT",
  "UP",
];

/** Message sizes of the fixed headers. */
export const SIZE = {
  NLMSGHDR: 16,
  NLATTR: 4,
  IFINFOMSG: 16,
  IFADDRMSG: 8,
  RTMSG: 12,
  NLMSGERR: 20,
} as const;
