/**
 * The rootless namespace's files under its state dir: the directories
 * mounted inside, the netns run dir mirrored under `run/`, and its own
 * resolv.conf. None of it needs the user namespace.
 *
 * @module
 */

import { pathExists } from "../fs.ts";
import { nsRunDir } from "../netns/run_dir.ts";
import { writeResolvConf } from "../resolv_conf/files.ts";
import type { ResolvedHelperOptions } from "./helper_options.ts";
import { runtimeDir } from "./runtime_dir.ts";
import type { RootlessPaths } from "./state.ts";

/** Makes the directories of S5 under the state dir, with the netns run dir mirrored inside `run/`. */
export function makeLayout(paths: RootlessPaths): void {
  Deno.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  Deno.chmodSync(paths.dir, 0o700);
  const runtime = runtimeDir();
  for (const sub of ["var/lib/cni", "run/systemd"]) {
    Deno.mkdirSync(`${paths.dir}/${sub}`, { recursive: true });
  }
  for (const path of [runtime, nsRunDir()]) {
    const mirror = mirrorUnderRun(paths, path);
    if (mirror !== undefined) Deno.mkdirSync(mirror, { recursive: true });
  }
}

/** Where `path` (under /run) appears inside the namespace's own run dir; undefined if not under /run. */
export function mirrorUnderRun(
  paths: RootlessPaths,
  path: string,
): string | undefined {
  if (path === "/run") return paths.run;
  if (!path.startsWith("/run/")) return undefined;
  return `${paths.run}${path.slice("/run".length)}`;
}

/**
 * Writes the namespace's resolv.conf (the helper's DNS forwarder first, the
 * host's servers after it): always when `fresh`, else only when it is missing.
 */
export async function ensureResolvConf(
  paths: RootlessPaths,
  options: ResolvedHelperOptions,
  fresh: boolean,
): Promise<void> {
  if (!fresh && pathExists(paths.resolvConf)) return;
  await writeResolvConf(paths.resolvConf, {
    nameservers: [options.addresses.dns],
    keepHostServers: true,
    ipv6: options.ipv6,
    durable: false, // state that goes with the namespace
  });
}
