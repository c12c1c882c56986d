/**
 * Reading nftables for `nsnet gc`: one `nft` call, its output, and "no such
 * table" told apart from a failure.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";

/**
 * Runs `nft ARGS…` (with `stdin` as its input) and returns its output;
 * undefined when what it lists does not exist, or when nft is not installed
 * (then nsnet cannot have made any table either).
 */
export async function runNft(
  args: readonly string[],
  stdin?: string,
): Promise<string | undefined> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("nft", {
      args: [...args],
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin)).catch(() => {});
    await writer.close().catch(() => {});
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  if (out.success) return decoder.decode(out.stdout);
  const stderr = decoder.decode(out.stderr).trim();
  if (stdin === undefined && /No such file or directory/.test(stderr)) {
    return undefined;
  }
  throw new NsnetError(`nft ${args.join(" ")} failed: ${stderr}`, {
    hint: /Operation not permitted/.test(stderr)
      ? "nftables needs root"
      : undefined,
  });
}
