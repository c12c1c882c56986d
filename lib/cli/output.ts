/**
 * What every CLI command shares: JSON and table output, exit codes, and the
 * way a command ends with a given status.
 *
 * @module
 */

/** Exit statuses of the nsnet CLI. */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** The operation failed; the message says why. */
  FAILURE: 1,
  /** The command line was wrong. */
  USAGE: 2,
  /** `exec`/`run`: nsnet failed before the command could run (as Podman). */
  EXEC_FAILED: 125,
  /** `exec`/`run`: the command was found but could not be run. */
  NOT_EXECUTABLE: 126,
  /** `exec`/`run`: the command was not found. */
  NOT_FOUND: 127,
} as const;

/** Thrown by a command to end the CLI with `code` and no further message. */
export class ExitRequest extends Error {
  /** The exit status to end with. */
  readonly code: number;

  /** Makes the request. */
  constructor(code: number) {
    super(`exit ${code}`);
    this.name = "ExitRequest";
    this.code = code;
  }
}

/** Prints `value` as indented JSON with bigints as numbers. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, jsonReplacer, 2));
}

/** `JSON.stringify` replacer turning bigints into numbers (or strings when too large). */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") {
    return value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  return value;
}

/** Prints rows as an aligned table with a header, as `ip`/`podman` users expect. */
export function printTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))
  );
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i]!)).join(
      "  ",
    ).trimEnd();
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}
