/**
 * Joining a namespace that exists: `ns:PATH` (S12: any network namespace
 * file, e.g. /run/netns/blue or /proc/PID/ns/net) and `sandbox:NAME` (S13:
 * another sandbox's, following a chain of such sandboxes to its owner).
 * Nothing is configured and nothing is torn down but the record: the
 * namespace belongs to whoever made it.
 *
 * @module
 */

import { NsnetError, SandboxNotFoundError } from "../../errors.ts";
import { getNS } from "../../netns/netns.ts";
import { refusePortMappings } from "../network_mode.ts";
import { readRecord, writeRecord } from "../store.ts";
import type {
  NetworkBackend,
  PreparedBackend,
  SandboxConfig,
  SandboxRecord,
} from "../types.ts";

/**
 * The namespace a sandbox uses and the sandbox that owns it, following a
 * chain of `sandbox:NAME` modes to its end.
 */
export function resolveOwner(name: string): { path: string; owner: string } {
  const seen = new Set<string>();
  let current = name;
  for (;;) {
    if (seen.has(current)) {
      throw new NsnetError(
        `sandboxes share namespaces in a loop: ${
          [...seen, current].join(" -> ")
        }`,
      );
    }
    seen.add(current);
    const record = readRecord(current);
    if (record === undefined) throw new SandboxNotFoundError(current);
    if (record.mode.kind !== "sandbox") {
      if (record.netnsPath === undefined || record.phase !== "ready") {
        throw new NsnetError(
          `sandbox ${current} has no network namespace ready to share`,
        );
      }
      return { path: record.netnsPath, owner: current };
    }
    current = record.mode.name;
  }
}

function join(record: SandboxRecord): Promise<undefined> {
  const mode = record.mode;
  if (mode.kind === "ns") {
    getNS(mode.path).close(); // S12: it must be a network namespace now
    record.netnsPath = mode.path;
  } else if (mode.kind === "sandbox") {
    const { path, owner } = resolveOwner(mode.name);
    record.netnsPath = path;
    record.owner = owner;
  } else {
    throw new NsnetError(`--network ${mode.kind} does not join a namespace`);
  }
  writeRecord(record);
  return Promise.resolve(undefined);
}

/** The backend of `ns:PATH` and `sandbox:NAME`: join, configure nothing. */
export const joinBackend: NetworkBackend = {
  name: "join",
  hostForwarder: false,
  keepsStatus: false,
  prepare(config: SandboxConfig): PreparedBackend {
    refusePortMappings(config);
    return { namespace: "join", setup: (record) => join(record) };
  },
  teardown: () => Promise.resolve(), // the namespace is its owner's
};
