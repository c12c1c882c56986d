/**
 * What a sandbox's status (Podman's StatusBlock, S11) says about its
 * addresses: read by the port forwarder and by the `Sandbox` handle.
 *
 * @module
 */

import type { StatusBlock } from "../inspect.ts";

/** The sandbox's first IPv4 address in `status`, without its prefix length. */
export function sandboxAddress(status: StatusBlock): string | undefined {
  for (const cidr of statusAddresses(status)) {
    const address = cidr.split("/")[0];
    if (address !== undefined && !address.includes(":")) return address;
  }
  return undefined;
}

/** Every address in `status`, as CIDR strings (`10.89.0.2/24`), interface by interface. */
export function statusAddresses(status: StatusBlock): string[] {
  const addresses: string[] = [];
  for (const iface of Object.values(status.interfaces ?? {})) {
    for (const subnet of iface.subnets ?? []) addresses.push(subnet.ipnet);
  }
  return addresses;
}

/** The first gateway in `status`, if any. */
export function statusGateway(status: StatusBlock): string | undefined {
  for (const iface of Object.values(status.interfaces ?? {})) {
    for (const subnet of iface.subnets ?? []) {
      if (subnet.gateway) return subnet.gateway;
    }
  }
  return undefined;
}
