/**
 * Links and addresses as `ip -j [-d] [-s] link` and `ip -j addr` print
 * them: the same keys, the same value words, so a script written against
 * iproute2's JSON reads nsnet's. Built from decoded {@linkcode Link}s and
 * {@linkcode Address}es; pure.
 *
 * @module
 */

import {
  type Address,
  addressFlagNames,
  addressProtocolName,
  familyName,
  scopeName,
  unnamedAddressFlags,
} from "./address_message.ts";
import { forEachAttribute } from "./codec.ts";
import { AF, IFF } from "./constants.ts";
import { NetlinkDecodeError } from "./errors.ts";
import { type IpJson, linkInfoIpJson } from "./link_info.ts";
import { type Link, linkFlagNames } from "./link_message.ts";

/** ARPHRD link types by the names `ip` gives them (`link/ether`...). */
export const LINK_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "netrom",
  1: "ether",
  2: "eether",
  3: "ax25",
  4: "pronet",
  5: "chaos",
  6: "ieee802",
  7: "arcnet",
  8: "atalk",
  15: "dlci",
  19: "atm",
  23: "metricom",
  24: "ieee1394",
  27: "eui64",
  32: "infiniband",
  256: "slip",
  257: "cslip",
  258: "slip6",
  259: "cslip6",
  260: "rsrvd",
  264: "adapt",
  270: "rose",
  271: "x25",
  272: "hwx25",
  280: "can",
  512: "ppp",
  513: "cisco",
  516: "lapb",
  517: "ddcmp",
  518: "rawhdlc",
  519: "rawip",
  768: "ipip",
  769: "tunnel6",
  770: "frad",
  771: "skip",
  772: "loopback",
  773: "localtlk",
  774: "fddi",
  775: "bif",
  776: "sit",
  777: "ip/ddp",
  778: "gre",
  779: "pimreg",
  780: "hippi",
  781: "ash",
  782: "econet",
  783: "irda",
  784: "fcpp",
  785: "fcal",
  786: "fcpl",
  787: "fcfb",
  800: "tr",
  801: "tr+",
  802: "ieee802.11/prism",
  803: "ieee802.11/radiotap",
  804: "ieee802.15.4",
  805: "ieee802.15.4/monitor",
  820: "phonet",
  821: "phonet_pipe",
  822: "caif",
  823: "gre6",
  824: "netlink",
  825: "6lowpan",
  65534: "none",
  65535: "void",
};

const LINK_MODES = ["DEFAULT", "DORMANT"];
const ADDR_GEN_MODES = ["eui64", "none", "stable_secret", "random"];

/** IFLA_INET6_ADDR_GEN_MODE from a link's raw IFLA_AF_SPEC, if it has one. */
export function inet6AddrGenMode(link: Link): string | undefined {
  const spec = link.unknown?.find((raw) => raw.type === 26);
  if (spec === undefined) return undefined;
  const view = new DataView(
    spec.data.buffer,
    spec.data.byteOffset,
    spec.data.byteLength,
  );
  let mode: string | undefined;
  try {
    forEachAttribute(view, 0, spec.data.length, (family, at, length) => {
      if (family !== AF.INET6) return;
      forEachAttribute(view, at, at + length, (type, inner, size) => {
        if (type === 8 && size >= 1) {
          const n = view.getUint8(inner);
          mode = ADDR_GEN_MODES[n] ?? String(n);
        }
      });
    });
  } catch (error) {
    if (!(error instanceof NetlinkDecodeError)) throw error;
  }
  return mode;
}

/** What the JSON of a link needs besides the link itself. */
export interface LinkJsonOptions {
  /** `-d`: promiscuity, MTU bounds, `linkinfo`, queues, GSO/GRO sizes. */
  details?: boolean;
  /** `-s`: `stats64` with rx and tx counters. */
  stats?: boolean;
  /** `ip link` prints `linkmode`; `ip addr` does not. */
  linkMode?: boolean;
}

/** An index-to-name function over `links`, naming unknown indexes `if<N>` as ip does. */
export function linkNamer(links: readonly Link[]): (index: number) => string {
  const names = new Map(links.map((l) => [l.index, l.name]));
  return (index) => names.get(index) ?? `if${index}`;
}

/**
 * One link as an element of `ip -j link` (with `details`, `ip -j -d
 * link`). `links` are the namespace's links, for the names of masters and
 * parents and for M-DOWN (the parent is down).
 */
export function linkIpJson(
  link: Link,
  links: readonly Link[],
  options: LinkJsonOptions = {},
): Record<string, IpJson> {
  const nameOf = linkNamer(links);
  const out: Record<string, IpJson> = { ifindex: link.index };
  let mDown = false;
  if (link.link !== undefined) {
    if (link.link === 0) out.link = null;
    else if (link.linkNetnsId !== undefined) out.link_index = link.link;
    else {
      out.link = nameOf(link.link);
      const parent = links.find((l) => l.index === link.link);
      mDown = parent === undefined || (parent.flags & IFF.UP) === 0;
    }
  }
  out.ifname = link.name;
  const flags: IpJson[] = linkFlagNames(link.flags);
  if (mDown) flags.push("M-DOWN");
  out.flags = flags;
  if (link.mtu !== 0) out.mtu = link.mtu;
  if (link.qdisc !== undefined) out.qdisc = link.qdisc;
  if (link.master !== undefined) out.master = nameOf(link.master);
  out.operstate = link.operstate;
  if (options.linkMode !== false && link.linkMode !== undefined) {
    out.linkmode = LINK_MODES[link.linkMode] ?? String(link.linkMode);
  }
  if (link.group !== undefined) {
    out.group = link.group === 0 ? "default" : String(link.group);
  }
  if (link.txqlen) out.txqlen = link.txqlen;
  out.link_type = LINK_TYPE_NAMES[link.type] ?? `[${link.type}]`;
  if (link.mac !== undefined) out.address = link.mac;
  if (link.broadcast !== undefined) {
    if ((link.flags & IFF.POINTOPOINT) !== 0) out.link_pointtopoint = true;
    out.broadcast = link.broadcast;
  }
  if (link.permanentMac !== undefined && link.permanentMac !== link.mac) {
    out.permaddr = link.permanentMac;
  }
  if (link.linkNetnsId !== undefined) out.link_netnsid = link.linkNetnsId;
  if (options.details) {
    const put = (key: string, value: number | undefined): void => {
      if (value !== undefined) out[key] = value;
    };
    put("promiscuity", link.promiscuity);
    put("allmulti", link.allmulti);
    put("min_mtu", link.minMtu);
    put("max_mtu", link.maxMtu);
    if (link.netnsImmutable) out["netns-immutable"] = true;
    if (link.info !== undefined) {
      out.linkinfo = linkInfoIpJson(link.info, nameOf);
    }
    const genMode = inet6AddrGenMode(link);
    if (genMode !== undefined) out.inet6_addr_gen_mode = genMode;
    put("num_tx_queues", link.numTxQueues);
    put("num_rx_queues", link.numRxQueues);
    put("gso_max_size", link.gsoMaxSize);
    put("gso_max_segs", link.gsoMaxSegs);
    put("tso_max_size", link.tsoMaxSize);
    put("tso_max_segs", link.tsoMaxSegs);
    put("gro_max_size", link.groMaxSize);
    put("gso_ipv4_max_size", link.gsoIpv4MaxSize);
    put("gro_ipv4_max_size", link.groIpv4MaxSize);
  }
  if (link.alias !== undefined) out.ifalias = link.alias;
  if (options.stats && link.stats !== undefined) {
    const s = link.stats;
    out.stats64 = {
      rx: {
        bytes: s.rxBytes,
        packets: s.rxPackets,
        errors: s.rxErrors,
        dropped: s.rxDropped,
        over_errors: s.rxOverErrors,
        multicast: s.multicast,
      },
      tx: {
        bytes: s.txBytes,
        packets: s.txPackets,
        errors: s.txErrors,
        dropped: s.txDropped,
        carrier_errors: s.txCarrierErrors,
        collisions: s.collisions,
      },
    };
  }
  if (link.altNames.length > 0) out.altnames = [...link.altNames];
  return out;
}

/** One address as an element of `addr_info` in `ip -j addr`. */
export function addressIpJson(address: Address): Record<string, IpJson> {
  const out: Record<string, IpJson> = {};
  const family = familyName(address.family);
  if (/^\d+$/.test(family)) out.family_index = address.family;
  else out.family = family;
  out.local = address.address;
  if (address.peer !== undefined) out.address = address.peer;
  out.prefixlen = address.prefixLength;
  if (address.metric !== undefined) out.metric = address.metric;
  if (address.broadcast !== undefined) out.broadcast = address.broadcast;
  if (address.anycast !== undefined) out.anycast = address.anycast;
  if (address.multicast !== undefined) out.multicast = address.multicast;
  out.scope = scopeName(address.scope);
  for (const name of addressFlagNames(address)) out[name] = true;
  const rest = unnamedAddressFlags(address.flags);
  if (rest !== 0) out.ifa_flags = rest.toString(16).padStart(2, "0");
  if (address.protocol !== undefined) {
    out.protocol = addressProtocolName(address.protocol);
  }
  if (address.label !== undefined) out.label = address.label;
  if (address.validLifetime !== undefined) {
    out.valid_life_time = address.validLifetime;
  }
  if (address.preferredLifetime !== undefined) {
    // ip prints a deprecated address's preferred lifetime signed.
    out.preferred_life_time = (address.flags & 0x20) !== 0 &&
        address.preferredLifetime !== 0xffffffff
      ? address.preferredLifetime | 0
      : address.preferredLifetime;
  }
  return out;
}

/**
 * `ip -j addr`: every link (as `ip addr` shows it: no `linkmode`) with its
 * addresses in `addr_info`. Links are listed even without addresses, as ip
 * does without a filter; `onlyWithAddresses` drops them (ip with `-4`/`-6`
 * or `dev`).
 */
export function addressesIpJson(
  links: readonly Link[],
  addresses: readonly Address[],
  onlyWithAddresses = false,
): Record<string, IpJson>[] {
  const out: Record<string, IpJson>[] = [];
  for (const link of links) {
    const mine = addresses.filter((a) => a.index === link.index);
    if (onlyWithAddresses && mine.length === 0) continue;
    const json = linkIpJson(link, links, { linkMode: false });
    json.addr_info = mine.map(addressIpJson);
    out.push(json);
  }
  return out;
}
