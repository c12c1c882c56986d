/**
 * `ip monitor` in the library: a NETLINK_ROUTE socket bound to rtnetlink's
 * multicast groups, read as an async iterator of decoded events (link,
 * address, route, neighbour and rule; new or deleted) until an AbortSignal
 * ends it.
 *
 * The socket is made inside the namespace (through {@linkcode NetNS.socket}),
 * so it hears that namespace's events. Reading never blocks Deno's event
 * loop: a `poll()` with a short timeout runs as a `nonblocking` FFI call on
 * another thread (it needs no errno and no namespace, so that is safe), and
 * the datagrams it announces are then taken with non-blocking `recv`s on
 * this thread. When the kernel had to drop events because the receive
 * buffer was full (ENOBUFS), an `overrun` event says so: the consumer knows
 * its view is stale and can dump again.
 *
 * Needs no privilege beyond being able to open a socket in the namespace.
 *
 * @module
 */

import { Errno } from "../../ffi/errno.ts";
import {
  bind,
  MSG,
  recvIfQueued,
  setsockoptInt,
  SO,
  SOCK,
  socket,
  SOL_SOCKET,
} from "../../ffi/socket.ts";
import { close } from "../../ffi/syscalls.ts";
import { getEnv } from "../env.ts";
import { SyscallError } from "../errors.ts";
import type { NetNS } from "../netns/netns.ts";
import type { Address } from "./address_message.ts";
import { align } from "./codec.ts";
import { NETLINK, RTM } from "./constants.ts";
import { decodeMessages } from "./decode.ts";
import type { Link } from "./link_message.ts";
import { type Neighbour, RTM_NEIGH } from "./neighbour_message.ts";
import type { Route } from "./route_message.ts";
import { RTM_RULE, type Rule } from "./rule_message.ts";

/** `RTNLGRP_*`: rtnetlink multicast groups (linux/rtnetlink.h). */
export const RTNLGRP = {
  LINK: 1,
  NEIGH: 3,
  IPV4_IFADDR: 5,
  IPV4_ROUTE: 7,
  IPV4_RULE: 8,
  IPV6_IFADDR: 9,
  IPV6_ROUTE: 11,
  IPV6_RULE: 19,
} as const;

/** The groups `ip monitor` listens to by default (and {@linkcode NetlinkMonitor} does). */
export const DEFAULT_MONITOR_GROUPS: readonly number[] = [
  RTNLGRP.LINK,
  RTNLGRP.IPV4_IFADDR,
  RTNLGRP.IPV6_IFADDR,
  RTNLGRP.IPV4_ROUTE,
  RTNLGRP.IPV6_ROUTE,
  RTNLGRP.NEIGH,
  RTNLGRP.IPV4_RULE,
  RTNLGRP.IPV6_RULE,
];

/** `NETLINK_ADD_MEMBERSHIP` (SOL_NETLINK). */
const NETLINK_ADD_MEMBERSHIP = 1;

/** Whether an event announces something new (or changed) or something removed. */
export type MonitorAction = "new" | "del";

/** One event from {@linkcode NetlinkMonitor}. */
export type MonitorEvent =
  | { kind: "link"; action: MonitorAction; link: Link }
  | { kind: "address"; action: MonitorAction; address: Address }
  | { kind: "route"; action: MonitorAction; route: Route }
  | { kind: "neighbour"; action: MonitorAction; neighbour: Neighbour }
  | { kind: "rule"; action: MonitorAction; rule: Rule }
  /** The kernel dropped events (ENOBUFS: the receive buffer was full). */
  | { kind: "overrun" };

/** Options for {@linkcode NetlinkMonitor.open}. */
export interface MonitorOptions {
  /** `RTNLGRP_*` groups to join (default {@linkcode DEFAULT_MONITOR_GROUPS}). */
  groups?: readonly number[];
  /** Ends the iteration (within one poll interval). */
  signal?: AbortSignal;
  /** SO_RCVBUF in bytes (the kernel doubles it and caps it at rmem_max). */
  receiveBuffer?: number;
  /** How long one poll waits before the signal is looked at again, in ms (default 50). */
  pollInterval?: number;
}

const POLL_SYMBOLS = {
  // int poll(struct pollfd *fds, nfds_t nfds, int timeout) — on another
  // thread: it blocks, and its result alone says what happened.
  poll: {
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
} as const satisfies Deno.ForeignLibraryInterface;

type PollLibrary = Deno.DynamicLibrary<typeof POLL_SYMBOLS>;

function openPoll(): PollLibrary {
  // One handle per monitor, closed with it: a library left open would be a
  // leaked resource (and Deno's test sanitizer says so).
  return Deno.dlopen(getEnv("NSNET_LIBC") ?? "libc.so.6", POLL_SYMBOLS);
}

const POLLIN = 0x1;

function actionOf(type: number): MonitorAction {
  return type === RTM.DELLINK || type === RTM.DELADDR ||
      type === RTM.DELROUTE || type === RTM_NEIGH.DELNEIGH ||
      type === RTM_RULE.DELRULE
    ? "del"
    : "new";
}

/**
 * A socket subscribed to rtnetlink events in one namespace. Iterate it with
 * `for await`; it ends when the signal aborts, or when
 * {@linkcode NetlinkMonitor.close} is called (the iteration closes it too).
 */
export class NetlinkMonitor implements AsyncIterable<MonitorEvent> {
  #fd: number;
  #library: PollLibrary | undefined;
  #polling = false;
  #closeRequested = false;
  #bytes = new Uint8Array(64 * 1024);
  readonly #signal: AbortSignal | undefined;
  readonly #interval: number;
  // struct pollfd { int fd; short events; short revents; }
  readonly #pollfd = new Uint8Array(8);

  private constructor(
    fd: number,
    library: PollLibrary,
    options: MonitorOptions,
  ) {
    this.#fd = fd;
    this.#library = library;
    this.#signal = options.signal;
    this.#interval = options.pollInterval ?? 50;
    const view = new DataView(this.#pollfd.buffer);
    view.setInt32(0, fd, true);
    view.setInt16(4, POLLIN, true);
  }

  /**
   * Opens the socket in `ns` (the calling thread's namespace when omitted)
   * and joins the groups. Events that happen after this returns are seen.
   */
  static open(ns?: NetNS, options: MonitorOptions = {}): NetlinkMonitor {
    const type = SOCK.RAW | SOCK.CLOEXEC | SOCK.NONBLOCK;
    const fd = ns === undefined
      ? socket(NETLINK.AF_NETLINK, type, NETLINK.ROUTE)
      : ns.socket(NETLINK.AF_NETLINK, type, NETLINK.ROUTE);
    try {
      const address = new Uint8Array(12);
      new DataView(address.buffer).setUint16(0, NETLINK.AF_NETLINK, true);
      bind(fd, address);
      if (options.receiveBuffer !== undefined) {
        setsockoptInt(fd, SOL_SOCKET, SO.RCVBUF, options.receiveBuffer);
      }
      for (const group of options.groups ?? DEFAULT_MONITOR_GROUPS) {
        setsockoptInt(fd, NETLINK.SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group);
      }
      return new NetlinkMonitor(fd, openPoll(), options);
    } catch (error) {
      close(fd);
      throw error;
    }
  }

  /** Whether the socket is closed. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /**
   * Closes the socket and the poll library. Idempotent. During an iteration
   * it takes effect when the pending poll returns (within the poll interval).
   */
  close(): void {
    if (this.#polling) {
      this.#closeRequested = true;
      return;
    }
    if (this.#fd >= 0) {
      const fd = this.#fd;
      this.#fd = -1;
      close(fd);
    }
    this.#library?.close();
    this.#library = undefined;
  }

  /** Closes the socket at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * The events queued now, decoded, without waiting: an `overrun` first if
   * the kernel dropped some. Empty when nothing is queued.
   */
  takeQueued(): MonitorEvent[] {
    const events: MonitorEvent[] = [];
    for (;;) {
      let size: number | undefined;
      try {
        size = recvIfQueued(this.#fd, this.#bytes, 0, MSG.PEEK | MSG.TRUNC);
        if (size === undefined) return events;
        if (size > this.#bytes.length) {
          this.#bytes = new Uint8Array(align(size) + 4096);
        }
        size = recvIfQueued(this.#fd, this.#bytes, this.#bytes.length, 0);
      } catch (error) {
        if (error instanceof SyscallError && error.errno === Errno.ENOBUFS) {
          events.push({ kind: "overrun" });
          continue;
        }
        throw error;
      }
      if (size === undefined) return events;
      for (const message of decodeMessages(this.#bytes.subarray(0, size))) {
        const action = actionOf(message.header.type);
        switch (message.kind) {
          case "link":
            events.push({ kind: "link", action, link: message.link });
            break;
          case "address":
            events.push({ kind: "address", action, address: message.address });
            break;
          case "route":
            events.push({ kind: "route", action, route: message.route });
            break;
          case "neighbour":
            events.push({
              kind: "neighbour",
              action,
              neighbour: message.neighbour,
            });
            break;
          case "rule":
            events.push({ kind: "rule", action, rule: message.rule });
            break;
        }
      }
    }
  }

  /** Events as they happen, until the signal aborts; the socket is closed at the end. */
  async *[Symbol.asyncIterator](): AsyncGenerator<MonitorEvent, void, void> {
    try {
      while (
        this.#fd >= 0 && !this.#closeRequested && !this.#signal?.aborted
      ) {
        const queued = this.takeQueued();
        if (queued.length > 0) {
          yield* queued;
          continue;
        }
        this.#polling = true;
        try {
          // Errors (EINTR) and timeouts alike just mean: look again.
          await this.#library!.symbols.poll(this.#pollfd, 1n, this.#interval);
        } finally {
          this.#polling = false;
        }
      }
    } finally {
      this.close();
    }
  }
}

/**
 * The events of namespace `ns` (the calling thread's when omitted) as they
 * happen, until `options.signal` aborts: `for await (const e of
 * monitor(ns, { signal }))`.
 */
export function monitor(
  ns?: NetNS,
  options: MonitorOptions = {},
): AsyncIterable<MonitorEvent> {
  return NetlinkMonitor.open(ns, options);
}
