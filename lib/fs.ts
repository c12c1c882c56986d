/**
 * File helpers shared by nsnet's state, pid and config files.
 *
 * @module
 */

/**
 * Writes `text` to `path` through a temp file in the same directory and a
 * rename, so that a reader sees the old file or the new one, never half.
 */
export function writeFileAtomic(
  path: string,
  text: string,
  mode = 0o644,
): void {
  const temp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    Deno.writeTextFileSync(temp, text, { mode, createNew: true });
    Deno.chmodSync(temp, mode); // the umask may have taken bits away
    Deno.renameSync(temp, path);
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch { /* never made */ }
    throw error;
  }
}
