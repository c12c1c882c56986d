/**
 * What `nsnet doctor` reports: one result per check, with what to do about
 * it, and the context the checks share (who runs them, and how).
 *
 * @module
 */

/** How a check came out: fine, works with a caveat, broken, or not applicable here. */
export type DoctorStatus = "ok" | "warn" | "fail" | "skip";

/** One check's result, as `nsnet doctor --json` prints it. */
export interface DoctorCheck {
  /** What was checked, e.g. `kernel: veth`. */
  check: string;
  /** How it came out. */
  status: DoctorStatus;
  /** What was found. */
  detail: string;
  /** What to do about it; empty when nothing needs doing. */
  fix: string;
}

/** What every check may look at: who runs nsnet, and whether rootless. */
export interface DoctorContext {
  /** The calling user's uid (on the host). */
  uid: number;
  /** The calling user's name (its uid as text when it has none). */
  user: string;
  /** Whether nsnet runs rootless for this user (not real root). */
  rootless: boolean;
}

/** Makes a result; `fix` defaults to empty (nothing to do). */
export function result(
  check: string,
  status: DoctorStatus,
  detail: string,
  fix = "",
): DoctorCheck {
  return { check, status, detail, fix };
}
