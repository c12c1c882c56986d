/**
 * tun/tap devices made through `/dev/net/tun`, the way `ip tuntap add` makes
 * them: Linux does not create them over rtnetlink (it answers EOPNOTSUPP,
 * "tun/tap creation via rtnetlink is not supported").
 *
 * A tun device is created in the network namespace of the thread that opens
 * `/dev/net/tun`: call these with the calling thread inside the target
 * namespace (e.g. inside `NetNS.run`). Everything needs CAP_NET_ADMIN in the
 * user namespace that owns that network namespace.
 *
 * @module
 */

import { InvalidArgumentError, SyscallError } from "../lib/errors.ts";
import { errno, libc } from "./libc.ts";
import { close, O, openPath } from "./syscalls.ts";

/** The clone device every tun/tap is made through. */
export const TUN_DEVICE_PATH = "/dev/net/tun";

/** The tun ioctl requests (`_IOW('T', n, int)`), as `<linux/if_tun.h>` numbers them. */
export const TUN_IOCTL = {
  SETIFF: 0x400454can,
  SETPERSIST: 0x400454cbn,
  SETOWNER: 0x400454ccn,
  SETGROUP: 0x400454cen,
} as const;

/** `ifr_flags` bits of TUNSETIFF. */
export const IFF_TUN = {
  TUN: 0x0001,
  TAP: 0x0002,
  MULTI_QUEUE: 0x0100,
  NO_PI: 0x1000,
  VNET_HDR: 0x4000,
  /** Fail with EBUSY when a device of that name exists instead of attaching to it. */
  TUN_EXCL: 0x8000,
} as const;

/** What a new tun/tap device is. */
export interface TunDeviceOptions {
  /** `tun` (layer 3) or `tap` (layer 2). */
  type: "tun" | "tap";
  /** Prepend the packet information header (default false, as `ip tuntap`). */
  pi?: boolean;
  /** virtio-net header. */
  vnetHdr?: boolean;
  /** Several queues. */
  multiQueue?: boolean;
  /** Owner uid (TUNSETOWNER). */
  owner?: number;
  /** Owner gid (TUNSETGROUP). */
  group?: number;
}

const IFREQ_SIZE = 40;
const IFNAMSIZ = 16;

/** The `ifr_flags` TUNSETIFF gets for `options`. */
export function tunFlags(options: TunDeviceOptions): number {
  let flags = options.type === "tap" ? IFF_TUN.TAP : IFF_TUN.TUN;
  if (!options.pi) flags |= IFF_TUN.NO_PI;
  if (options.multiQueue) flags |= IFF_TUN.MULTI_QUEUE;
  if (options.vnetHdr) flags |= IFF_TUN.VNET_HDR;
  return flags;
}

function ifreq(name: string, flags: number): Uint8Array<ArrayBuffer> {
  const encoded = new TextEncoder().encode(name);
  if (encoded.length === 0 || encoded.length >= IFNAMSIZ) {
    throw new InvalidArgumentError(
      `invalid interface name ${JSON.stringify(name)}`,
      { hint: "an interface name has 1 to 15 bytes" },
    );
  }
  const request = new Uint8Array(IFREQ_SIZE);
  request.set(encoded, 0); // the rest stays zero: NUL-terminated
  // ifr_flags is a host-endian short right after the name; nsnet runs on
  // little-endian Linux only (x86_64, aarch64).
  new DataView(request.buffer).setUint16(IFNAMSIZ, flags, true);
  return request;
}

function ioctlPointer(
  fd: number,
  request: bigint,
  call: string,
  arg: Uint8Array<ArrayBuffer>,
  subject: string,
): void {
  if (libc().ioctl_pointer(fd, request, arg) < 0) {
    throw new SyscallError(call, errno(), subject);
  }
}

function ioctlInteger(
  fd: number,
  request: bigint,
  call: string,
  arg: number,
  subject: string,
): void {
  if (libc().ioctl_integer(fd, request, BigInt(arg)) < 0) {
    throw new SyscallError(call, errno(), subject);
  }
}

/**
 * Creates the persistent tun/tap device `name` in the calling thread's
 * network namespace: open `/dev/net/tun`, TUNSETIFF (exclusive: an existing
 * device of that name is EBUSY, never attached to), TUNSETOWNER and
 * TUNSETGROUP when asked, TUNSETPERSIST, close. The device outlives the fd;
 * it is removed with RTM_DELLINK (`deleteLink`) or
 * {@linkcode removePersistentTun}. Nothing is left when a step fails. Needs
 * CAP_NET_ADMIN in the namespace's user namespace.
 */
export function createPersistentTun(
  name: string,
  options: TunDeviceOptions,
): void {
  const request = ifreq(name, tunFlags(options) | IFF_TUN.TUN_EXCL);
  const fd = openPath(TUN_DEVICE_PATH, O.RDWR);
  try {
    ioctlPointer(fd, TUN_IOCTL.SETIFF, "ioctl(TUNSETIFF)", request, name);
    if (options.owner !== undefined) {
      ioctlInteger(
        fd,
        TUN_IOCTL.SETOWNER,
        "ioctl(TUNSETOWNER)",
        options.owner,
        name,
      );
    }
    if (options.group !== undefined) {
      ioctlInteger(
        fd,
        TUN_IOCTL.SETGROUP,
        "ioctl(TUNSETGROUP)",
        options.group,
        name,
      );
    }
    // Last: until this succeeds, closing the fd takes the device away again.
    ioctlInteger(fd, TUN_IOCTL.SETPERSIST, "ioctl(TUNSETPERSIST)", 1, name);
  } finally {
    close(fd);
  }
}

/**
 * Removes the persistent tun/tap device `name` of the calling thread's
 * namespace the way `ip tuntap del` does: attach with the same `options`
 * (type, pi, vnetHdr, multiQueue must match), clear TUNSETPERSIST, close.
 */
export function removePersistentTun(
  name: string,
  options: TunDeviceOptions,
): void {
  const request = ifreq(name, tunFlags(options));
  const fd = openPath(TUN_DEVICE_PATH, O.RDWR);
  try {
    ioctlPointer(fd, TUN_IOCTL.SETIFF, "ioctl(TUNSETIFF)", request, name);
    ioctlInteger(fd, TUN_IOCTL.SETPERSIST, "ioctl(TUNSETPERSIST)", 0, name);
  } finally {
    close(fd);
  }
}
