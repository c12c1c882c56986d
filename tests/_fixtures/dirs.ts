/**
 * Throwaway directories for tests that write state files.
 *
 * @module
 */

import { posix } from "node:path";

/**
 * Runs `fn` with a fresh temporary directory, removed afterwards, also when
 * `fn` throws; works for synchronous and asynchronous `fn` alike.
 */
export function withDir<T>(fn: (dir: string) => T, prefix = "nsnet-test-"): T {
  const dir = Deno.makeTempDirSync({ prefix });
  const remove = (): void => Deno.removeSync(dir, { recursive: true });
  let result: T;
  try {
    result = fn(dir);
  } catch (error) {
    remove();
    throw error;
  }
  if (result instanceof Promise) {
    return result.finally(remove) as T;
  }
  remove();
  return result;
}

/**
 * A tree of files under a root: `"dir/"` keys make directories, values
 * starting with `-> ` make symbolic links, other values are file contents
 * (`null`: an empty file).
 */
export type Tree = Record<string, string | null>;

/** Makes `tree` under `root` (parents as needed). */
export function build(root: string, tree: Tree): void {
  for (const [key, value] of Object.entries(tree)) {
    const path = posix.join(root, key);
    if (key.endsWith("/")) {
      Deno.mkdirSync(path, { recursive: true });
      continue;
    }
    Deno.mkdirSync(posix.dirname(path), { recursive: true });
    if (value !== null && value.startsWith("-> ")) {
      Deno.symlinkSync(value.slice(3), path);
    } else Deno.writeTextFileSync(path, value ?? "");
  }
}
