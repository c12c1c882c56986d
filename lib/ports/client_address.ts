/**
 * Keeping a client's address on forwarded connections: what a namespace
 * needs so that the forwarder (`startForwarder({ keepClientAddress: true })`)
 * can connect to a sandbox from the client's own address and get the
 * answers back.
 *
 * The forwarder's sockets toward the sandbox are `IP_TRANSPARENT` and bound
 * to the client's address. The sandbox answers that address through its
 * gateway, the namespace the forwarder is in; there, a packet that belongs
 * to a transparent socket (nftables `socket transparent 1`) is marked, and
 * marked packets are routed to the local host (a policy rule and a `local`
 * default route in a table of their own), so they reach the socket instead
 * of being forwarded. This is the kernel's transparent-proxy recipe
 * (Documentation/networking/tproxy.rst), set up once per namespace and
 * idempotently: in nsnet's shared rootless namespace it goes with the
 * namespace.
 *
 * @module
 */

import { NsnetError } from "../errors.ts";

/** The firewall mark of answers to transparent sockets. */
export const CLIENT_ADDRESS_MARK = 0x6e73;
/** The routing table that sends marked packets to the local host. */
export const CLIENT_ADDRESS_TABLE = 28275;
/** The nftables table (family `inet`) holding the marking rule. */
export const CLIENT_ADDRESS_NFT_TABLE = "nsnet_client_address";

/** The `nft -f -` batch that marks answers to transparent sockets. */
export function clientAddressBatch(): string {
  const table = CLIENT_ADDRESS_NFT_TABLE;
  return [
    `table inet ${table} {`,
    "  chain prerouting {",
    "    type filter hook prerouting priority mangle; policy accept;",
    "  }",
    "}",
    `flush chain inet ${table} prerouting`,
    `add rule inet ${table} prerouting socket transparent 1 meta mark set ${CLIENT_ADDRESS_MARK}`,
    "",
  ].join("\n");
}

/** The shell script (run inside the namespace) that makes the rules and routes. */
export function clientAddressScript(): string {
  const mark = `0x${CLIENT_ADDRESS_MARK.toString(16)}`;
  const table = CLIENT_ADDRESS_TABLE;
  const lines = ["set -e"];
  for (const [family, any] of [["-4", "0.0.0.0/0"], ["-6", "::/0"]]) {
    lines.push(
      `ip ${family} rule list | grep -q "fwmark ${mark} lookup ${table}" || ip ${family} rule add fwmark ${mark} lookup ${table}`,
      `ip ${family} route replace local ${any} dev lo table ${table}`,
    );
  }
  lines.push(`nft -f - <<'NSNET_EOF'\n${clientAddressBatch()}NSNET_EOF`);
  return lines.join("\n") + "\n";
}

/**
 * Prepares the network namespace at `nsPath` for forwarders that keep the
 * client's address (see the module documentation). Runs `ip` and `nft`
 * through `nsenter --net=`, so it works rootless for a namespace the user
 * namespace owns. Idempotent.
 */
export async function prepareClientAddressRouting(
  nsPath: string,
): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("nsenter", {
      args: [`--net=${nsPath}`, "sh", "-c", clientAddressScript()],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (cause) {
    throw new NsnetError(`cannot run nsenter: ${cause}`, {
      hint: "nsenter is in Debian's util-linux package",
      cause,
    });
  }
  if (!out.success) {
    throw new NsnetError(
      `cannot route answers to the clients' addresses in ${nsPath}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
      {
        hint:
          "needs ip (iproute2), nft (nftables) and the kernel's nft_socket support",
      },
    );
  }
}
