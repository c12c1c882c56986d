/**
 * What a sandbox is: its config (what the user asked for) and its state
 * (what exists), kept together in one record.
 *
 * @module
 */

import type { StatusBlock } from "../inspect.ts";
import type { PortMapping } from "../ports/spec.ts";

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
  /** The sandbox that owns the namespace, when shared (S13). */
  owner?: string;
  /** What the backend reported (S11). */
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
