/**
 * The addresses a user-mode network helper (slirp4netns) uses inside its
 * subnet: gateway `.2`, DNS forwarder `.3`, guest `.100`, each checked to fit.
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";
import { formatIPv4, parseIPv4 } from "./ip.ts";

/** The helper's default subnet, as slirp4netns uses it. */
export const DEFAULT_HELPER_CIDR = "10.0.2.0/24";

/** Offsets from the subnet's network address, as slirp4netns assigns them. */
export const HELPER_OFFSETS = { gateway: 2, dns: 3, guest: 100 } as const;

/** A parsed IPv4 subnet. */
export interface IPv4Subnet {
  /** The network address (host bits cleared), e.g. `10.0.2.0`. */
  network: string;
  /** The prefix length, 0 to 32. */
  prefixLength: number;
  /** The subnet in CIDR notation with host bits cleared, e.g. `10.0.2.0/24`. */
  cidr: string;
}

const HINT = "give an IPv4 subnet such as 10.0.2.0/24";

/**
 * Parses `a.b.c.d/len`. Host bits are allowed and cleared (`10.0.2.5/24` is
 * `10.0.2.0/24`), as slirp4netns and Podman do.
 *
 * @throws {InvalidArgumentError} when `cidr` is not an IPv4 CIDR.
 */
export function parseIPv4Cidr(cidr: string): IPv4Subnet {
  const text = cidr.trim();
  const slash = text.indexOf("/");
  if (slash < 0) {
    throw new InvalidArgumentError(
      `invalid subnet ${JSON.stringify(cidr)}: no prefix length`,
      { hint: HINT },
    );
  }
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (addressText.includes(":")) {
    throw new InvalidArgumentError(
      `invalid subnet ${JSON.stringify(cidr)}: the helper subnet must be IPv4`,
      { hint: HINT },
    );
  }
  const address = parseIPv4(addressText);
  if (address === undefined) {
    throw new InvalidArgumentError(
      `invalid subnet ${JSON.stringify(cidr)}: ${
        JSON.stringify(addressText)
      } is not an IPv4 address`,
      { hint: HINT },
    );
  }
  if (!/^(0|[1-9][0-9]?)$/.test(prefixText) || Number(prefixText) > 32) {
    throw new InvalidArgumentError(
      `invalid subnet ${JSON.stringify(cidr)}: prefix length must be 0 to 32`,
      { hint: HINT },
    );
  }
  const prefixLength = Number(prefixText);
  const size = 2 ** (32 - prefixLength);
  const network = formatIPv4(Math.floor(address / size) * size);
  return { network, prefixLength, cidr: `${network}/${prefixLength}` };
}

/**
 * The address `offset` places after the subnet's network address, refused
 * unless it is a usable host address of the subnet (not the network or
 * broadcast address, not past the end).
 *
 * @throws {InvalidArgumentError} when `cidr` is malformed or too small.
 */
export function addToIPv4(
  cidr: string,
  offset: number,
  role = "helper",
): string {
  const subnet = parseIPv4Cidr(cidr);
  if (!Number.isSafeInteger(offset) || offset < 1) {
    throw new InvalidArgumentError(
      `invalid address offset ${offset}: must be a positive integer`,
    );
  }
  const size = 2 ** (32 - subnet.prefixLength);
  if (offset > size - 2) {
    const needed = 32 - Math.ceil(Math.log2(offset + 2));
    throw new InvalidArgumentError(
      `subnet ${subnet.cidr} is too small for the ${role} address (.${offset} from the start)`,
      {
        hint:
          `use a /${needed} or larger subnet, such as ${DEFAULT_HELPER_CIDR}`,
      },
    );
  }
  return formatIPv4(parseIPv4(subnet.network)! + offset);
}

/**
 * The helper's DNS forwarder address: the third address of the subnet
 * (`10.0.2.3` for `10.0.2.0/24`).
 *
 * @throws {InvalidArgumentError} when `cidr` is malformed, not IPv4 or too small.
 */
export function helperDnsAddress(cidr: string = DEFAULT_HELPER_CIDR): string {
  return addToIPv4(cidr, HELPER_OFFSETS.dns, "DNS");
}

/** The addresses a helper uses in its subnet. */
export interface HelperAddresses {
  /** The subnet, host bits cleared. */
  cidr: string;
  /** The prefix length. */
  prefixLength: number;
  /** The gateway, which is the host as seen from the namespace (`.2`). */
  gateway: string;
  /** The DNS forwarder (`.3`). */
  dns: string;
  /** The namespace's own address (`.100`). */
  guest: string;
}

/**
 * Gateway, DNS and guest addresses for a helper subnet, all checked to be
 * usable host addresses inside it (so the subnet must be a /25 or larger).
 *
 * @throws {InvalidArgumentError} when `cidr` is malformed, not IPv4 or too small.
 */
export function helperAddresses(
  cidr: string = DEFAULT_HELPER_CIDR,
): HelperAddresses {
  const subnet = parseIPv4Cidr(cidr);
  return {
    cidr: subnet.cidr,
    prefixLength: subnet.prefixLength,
    gateway: addToIPv4(subnet.cidr, HELPER_OFFSETS.gateway, "gateway"),
    dns: addToIPv4(subnet.cidr, HELPER_OFFSETS.dns, "DNS"),
    guest: addToIPv4(subnet.cidr, HELPER_OFFSETS.guest, "guest"),
  };
}
