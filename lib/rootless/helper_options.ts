/**
 * Options of the rootless network helper, checked before anything is
 * created, and the program to run for each helper kind.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError } from "../errors.ts";
import { getEnv } from "../env.ts";
import { isExecutableFile } from "../fs.ts";
import {
  DEFAULT_HELPER_CIDR,
  type HelperAddresses,
  helperAddresses,
} from "../resolv_conf/helper_addresses.ts";
import { parseIPAddress } from "../resolv_conf/ip.ts";

/** A user-mode network helper nsnet can drive. */
export type HelperKind = "slirp4netns" | "pasta";
/** The user-mode network helpers nsnet can drive, the default first. */
export const HELPER_KINDS: readonly HelperKind[] = ["slirp4netns", "pasta"];

/** Options for the helper of a rootless namespace. */
export interface HelperOptions {
  /** Which helper; default: the first installed of slirp4netns, pasta. */
  helper?: HelperKind;
  /** Path of the helper binary; default: looked up in PATH. */
  helperPath?: string;
  /** MTU of the tap device, 68–65521; default 65520. */
  mtu?: number;
  /** IPv4 subnet of the namespace side; default 10.0.2.0/24. */
  cidr?: string;
  /** Enable IPv6. */
  ipv6?: boolean;
  /** Let the namespace reach the host's loopback at the gateway address. */
  allowHostLoopback?: boolean;
  /** Outbound IPv4 source address. */
  outboundAddr?: string;
  /** Outbound IPv6 source address (needs `ipv6`). */
  outboundAddr6?: string;
  /** slirp4netns: `--enable-sandbox`. */
  sandbox?: boolean;
  /** slirp4netns: `--enable-seccomp`. */
  seccomp?: boolean;
  /** slirp4netns: open an API socket (for port forwarding). */
  apiSocket?: boolean;
}

/** Options after checking, with every default filled in. */
export interface ResolvedHelperOptions {
  /** The helper kind. */
  helper: HelperKind;
  /** Absolute path of its binary. */
  binary: string;
  /** MTU. */
  mtu: number;
  /** Subnet. */
  cidr: string;
  /** Gateway, DNS and guest addresses in the subnet. */
  addresses: HelperAddresses;
  /** IPv6 on. */
  ipv6: boolean;
  /** Host loopback reachable. */
  allowHostLoopback: boolean;
  /** Outbound IPv4 address, if any. */
  outboundAddr?: string;
  /** Outbound IPv6 address, if any. */
  outboundAddr6?: string;
  /** slirp4netns sandbox. */
  sandbox: boolean;
  /** slirp4netns seccomp. */
  seccomp: boolean;
  /** slirp4netns API socket. */
  apiSocket: boolean;
}

/** Default MTU of the helper's tap device (Podman's). */
export const DEFAULT_MTU = 65520;

/** Finds `program` in PATH (plus /usr/sbin and /sbin, where iptables lives: S5). */
export function findInPath(program: string): string | undefined {
  const dirs = [
    ...(getEnv("PATH") ?? "/usr/bin:/bin").split(":"),
    "/usr/sbin",
    "/sbin",
  ];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = `${dir}/${program}`;
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Checks `options` and fills in defaults. Every mistake is an
 * {@linkcode InvalidArgumentError} that names the option, raised before
 * anything is created.
 */
export function resolveHelperOptions(
  options: HelperOptions = {},
): ResolvedHelperOptions {
  if (options.helper !== undefined && !HELPER_KINDS.includes(options.helper)) {
    throw new InvalidArgumentError(
      `unknown helper ${JSON.stringify(options.helper)}`,
      {
        hint: `use one of: ${HELPER_KINDS.join(", ")}`,
      },
    );
  }
  const mtu = options.mtu ?? DEFAULT_MTU;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65521) {
    throw new InvalidArgumentError(`MTU ${options.mtu} is out of range`, {
      hint: "give an MTU from 68 to 65521",
    });
  }
  const cidr = options.cidr ?? DEFAULT_HELPER_CIDR;
  const addresses = helperAddresses(cidr);
  checkAddress("outbound address", options.outboundAddr, 4);
  checkAddress("outbound IPv6 address", options.outboundAddr6, 6);
  if (options.outboundAddr6 !== undefined && !options.ipv6) {
    throw new InvalidArgumentError("an outbound IPv6 address needs IPv6", {
      hint: "add --ipv6",
    });
  }
  const helper = options.helper ?? defaultHelper(options.helperPath);
  const binary = options.helperPath ?? findInPath(helper);
  if (binary === undefined) {
    throw new NsnetError(`${helper} is not installed (not found in PATH)`, {
      hint: helper === "pasta"
        ? "install the passt package"
        : "install the slirp4netns package",
    });
  }
  return {
    helper,
    binary,
    mtu,
    cidr,
    addresses,
    ipv6: options.ipv6 ?? false,
    allowHostLoopback: options.allowHostLoopback ?? false,
    outboundAddr: options.outboundAddr,
    outboundAddr6: options.outboundAddr6,
    sandbox: options.sandbox ?? false,
    seccomp: options.seccomp ?? false,
    apiSocket: options.apiSocket ?? false,
  };
}

function checkAddress(
  what: string,
  value: string | undefined,
  family: 4 | 6,
): void {
  if (value === undefined) return;
  const parsed = parseIPAddress(value);
  if (parsed === undefined || parsed.family !== family) {
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(value)} is not an IPv${family} address`,
    );
  }
}

/** The helper used when none is asked for: slirp4netns if installed (as the founding document), else pasta. */
export function defaultHelper(helperPath?: string): HelperKind {
  if (helperPath !== undefined) {
    return helperPath.split("/").pop()?.startsWith("pasta")
      ? "pasta"
      : "slirp4netns";
  }
  if (findInPath("slirp4netns") !== undefined) return "slirp4netns";
  if (findInPath("pasta") !== undefined) return "pasta";
  throw new NsnetError("no rootless network helper is installed", {
    hint: "install slirp4netns or passt (pasta)",
  });
}
