/**
 * Looking at a test namespace from outside, as `ip -n NAME` does.
 *
 * @module
 */

import { run } from "../_helpers.ts";
import type { NetNS } from "../../lib/netns/netns.ts";

/** A decoded object of `ip -j` output. */
export type Json = Record<string, unknown>;

/** The name `ip -n` knows `ns` by: the last part of its /run/netns path. */
export function nameOf(ns: NetNS): string {
  return ns.path.slice(ns.path.lastIndexOf("/") + 1);
}

/** `ip -n NAME -j ARGS…` inside `ns`, decoded (`[]` for no output). Needs root. */
export function ipJson(ns: NetNS, ...args: string[]): Json[] {
  return JSON.parse(run("ip", "-n", nameOf(ns), "-j", ...args) || "[]");
}
