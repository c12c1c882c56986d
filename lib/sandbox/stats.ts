/**
 * A sandbox's network I/O, counted over the interfaces its status
 * lists (the helper's tap0 in helper mode), else over every interface of its
 * namespace but loopback.
 *
 * @module
 */

import { getNS } from "../netns/netns.ts";
import { type NetIO, netIO } from "../stats.ts";
import type { SandboxRecord } from "./types.ts";

/** The network I/O of the sandbox in `record`; undefined when it has no namespace. */
export function sandboxStats(record: SandboxRecord): NetIO | undefined {
  const path = record.netnsPath;
  if (path === undefined) return undefined;
  const interfaces = Object.keys(record.status?.interfaces ?? {});
  using ns = getNS(path);
  return netIO(ns, interfaces.length > 0 ? interfaces : undefined);
}
