/**
 * What `nsnet gc` finds and reports: leftovers nsnet can prove are its own,
 * each with the reason it is garbage and the way it goes.
 *
 * @module
 */

/** The kinds of leftover `nsnet gc` removes. */
export type LeftoverKind =
  | "record"
  | "sandbox"
  | "forwarder"
  | "helper"
  | "lease"
  | "nftables"
  | "rootless-netns"
  | "file"
  | "directory";

/** One leftover, found and not yet removed. */
export interface Leftover {
  /** Its kind. */
  kind: LeftoverKind;
  /** What it is: a sandbox's name, a path, a pid, a chain. */
  name: string;
  /** Why nsnet may remove it. */
  detail: string;
  /** Removes it; throws when it cannot. */
  remove(): Promise<void>;
}

/** How one leftover came out: listed only, removed, or not removable. */
export type GcStatus = "would remove" | "removed" | "failed";

/** One line of `nsnet gc`'s report (its `--json` array). */
export interface GcEntry {
  /** The leftover's kind. */
  kind: LeftoverKind;
  /** What it is. */
  name: string;
  /** Why it is garbage. */
  detail: string;
  /** What happened to it. */
  status: GcStatus;
  /** Why its removal failed. */
  error?: string;
}

/**
 * One group of leftovers. Groups run one after another, each found only once
 * the groups before it are removed (a removed sandbox takes its lease along,
 * so the lease group never sees that one).
 */
export interface LeftoverGroup {
  /** Its name, for a failure of the search itself. */
  name: string;
  /** Finds this group's leftovers; changes nothing. */
  find(): Promise<Leftover[]> | Leftover[];
}
