/**
 * The resolv.conf of a private network namespace, as a pure function
 * of the host's files: which nameservers, search domains and options it gets.
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import { isIPv6LinkLocal, isLocalAddress, parseIPAddress } from "./ip.ts";
import {
  isResolvConfWord,
  optionName,
  parseResolvConf,
  type ResolvConf,
} from "./parse.ts";

/** Nameservers used when nothing else is left (Google Public DNS, as Podman uses). */
export const FALLBACK_NAMESERVERS: readonly string[] = ["8.8.8.8", "8.8.4.4"];

/** IPv6 nameservers added to the fallback when IPv6 is on. */
export const FALLBACK_NAMESERVERS_IPV6: readonly string[] = [
  "2001:4860:4860::8888",
  "2001:4860:4860::8844",
];

/** Where the host's resolver settings came from. */
export type ResolvConfOrigin = "host" | "systemd-resolved" | "NetworkManager";

/** The texts the generator reads; `undefined` for a file that does not exist. */
export interface ResolvConfSources {
  /** The host's resolv.conf (an empty string when it does not exist). */
  host: string;
  /** systemd-resolved's list of upstream servers (`/run/systemd/resolve/resolv.conf`). */
  systemdResolved?: string | undefined;
  /** NetworkManager's list of upstream servers (`/run/NetworkManager/no-stub-resolv.conf`). */
  networkManager?: string | undefined;
}

/** What the namespace's resolv.conf should hold, beyond the host's settings. */
export interface ResolvConfGenerateOptions {
  /** Nameservers to put first, e.g. the helper's DNS address. */
  nameservers?: readonly string[];
  /** Search domains to use instead of the host's; `.` among them clears the list. */
  searches?: readonly string[];
  /** Options to use instead of the host's. */
  options?: readonly string[];
  /** Append the host's nameservers even though `nameservers` were given. */
  keepHostServers?: boolean;
  /** Append the host's search domains even though `searches` were given. */
  keepHostSearches?: boolean;
  /** Append the host's options even though `options` were given. */
  keepHostOptions?: boolean;
  /** Whether the namespace has IPv6; without it, IPv6 nameservers are dropped. Default `false`. */
  ipv6?: boolean;
  /**
   * Nameservers to use when no other is left. Default
   * {@linkcode FALLBACK_NAMESERVERS}, plus {@linkcode FALLBACK_NAMESERVERS_IPV6}
   * when `ipv6` is on.
   */
  fallbackNameservers?: readonly string[];
}

/** A host nameserver left out, and why. */
export interface DroppedNameserver {
  /** The address as written. */
  address: string;
  /** `local` (loopback or unspecified), `ipv6` (IPv6 off) or `link-local` (zoned or fe80::/10). */
  reason: "local" | "ipv6" | "link-local";
}

/** The generator's decision, with the reasons behind it. */
export interface ResolvConfPlan {
  /** What the file will hold. */
  conf: ResolvConf;
  /** Where the host's settings were taken from. */
  origin: ResolvConfOrigin;
  /** Host nameservers that were left out. */
  dropped: DroppedNameserver[];
  /** Whether the fallback nameservers were used because nothing else was left. */
  usedFallback: boolean;
}

/**
 * The resolver behind a local stub, when every host nameserver is a loopback
 * address and one of them is a known stub: `127.0.0.53` is systemd-resolved,
 * `127.0.0.1` NetworkManager's dnsmasq. The stub is unreachable from another
 * namespace, so the upstream servers are read from that resolver's own file.
 */
export function localStubUpstream(
  conf: ResolvConf,
): ResolvConfOrigin | undefined {
  if (conf.nameservers.length === 0) return undefined;
  const allLocal = conf.nameservers.every((ns) => {
    const address = parseIPAddress(ns);
    return address !== undefined && isLocalAddress(address);
  });
  if (!allLocal) return undefined;
  for (const ns of conf.nameservers) {
    if (ns === "127.0.0.53") return "systemd-resolved";
    if (ns === "127.0.0.1") return "NetworkManager";
  }
  return undefined;
}

/**
 * Whether the options name every part of the file, so the host's files need
 * not be read at all.
 */
export function needsHostResolvConf(
  options: ResolvConfGenerateOptions,
): boolean {
  return !(
    (options.nameservers?.length ?? 0) > 0 &&
    (options.searches?.length ?? 0) > 0 &&
    (options.options?.length ?? 0) > 0 && !options.keepHostServers &&
    !options.keepHostSearches && !options.keepHostOptions
  );
}

function checkWords(kind: string, words: readonly string[]): void {
  for (const word of words) {
    if (!isResolvConfWord(word)) {
      throw new InvalidArgumentError(
        `invalid ${kind} ${JSON.stringify(word)}`,
        { hint: `a ${kind} is one word of printable ASCII without # or ;` },
      );
    }
  }
}

function checkNameservers(nameservers: readonly string[]): void {
  for (const ns of nameservers) {
    if (parseIPAddress(ns) === undefined) {
      throw new InvalidArgumentError(
        `invalid nameserver ${JSON.stringify(ns)}`,
        {
          hint: "give an IPv4 or IPv6 address such as 10.0.2.3",
        },
      );
    }
  }
}

function filterHostNameservers(
  nameservers: readonly string[],
  ipv6: boolean,
): { kept: string[]; dropped: DroppedNameserver[] } {
  const kept: string[] = [];
  const dropped: DroppedNameserver[] = [];
  for (const ns of nameservers) {
    const address = parseIPAddress(ns);
    if (address === undefined) continue;
    if (isLocalAddress(address)) dropped.push({ address: ns, reason: "local" });
    else if (address.family === 6 && !ipv6) {
      dropped.push({ address: ns, reason: "ipv6" });
    } // A zone names an interface of the host, which the namespace does not have.
    else if (address.zone !== undefined || isIPv6LinkLocal(address)) {
      dropped.push({ address: ns, reason: "link-local" });
    } else kept.push(ns);
  }
  return { kept, dropped };
}

/**
 * Decides the namespace's resolv.conf from the host's files:
 *
 * - nameservers: the given ones first; then, when none were given or
 *   `keepHostServers` is set, the host's, without loopback (127.0.0.0/8,
 *   `::1`) and unspecified addresses, without IPv6 ones unless `ipv6` is on,
 *   and never zoned or link-local IPv6 ones. When the host uses only a local
 *   stub (127.0.0.53 or 127.0.0.1), the upstream list of systemd-resolved or
 *   NetworkManager is used in its place, with that file's domains and options.
 *   If no nameserver is left at all, `fallbackNameservers`.
 * - search domains: the given ones, or the host's when none were given or
 *   `keepHostSearches` is set; a `.` among the given ones clears the list.
 * - options: the given ones, or the host's when none were given or
 *   `keepHostOptions` is set; a given option wins over a host one of the
 *   same name.
 *
 * @throws {InvalidArgumentError} when a given nameserver, domain or option is malformed.
 */
export function planResolvConf(
  sources: ResolvConfSources,
  options: ResolvConfGenerateOptions = {},
): ResolvConfPlan {
  const givenServers = options.nameservers ?? [];
  const givenSearches = options.searches ?? [];
  const givenOptions = options.options ?? [];
  checkNameservers(givenServers);
  checkWords("search domain", givenSearches);
  checkWords("option", givenOptions);
  const ipv6 = options.ipv6 ?? false;

  let host = parseResolvConf(sources.host);
  let origin: ResolvConfOrigin = "host";
  const stub = localStubUpstream(host);
  const upstream = stub === "systemd-resolved"
    ? sources.systemdResolved
    : stub === "NetworkManager"
    ? sources.networkManager
    : undefined;
  if (stub !== undefined && upstream !== undefined) {
    host = parseResolvConf(upstream);
    origin = stub;
  }

  const filtered = filterHostNameservers(host.nameservers, ipv6);
  let nameservers = [...givenServers];
  if (givenServers.length === 0 || options.keepHostServers) {
    nameservers.push(...filtered.kept);
  }
  nameservers = [...new Set(nameservers)];
  const usedFallback = nameservers.length === 0;
  if (usedFallback) {
    nameservers = [
      ...(options.fallbackNameservers ??
        (ipv6
          ? [...FALLBACK_NAMESERVERS, ...FALLBACK_NAMESERVERS_IPV6]
          : FALLBACK_NAMESERVERS)),
    ];
  }

  const cleared = givenSearches.includes(".");
  let search = cleared ? [] : [...givenSearches];
  if (givenSearches.length === 0 || (options.keepHostSearches && !cleared)) {
    search.push(...host.search);
  }
  search = [...new Set(search.filter((d) => d !== "."))];

  const resolverOptions = [...givenOptions];
  if (givenOptions.length === 0 || options.keepHostOptions) {
    const given = new Set(givenOptions.map(optionName));
    resolverOptions.push(
      ...host.options.filter((o) => !given.has(optionName(o))),
    );
  }

  return {
    conf: { nameservers, search, options: resolverOptions },
    origin,
    dropped: filtered.dropped,
    usedFallback,
  };
}

/** The header line nsnet writes at the top of a generated resolv.conf. */
export const RESOLV_CONF_HEADER =
  "# Generated by nsnet for a private network namespace.";

/** Writes a resolv.conf in the order search, nameservers, options, ending in a newline. */
export function formatResolvConf(conf: ResolvConf): string {
  const lines = [RESOLV_CONF_HEADER];
  if (conf.search.length > 0) lines.push(`search ${conf.search.join(" ")}`);
  for (const ns of conf.nameservers) lines.push(`nameserver ${ns}`);
  if (conf.options.length > 0) lines.push(`options ${conf.options.join(" ")}`);
  return lines.join("\n") + "\n";
}

/**
 * Text in, text out: the namespace's resolv.conf for the given host files.
 * See {@linkcode planResolvConf} for the rules.
 *
 * @example
 * ```ts
 * import { generateResolvConf } from "./generate.ts";
 * const text = generateResolvConf(
 *   { host: "nameserver 127.0.0.53\nsearch lan\n", systemdResolved: "nameserver 192.168.1.1\nsearch lan\n" },
 *   { nameservers: ["10.0.2.3"], keepHostServers: true },
 * );
 * // search lan / nameserver 10.0.2.3 / nameserver 192.168.1.1
 * ```
 */
export function generateResolvConf(
  sources: ResolvConfSources,
  options: ResolvConfGenerateOptions = {},
): string {
  return formatResolvConf(planResolvConf(sources, options).conf);
}
