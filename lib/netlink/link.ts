/**
 * Links over rtnetlink, as `ip link` does them: list, get one by name or
 * index, create (veth, bridge, ifb, macvlan, vxlan, vlan, ipvlan; tun/tap
 * through /dev/net/tun, as `ip tuntap` does), change (up/down, MTU, MAC,
 * name, master, namespace) and delete. Each change is one request answered by
 * an ACK; kernel errors come back as {@linkcode NetlinkError}.
 *
 * @module
 */

import { Errno } from "../../ffi/errno.ts";
import {
  createPersistentTun,
  removePersistentTun,
  type TunDeviceOptions,
} from "../../ffi/tun.ts";
import { InvalidArgumentError, SyscallError } from "../errors.ts";
import { MessageWriter } from "./codec.ts";
import {
  AF,
  IFF,
  IFLA,
  IFLA_INFO,
  IFLA_MACVLAN,
  IFLA_VXLAN,
  MACVLAN_MODE,
  NLM_F,
  RTEXT_FILTER,
  RTM,
  SIZE,
  VETH_INFO,
} from "./constants.ts";
import { LinkNotFoundError, NetlinkError } from "./errors.ts";
import { parseIP, parseMac } from "./ip_address.ts";
import { decodeLink, type Link } from "./link_message.ts";
import {
  IFLA_IPVLAN,
  IFLA_TUN,
  IFLA_VLAN,
  IPVLAN_MODES,
  TUN_TYPES,
  VLAN_PROTOCOLS,
} from "./link_info.ts";
import type { NetlinkSocket } from "./socket.ts";

/** A link named by its interface name or its index. */
export type LinkRef = string | number;

/** Options for {@linkcode listLinks}. */
export interface ListLinksOptions {
  /** Include the 64-bit statistics (default true). */
  stats?: boolean;
}

function writeIfinfo(
  writer: MessageWriter,
  index = 0,
  flags = 0,
  change = 0,
): MessageWriter {
  return writer.struct(SIZE.IFINFOMSG, (view, at) => {
    view.setUint8(at, AF.UNSPEC);
    view.setInt32(at + 4, index, true);
    view.setUint32(at + 8, flags, true);
    view.setUint32(at + 12, change, true);
  });
}

function decodeLinkMessage(
  bytes: Uint8Array,
  view: DataView,
  body: number,
  end: number,
): Link {
  return decodeLink(bytes, view, body, end);
}

/** Every link in the socket's namespace, in index order. */
export function listLinks(
  sock: NetlinkSocket,
  options: ListLinksOptions = {},
): Link[] {
  const writer = writeIfinfo(
    new MessageWriter(RTM.GETLINK, NLM_F.REQUEST | NLM_F.DUMP),
  )
    .u32(IFLA.EXT_MASK, extMask(options.stats));
  return sock.dump(writer, "list links", decodeLinkMessage);
}

/**
 * The IFLA_EXT_MASK of a link request. Never 0: only a non-zero mask makes the
 * kernel size a dump's buffer to its largest link; with 0 it uses
 * NLMSG_GOODSIZE, and a link whose message is larger (hundreds of altnames,
 * many VFs) is left out of the dump without a word. VF is what iproute2 asks.
 */
function extMask(stats: boolean | undefined): number {
  return RTEXT_FILTER.VF | (stats === false ? RTEXT_FILTER.SKIP_STATS : 0);
}

function refOperation(verb: string, link: LinkRef): string {
  return typeof link === "number"
    ? `${verb} link #${link}`
    : `${verb} link ${link}`;
}

function rethrowMissing(
  error: unknown,
  operation: string,
  link: LinkRef,
): never {
  if (error instanceof NetlinkError && error.code === "ENODEV") {
    throw new LinkNotFoundError(operation, link, error.kernelMessage, {
      cause: error,
    });
  }
  throw error;
}

function identify(writer: MessageWriter, link: LinkRef): MessageWriter {
  if (typeof link === "number") return writeIfinfo(writer, link);
  validateLinkName(link);
  return writeIfinfo(writer, 0).string(IFLA.IFNAME, link);
}

/** Checks an interface name the way the kernel will (1–15 bytes, no `/`, `:` or whitespace). */
export function validateLinkName(name: string): void {
  if (
    name.length === 0 || new TextEncoder().encode(name).length > 15 ||
    /[/:\s]/.test(name) ||
    name === "." || name === ".."
  ) {
    throw new InvalidArgumentError(
      `invalid interface name ${JSON.stringify(name)}`,
      {
        hint:
          "an interface name has 1 to 15 bytes and no '/', ':' or whitespace",
      },
    );
  }
}

/**
 * One link by name or index, asked for directly (no dump). Raises
 * {@linkcode LinkNotFoundError} if there is none.
 */
export function getLink(
  sock: NetlinkSocket,
  link: LinkRef,
  options: ListLinksOptions = {},
): Link {
  const writer = identify(new MessageWriter(RTM.GETLINK, NLM_F.REQUEST), link)
    .u32(IFLA.EXT_MASK, extMask(options.stats));
  const operation = refOperation("get", link);
  try {
    return sock.get(writer, operation, decodeLinkMessage);
  } catch (error) {
    rethrowMissing(error, operation, link);
  }
}

/** The index of a link given by name or index (a number is returned as is). */
export function linkIndex(sock: NetlinkSocket, link: LinkRef): number {
  return typeof link === "number"
    ? link
    : getLink(sock, link, { stats: false }).index;
}

/** What every new link can have set at creation. */
export interface LinkCommon {
  /** The new link's name. */
  name: string;
  /** MTU. */
  mtu?: number;
  /** MAC address, e.g. `02:00:00:00:00:01`. */
  mac?: string;
  /** Bring it up at once. */
  up?: boolean;
  /** Enslave it to this bridge. */
  master?: LinkRef;
}

/** A veth pair. */
export interface VethSpec extends LinkCommon {
  /** Link kind. */
  kind: "veth";
  /** The other end. */
  peer: {
    /** The peer's name. */
    name: string;
    /** Create the peer straight in this namespace (a `NetNS`, or anything with its fd). */
    netns?: { readonly fd: number };
    /** The peer's MTU (default: the same as the first end). */
    mtu?: number;
    /** The peer's MAC address. */
    mac?: string;
  };
}

/** A bridge or an ifb device: nothing beyond the common settings. */
export interface SimpleLinkSpec extends LinkCommon {
  /** Link kind. */
  kind: "bridge" | "ifb";
}

/** A macvlan (or macvtap: the same with a character device) on a parent link. */
export interface MacvlanSpec extends LinkCommon {
  /** Link kind. */
  kind: "macvlan" | "macvtap";
  /** The parent link. */
  parent: LinkRef;
  /** The macvlan mode (default `bridge`). */
  mode?: keyof typeof MACVLAN_MODE;
}

/** A VXLAN tunnel endpoint. */
export interface VxlanSpec extends LinkCommon {
  /** Link kind. */
  kind: "vxlan";
  /** VXLAN network identifier. */
  vni: number;
  /** UDP destination port (default 4789). */
  port?: number;
  /** Underlay link. */
  parent?: LinkRef;
  /** Local underlay address. */
  local?: string;
  /** Remote or multicast group address. */
  remote?: string;
  /** TTL of the outer packets (0, the kernel's default, takes the route's hop limit). */
  ttl?: number;
  /** TOS of the outer packets. */
  tos?: number;
  /** Learn remote addresses from traffic (kernel default true). */
  learning?: boolean;
}

/**
 * An 802.1Q/802.1ad VLAN on a parent link. Needs CONFIG_VLAN_8021Q: without
 * it creation fails with {@linkcode LinkKindMissingError}.
 */
export interface VlanSpec extends LinkCommon {
  /** Link kind. */
  kind: "vlan";
  /** The parent link. */
  parent: LinkRef;
  /** VLAN id, 0–4095. */
  id: number;
  /** Tag protocol (default `802.1Q`). */
  protocol?: "802.1Q" | "802.1ad";
}

/**
 * An ipvlan (or ipvtap) on a parent link. Needs CONFIG_IPVLAN (CONFIG_IPVTAP).
 */
export interface IpvlanSpec extends LinkCommon {
  /** Link kind. */
  kind: "ipvlan" | "ipvtap";
  /** The parent link. */
  parent: LinkRef;
  /** Mode (default `l3`, as the kernel's). */
  mode?: "l2" | "l3" | "l3s";
  /** `bridge` (default), `private` or `vepa`. */
  flag?: "bridge" | "private" | "vepa";
}

/**
 * A tun or tap device. Linux does not create tun/tap devices over rtnetlink
 * (6.18 answers EOPNOTSUPP, "tun/tap creation via rtnetlink is not
 * supported"), so {@linkcode createLink} makes them as `ip tuntap add` does:
 * it opens /dev/net/tun with the calling thread inside the namespace
 * (`netns`, else the thread's own), `ioctl(TUNSETIFF)`, TUNSETOWNER and
 * TUNSETGROUP when asked, TUNSETPERSIST, closes the fd (the device stays), then
 * applies mtu, mac, master and up over the socket. Needs CAP_NET_ADMIN there;
 * entering `netns` needs root (rootless, `NetNS.run` refuses a
 * namespace it could not come back from).
 */
export interface TunSpec extends LinkCommon {
  /** Link kind. */
  kind: "tun";
  /** `tun` (layer 3) or `tap` (layer 2). */
  type: "tun" | "tap";
  /** Owner uid. */
  owner?: number;
  /** Owner gid. */
  group?: number;
  /** Packet information header. */
  pi?: boolean;
  /** virtio-net header. */
  vnetHdr?: boolean;
  /** Several queues. */
  multiQueue?: boolean;
  /**
   * Keep the device when its last fd closes. Default and only value
   * {@linkcode createLink} takes: it keeps no fd, so a device that did not
   * persist would be gone when it returns.
   */
  persist?: boolean;
  /**
   * The namespace the socket given to {@linkcode createLink} is in, when that
   * is not the calling thread's: the device is made by opening /dev/net/tun
   * inside it (a `NetNS`). If the socket turns out to be elsewhere, the device
   * is removed again and {@linkcode createLink} fails.
   */
  netns?: { run<T>(fn: () => T): T };
}

/** Everything {@linkcode createLink} can create. */
export type LinkSpec =
  | VethSpec
  | SimpleLinkSpec
  | MacvlanSpec
  | VxlanSpec
  | VlanSpec
  | IpvlanSpec
  | TunSpec;

/** The kernel config option that provides each link kind nsnet creates. */
export const LINK_KIND_CONFIG: Readonly<Record<string, string>> = {
  veth: "CONFIG_VETH",
  bridge: "CONFIG_BRIDGE",
  ifb: "CONFIG_IFB",
  macvlan: "CONFIG_MACVLAN",
  macvtap: "CONFIG_MACVTAP",
  vxlan: "CONFIG_VXLAN",
  vlan: "CONFIG_VLAN_8021Q",
  ipvlan: "CONFIG_IPVLAN",
  ipvtap: "CONFIG_IPVTAP",
  tun: "CONFIG_TUN",
};

/**
 * The kernel has no driver for a link kind (it answered EOPNOTSUPP, "Unknown
 * device type"): the message names the config option that provides it. A
 * {@linkcode NetlinkError}, so `code` is still `EOPNOTSUPP`.
 */
export class LinkKindMissingError extends NetlinkError {
  /** The link kind asked for. */
  readonly kind: string;
  /** The kernel config option that builds it, e.g. `CONFIG_VLAN_8021Q`. */
  readonly configOption: string | undefined;

  /** Makes the error for `kind`, with the kernel's refusal as its cause. */
  constructor(kind: string, cause: NetlinkError) {
    const option = LINK_KIND_CONFIG[kind];
    super(cause.operation, cause.errno, cause.kernelMessage, {
      cause,
      hint: option === undefined
        ? undefined
        : `use a kernel built with ${option} (or load its module)`,
    });
    // Still a NetlinkError (code EOPNOTSUPP, the kernel's words); the message names the option.
    this.message = `${cause.operation}: this kernel has no ${kind} links` +
      (option === undefined ? "" : ` (${option} is not built)`) +
      (cause.kernelMessage ? `: ${cause.kernelMessage}` : "");
    this.name = "LinkKindMissingError";
    this.kind = kind;
    this.configOption = option;
  }
}

/** Resolves a link name to its index (a number is returned as is). */
export type IndexResolver = (link: LinkRef) => number;

function commonAttributes(
  writer: MessageWriter,
  spec: LinkCommon,
  indexOf: IndexResolver,
): void {
  validateLinkName(spec.name);
  writer.string(IFLA.IFNAME, spec.name);
  if (spec.mtu !== undefined) writer.u32(IFLA.MTU, spec.mtu);
  if (spec.mac !== undefined) writer.bytes(IFLA.ADDRESS, parseMac(spec.mac));
  if (spec.master !== undefined) writer.u32(IFLA.MASTER, indexOf(spec.master));
}

/** Creates a link; fails with EEXIST if the name is taken. Read it back with {@linkcode getLink}. */
export function createLink(sock: NetlinkSocket, spec: LinkSpec): void {
  if (spec.kind === "tun") {
    createTunLink(sock, spec);
    return;
  }
  const writer = createLinkRequest(spec, (link) => linkIndex(sock, link));
  try {
    sock.execute(writer, `create ${spec.kind} link ${spec.name}`);
  } catch (error) {
    if (error instanceof NetlinkError && error.code === "EOPNOTSUPP") {
      throw new LinkKindMissingError(spec.kind, error);
    }
    throw error;
  }
}

/**
 * A tun/tap through /dev/net/tun (see {@linkcode TunSpec}); fails with EEXIST,
 * as the other kinds do, when the name is taken, and leaves nothing behind
 * when a later step fails.
 */
function createTunLink(sock: NetlinkSocket, spec: TunSpec): void {
  const operation = `create tun link ${spec.name}`;
  validateLinkName(spec.name);
  if (spec.persist === false) {
    throw new InvalidArgumentError(
      `${operation}: a tun/tap that does not persist would vanish at once`,
      {
        hint:
          "createLink keeps no fd open: leave persist unset (or true), or open /dev/net/tun yourself",
      },
    );
  }
  const device: TunDeviceOptions = {
    type: spec.type,
    pi: spec.pi,
    vnetHdr: spec.vnetHdr,
    multiQueue: spec.multiQueue,
    owner: spec.owner,
    group: spec.group,
  };
  const inside = <T>(fn: () => T): T =>
    spec.netns === undefined ? fn() : spec.netns.run(fn);
  try {
    inside(() => createPersistentTun(spec.name, device));
  } catch (error) {
    if (error instanceof SyscallError && error.code === "EBUSY") {
      // TUNSETIFF with IFF_TUN_EXCL: a device of that name exists.
      throw new NetlinkError(operation, Errno.EEXIST, undefined, {
        cause: error,
      });
    }
    if (error instanceof SyscallError && error.code === "ENOENT") {
      throw new LinkKindMissingError(
        "tun",
        new NetlinkError(operation, Errno.EOPNOTSUPP, undefined, {
          cause: error,
        }),
      );
    }
    throw error;
  }
  try {
    getLink(sock, spec.name, { stats: false });
  } catch (error) {
    if (!(error instanceof LinkNotFoundError)) throw error;
    inside(() => removePersistentTun(spec.name, device));
    throw new InvalidArgumentError(
      `${operation}: the socket is not in the namespace the device was made in`,
      {
        cause: error,
        hint: "pass the socket's namespace as the spec's netns",
      },
    );
  }
  const changes: LinkChanges = {};
  if (spec.mtu !== undefined) changes.mtu = spec.mtu;
  if (spec.mac !== undefined) changes.mac = spec.mac;
  if (spec.master !== undefined) changes.master = spec.master;
  if (spec.up) changes.up = true;
  if (Object.keys(changes).length === 0) return;
  try {
    setLink(sock, spec.name, changes);
  } catch (error) {
    try {
      deleteLink(sock, spec.name);
    } catch {
      // The first error is the one to report; a link gone already is fine.
    }
    throw error;
  }
}

/** The RTM_NEWLINK request that creates the link `spec` describes. */
export function createLinkRequest(
  spec: LinkSpec,
  indexOf: IndexResolver,
): MessageWriter {
  const up = spec.up ? IFF.UP : 0;
  const writer = writeIfinfo(
    new MessageWriter(
      RTM.NEWLINK,
      NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL,
    ),
    0,
    up,
    up,
  );
  commonAttributes(writer, spec, indexOf);
  if (
    spec.kind === "macvlan" || spec.kind === "macvtap" ||
    spec.kind === "vlan" || spec.kind === "ipvlan" || spec.kind === "ipvtap"
  ) {
    writer.u32(IFLA.LINK, indexOf(spec.parent));
  }
  writer.begin(IFLA.LINKINFO).string(IFLA_INFO.KIND, spec.kind);
  switch (spec.kind) {
    case "veth": {
      validateLinkName(spec.peer.name);
      writer.begin(IFLA_INFO.DATA).begin(VETH_INFO.PEER);
      writeIfinfo(writer);
      writer.string(IFLA.IFNAME, spec.peer.name);
      const mtu = spec.peer.mtu ?? spec.mtu;
      if (mtu !== undefined) writer.u32(IFLA.MTU, mtu);
      if (spec.peer.mac !== undefined) {
        writer.bytes(IFLA.ADDRESS, parseMac(spec.peer.mac));
      }
      if (spec.peer.netns !== undefined) {
        writer.u32(IFLA.NET_NS_FD, spec.peer.netns.fd);
      }
      writer.end().end();
      break;
    }
    case "macvlan":
    case "macvtap":
      writer.begin(IFLA_INFO.DATA).u32(
        IFLA_MACVLAN.MODE,
        MACVLAN_MODE[spec.mode ?? "bridge"],
      )
        .end();
      break;
    case "vxlan": {
      writer.begin(IFLA_INFO.DATA).u32(IFLA_VXLAN.ID, spec.vni);
      const port = spec.port ?? 4789;
      writer.bytes(IFLA_VXLAN.PORT, Uint8Array.of(port >> 8, port & 0xff)); // __be16
      if (spec.parent !== undefined) {
        writer.u32(IFLA_VXLAN.LINK, indexOf(spec.parent));
      }
      if (spec.local !== undefined) {
        const ip = parseIP(spec.local);
        writer.bytes(
          ip.family === AF.INET ? IFLA_VXLAN.LOCAL : IFLA_VXLAN.LOCAL6,
          ip.bytes,
        );
      }
      if (spec.remote !== undefined) {
        const ip = parseIP(spec.remote);
        writer.bytes(
          ip.family === AF.INET ? IFLA_VXLAN.GROUP : IFLA_VXLAN.GROUP6,
          ip.bytes,
        );
      }
      if (spec.ttl !== undefined) writer.u8(VXLAN_TTL, spec.ttl);
      if (spec.tos !== undefined) writer.u8(VXLAN_TOS, spec.tos);
      if (spec.learning !== undefined) {
        writer.u8(VXLAN_LEARNING, spec.learning ? 1 : 0);
      }
      writer.end();
      break;
    }
    case "vlan": {
      if (!Number.isInteger(spec.id) || spec.id < 0 || spec.id > 4095) {
        throw new InvalidArgumentError(`VLAN id ${spec.id} is not 0–4095`);
      }
      const protocol = wordNumber(VLAN_PROTOCOLS, spec.protocol ?? "802.1Q");
      writer.begin(IFLA_INFO.DATA).u16(IFLA_VLAN.ID, spec.id)
        .bytes(
          IFLA_VLAN.PROTOCOL,
          Uint8Array.of(protocol >> 8, protocol & 0xff), // __be16
        ).end();
      break;
    }
    case "ipvlan":
    case "ipvtap":
      writer.begin(IFLA_INFO.DATA).u16(
        IFLA_IPVLAN.MODE,
        wordNumber(IPVLAN_MODES, spec.mode ?? "l3"),
      ).u16(
        IFLA_IPVLAN.FLAGS,
        { bridge: 0, private: 1, vepa: 2 }[spec.flag ?? "bridge"],
      ).end();
      break;
    case "tun":
      writer.begin(IFLA_INFO.DATA).u8(
        IFLA_TUN.TYPE,
        wordNumber(TUN_TYPES, spec.type),
      );
      if (spec.owner !== undefined) writer.u32(IFLA_TUN.OWNER, spec.owner);
      if (spec.group !== undefined) writer.u32(IFLA_TUN.GROUP, spec.group);
      if (spec.pi !== undefined) writer.u8(IFLA_TUN.PI, spec.pi ? 1 : 0);
      if (spec.vnetHdr !== undefined) {
        writer.u8(IFLA_TUN.VNET_HDR, spec.vnetHdr ? 1 : 0);
      }
      if (spec.multiQueue !== undefined) {
        writer.u8(IFLA_TUN.MULTI_QUEUE, spec.multiQueue ? 1 : 0);
      }
      if (spec.persist !== undefined) {
        writer.u8(IFLA_TUN.PERSIST, spec.persist ? 1 : 0);
      }
      writer.end();
      break;
  }
  return writer.end();
}

const VXLAN_TTL = 5;
const VXLAN_TOS = 6;
const VXLAN_LEARNING = 7;

function wordNumber(
  words: Readonly<Record<number, string>>,
  word: string,
): number {
  for (const [n, w] of Object.entries(words)) if (w === word) return Number(n);
  throw new InvalidArgumentError(
    `${JSON.stringify(word)} is not one of ${Object.values(words).join(", ")}`,
  );
}

/** Changes {@linkcode setLink} can make, all in one request. */
export interface LinkChanges {
  /** Bring the link up (true) or down (false). */
  up?: boolean;
  /** New MTU. */
  mtu?: number;
  /** New MAC address. */
  mac?: string;
  /** New name. */
  name?: string;
  /** Enslave to this link; `null` releases it from its master. */
  master?: LinkRef | null;
  /** Move the link to this namespace (a `NetNS`, or anything with its fd). */
  netns?: { readonly fd: number };
  /** Move the link to the namespace behind this fd. */
  netnsFd?: number;
}

/** Changes a link; the changes go in one request with one ACK. */
export function setLink(
  sock: NetlinkSocket,
  link: LinkRef,
  changes: LinkChanges,
): void {
  const operation = refOperation("change", link);
  // A rename needs the index: the name attribute then carries the new name.
  const index = changes.name !== undefined ? linkIndex(sock, link) : link;
  const flags = changes.up === undefined ? 0 : changes.up ? IFF.UP : 0;
  const change = changes.up === undefined ? 0 : IFF.UP;
  const writer = new MessageWriter(RTM.NEWLINK, NLM_F.REQUEST | NLM_F.ACK);
  if (typeof index === "number") writeIfinfo(writer, index, flags, change);
  else {
    validateLinkName(index);
    writeIfinfo(writer, 0, flags, change).string(IFLA.IFNAME, index);
  }
  if (changes.name !== undefined) {
    validateLinkName(changes.name);
    writer.string(IFLA.IFNAME, changes.name);
  }
  if (changes.mtu !== undefined) writer.u32(IFLA.MTU, changes.mtu);
  if (changes.mac !== undefined) {
    writer.bytes(IFLA.ADDRESS, parseMac(changes.mac));
  }
  if (changes.master !== undefined) {
    writer.u32(
      IFLA.MASTER,
      changes.master === null ? 0 : linkIndex(sock, changes.master),
    );
  }
  const fd = changes.netns?.fd ?? changes.netnsFd;
  if (fd !== undefined) writer.u32(IFLA.NET_NS_FD, fd);
  try {
    sock.execute(writer, operation);
  } catch (error) {
    rethrowMissing(error, operation, link);
  }
}

/** Moves a link into the namespace `ns`. */
export function moveLink(
  sock: NetlinkSocket,
  link: LinkRef,
  ns: { readonly fd: number },
): void {
  setLink(sock, link, { netns: ns });
}

/** Deletes a link (a veth takes its peer with it). */
export function deleteLink(sock: NetlinkSocket, link: LinkRef): void {
  const operation = refOperation("delete", link);
  const writer = identify(
    new MessageWriter(RTM.DELLINK, NLM_F.REQUEST | NLM_F.ACK),
    link,
  );
  try {
    sock.execute(writer, operation);
  } catch (error) {
    rethrowMissing(error, operation, link);
  }
}
