/**
 * The entry of a network's DNS responder process when nsnet is used as a
 * library (the CLI runs `nsnet network dns-serve` instead):
 * `deno run -A _serve.ts network dns-serve NAME --ipam-dir DIR --pid-file F [--netns P]`.
 *
 * @module
 */

import { runNetworkDns } from "./network_dns.ts";

const args = Deno.args.slice(2);
const name = args[0]!;
const option = (flag: string): string | undefined => {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
};
await runNetworkDns(name, {
  ipamDir: option("--ipam-dir")!,
  pidFile: option("--pid-file")!,
  netns: option("--netns"),
});
