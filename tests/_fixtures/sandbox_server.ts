/**
 * A one-shot server inside a root sandbox, started through the CLI
 * (`nsnet sandbox exec NAME -- deno eval …`): it listens on port 8080,
 * writes one line to the first client, and exits.
 *
 * @module
 */

import { assertStringIncludes } from "../_assert.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;

/**
 * Starts the server inside sandbox `name` with `line` to send; resolves
 * once it listens. It gives up by itself after 10 s. Needs root.
 */
export async function serveInSandbox(
  name: string,
  line: string,
): Promise<Deno.ChildProcess> {
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      CLI,
      "sandbox",
      "exec",
      name,
      "--",
      Deno.execPath(),
      "eval",
      `Deno.unrefTimer(setTimeout(() => Deno.exit(0), 10000)); const l = Deno.listen({ port: 8080 }); console.log("ready"); const c = await l.accept();
       await c.write(new TextEncoder().encode(${
        JSON.stringify(line + "\n")
      })); c.close(); l.close();`,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = server.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  assertStringIncludes(new TextDecoder().decode(value), "ready");
  return server;
}

/** Ends a server from {@linkcode serveInSandbox}, served or not. */
export async function finish(server: Deno.ChildProcess): Promise<void> {
  await server.stdout.cancel().catch(() => {});
  try {
    server.kill("SIGKILL");
  } catch { /* done */ }
  await server.status;
}
