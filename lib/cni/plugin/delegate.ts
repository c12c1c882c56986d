/**
 * Delegation to an IPAM plugin (SPEC.md section 4): the binary found in
 * CNI_PATH, run with the same environment and the complete network config
 * the plugin received, its standard error passed through, its result or
 * error object read back.
 *
 * @module
 */

import { CNI_ERROR, CniError } from "./errors.ts";

/** Finds plugin `type` in the CNI_PATH directories. */
export function findPlugin(type: string, path: readonly string[]): string {
  for (const dir of path) {
    const candidate = `${dir}/${type}`;
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch { /* not here */ }
  }
  throw new CniError(
    CNI_ERROR.INVALID_NETWORK_CONFIG,
    `IPAM plugin ${JSON.stringify(type)} not found in CNI_PATH ${
      path.join(":") || "(empty)"
    }`,
    "install it into a CNI_PATH directory, or drop the ipam section to use nsnet's own IPAM",
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Runs the delegated plugin with `command`; returns its parsed output
 * (undefined when it wrote none). Its error object is raised as a
 * {@linkcode CniError} with the same code.
 */
export async function delegate(
  type: string,
  command: string,
  config: Record<string, unknown>,
  env: Record<string, string>,
  path: readonly string[],
): Promise<Record<string, unknown> | undefined> {
  const binary = findPlugin(type, path);
  const child = new Deno.Command(binary, {
    env: { ...env, CNI_COMMAND: command },
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(config)))
    .catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout).trim();
  let parsed: unknown;
  if (text !== "") {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!out.success) {
    if (
      isObject(parsed) && typeof parsed.code === "number" &&
      typeof parsed.msg === "string"
    ) {
      throw new CniError(
        parsed.code,
        `IPAM plugin ${type}: ${parsed.msg}`,
        typeof parsed.details === "string" ? parsed.details : "",
      );
    }
    throw new CniError(
      CNI_ERROR.INTERNAL,
      `IPAM plugin ${type} failed (${command}, exit ${out.code})`,
      text.slice(0, 500),
    );
  }
  if (text === "") return undefined;
  if (!isObject(parsed)) {
    throw new CniError(
      CNI_ERROR.DECODING_FAILURE,
      `IPAM plugin ${type} wrote something that is not a JSON object`,
      text.slice(0, 200),
    );
  }
  return parsed;
}
