/**
 * What a sandbox is: its config (what the user asked for) and its state
 * (what exists), kept together in one record; and the interface every
 * network backend implements, here so that the backends and the lifecycle
 * that calls them both import it without importing each other.
 *
 * @module
 */

import type { StatusBlock } from "../inspect.ts";
import type { NetNS } from "../netns/netns.ts";
import type { PortMapping } from "../ports/spec.ts";
import type { HelperOptions } from "../rootless/helper_options.ts";

/** How a sandbox gets its network. */
export type NetworkMode =
  | { kind: "none" }
  | { kind: "bridge"; network: string }
  | { kind: "slirp4netns" }
  | { kind: "pasta" }
  | { kind: "ns"; path: string }
  | { kind: "sandbox"; name: string };

/** What the user asked for. */
export interface SandboxConfig {
  /** The sandbox's name. */
  name: string;
  /** Its network mode. */
  mode: NetworkMode;
  /** Port mappings as given (`[HOST_IP:]HOST_PORT:SANDBOX_PORT[/PROTO]`). */
  ports: string[];
  /** Extra DNS servers for its resolv.conf. */
  dns: string[];
  /** The backend of a named network: `builtin` (default), `cni` or `netavark`. */
  backend?: string;
  /** Built-in bridge: its IPv4 address (`--ip`), else the next free one. */
  ip?: string;
  /** Built-in bridge: its interface's MAC address (`--mac`). */
  mac?: string;
  /** Built-in bridge: other names the network's DNS responder answers for it (`--alias`). */
  aliases?: string[];
}

/** How far creation or teardown got; a record left in `creating` or `removing` is what a crash left. */
export type SandboxPhase = "creating" | "ready" | "removing";

/** A helper process started for one sandbox (helper mode, S11). */
export interface SandboxHelper {
  /** `slirp4netns` or `pasta`. */
  program: "slirp4netns" | "pasta";
  /** Its pid. */
  pid: number;
  /** slirp4netns API socket, for port forwarding. */
  apiSocket?: string;
}

/** The record kept for a sandbox. */
export interface SandboxRecord extends SandboxConfig {
  /** Record format version. */
  version: 1;
  /** When it was created (ISO 8601). */
  created: string;
  /** How far creation or teardown got. */
  phase: SandboxPhase;
  /** Whether it ran rootless. */
  rootless: boolean;
  /** Its network namespace (S9/S10/S12). */
  netnsPath?: string;
  /** Whether nsnet made that namespace (and so removes it). */
  ownsNetns: boolean;
  /** The sandbox that owns the namespace, when shared. */
  owner?: string;
  /** What the backend reported. */
  status?: StatusBlock;
  /** A helper started for it (helper mode). */
  helper?: SandboxHelper;
  /** Whether it holds a reference on the rootless namespace. */
  rootlessRef?: boolean;
  /** The ports published, host ports resolved. */
  published?: PortMapping[];
  /** The nsnet process that runs it (`nsnet run`), if any. */
  runnerPid?: number;
  /** That process's start time, so that a reused pid is not taken for it. */
  runnerStart?: string;
  /** Rootless bridge with published ports: the port forwarder process, and its start time. */
  forwarder?: { pid: number; start: string | undefined };
}

/** What every backend is given, beside the sandbox's record. */
export interface BackendOptions {
  /**
   * Helper options as the caller asked (`--allow-host-loopback`…): for the
   * sandbox's own slirp4netns or pasta in helper mode, and for the shared
   * rootless namespace's helper when a rootless named network makes it.
   */
  helper: HelperOptions;
}

/**
 * A backend made ready for one sandbox by {@linkcode NetworkBackend.prepare}:
 * everything checked, nothing created yet.
 */
export interface PreparedBackend {
  /**
   * `"own"`: the sandbox gets a new network namespace, made (and recorded,
   * loopback up, resolv.conf written) before {@linkcode setup}; `"join"`:
   * setup finds the existing namespace it joins and records it.
   */
  readonly namespace: "own" | "join";
  /** The DNS servers of its resolv.conf when the user gave none; undefined keeps the host's. */
  readonly nameservers?: string[];
  /**
   * Whether the resolv.conf lists only `nameservers`, without the host's
   * after them: a network's DNS responder, which forwards the rest itself.
   */
  readonly onlyNameservers?: boolean;
  /** Whether its resolv.conf may list IPv6 servers. */
  readonly ipv6?: boolean;
  /**
   * Gives the sandbox its network: `ns` is its own namespace (`"own"`) or
   * undefined (`"join"`). Records what it starts in `record` before starting
   * more, so that teardown finds it after a crash. Returns the status to keep
   * , undefined when there is none.
   */
  setup(record: SandboxRecord, ns: NetNS | undefined): Promise<
    StatusBlock | undefined
  >;
}

/**
 * How one network mode is set up and torn down: nsnet's built-in bridge,
 * CNI or netavark for a named network; none; a slirp4netns or pasta helper
 * of the sandbox's own; or joining a namespace (`ns:PATH`, `sandbox:NAME`).
 * The sandbox lifecycle knows only this interface; `selectBackend` picks the
 * implementation from the mode and `--backend`.
 */
export interface NetworkBackend {
  /** Its name in messages: `builtin`, `cni`, `netavark`, `none`, `slirp4netns`, `pasta`, `join`. */
  readonly name: string;
  /**
   * Rootless with published ports, whether a forwarder on the host side
   * carries them (the named networks), as Podman's rootlessport.
   */
  readonly hostForwarder: boolean;
  /**
   * Whether the status it gave at setup stays true (its own namespace); a
   * joined namespace is inspected afresh instead.
   */
  readonly keepsStatus: boolean;
  /**
   * Checks, before anything is created, that it can serve `config` here
   * (binary, network, port mappings), raising a clear error otherwise.
   */
  prepare(
    config: SandboxConfig,
    rootless: boolean,
    options: BackendOptions,
  ): PreparedBackend;
  /**
   * Undoes what the record says its setup made; tolerates what is gone and
   * raises the first error at the end. The namespace itself, the
   * forwarder and the rootless reference are the lifecycle's.
   */
  teardown(record: SandboxRecord): Promise<void>;
  /**
   * How the sandbox reaches a server on the host's loopback (what `nsnet
   * run`'s self-check proves), given its gateway; absent or undefined when
   * its network leads nowhere there.
   */
  hostLoopbackPath?(
    record: SandboxRecord,
    gateway: string,
  ): HostLoopbackPath | undefined;
}

/** A sandbox's way to the host's loopback: see {@linkcode NetworkBackend.hostLoopbackPath}. */
export interface HostLoopbackPath {
  /** The address the sandbox dials: the host's server listens on 127.0.0.1. */
  dial: string;
  /** Words for a report: what carries the connection. */
  via: string;
  /**
   * Whether it arrives over a root bridge at the gateway, where only a DNAT
   * of the gateway's port to 127.0.0.1 leads it on to the loopback.
   */
  throughBridge: boolean;
}
