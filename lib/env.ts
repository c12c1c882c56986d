/**
 * Environment variables read so that a missing `--allow-env` means "unset"
 * rather than a crash: nsnet's variables are all optional overrides.
 *
 * @module
 */

/** The value of `name`, or undefined when unset, empty, or not permitted. */
export function getEnv(name: string): string | undefined {
  try {
    const value = Deno.env.get(name);
    return value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}
