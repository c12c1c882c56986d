/**
 * The nsnet command line. Run it with `deno run --allow-all cli.ts --help`,
 * or as the compiled `nsnet` binary.
 *
 * @module
 */

import { main } from "./lib/cli/main.ts";

export { main };

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
