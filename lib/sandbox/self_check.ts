/**
 * `nsnet run` without a command: show what the sandbox got (interfaces,
 * addresses, gateway, DNS), prove a TCP round trip to a server on the host
 * through the sandbox's own network path, and show the statistics. Traffic
 * only ever goes to this machine.
 *
 * @module
 */

import { getNS } from "../netns/netns.ts";
import { NsnetError } from "../errors.ts";
import { NetlinkSocket } from "../netlink/socket.ts";
import { listAddresses } from "../netlink/address.ts";
import { getLink } from "../netlink/link.ts";
import { enableRouteLocalnet } from "../ports/nftables_dnat.ts";
import { parseResolvConf } from "../resolv_conf/parse.ts";
import { netIO } from "../stats.ts";
import { jsonReplacer } from "../cli/output.ts";
import { spawnInSandbox } from "./exec.ts";
import { inspectSandbox, sandboxResolvConf } from "./lifecycle.ts";
import { selectBackend } from "./backends/select.ts";
import { formatNetworkMode } from "./network_mode.ts";
import type { SandboxRecord } from "./types.ts";

/** Where the round trip goes: a host address the sandbox's path leads to, and what it is. */
interface Target {
  /** The address the sandbox dials. */
  dial: string;
  /** The address the host's server listens on. */
  listen: string;
  /** Words for the report. */
  description: string;
  /** Makes the path for `port` (and returns how to unmake it), when one is needed. */
  prepare?: (port: number) => Promise<() => Promise<void>>;
}

/**
 * Root bridge: a bridge leads to the host, not to its loopback. For the
 * check only, connections from the bridge to the gateway's `port` are DNAT'ed
 * to 127.0.0.1 (route_localnet lets the bridge carry them, as for published
 * ports), in a table of the check's own that is removed afterwards.
 */
function loopbackThroughBridge(
  bridge: string,
  gateway: string,
): (port: number) => Promise<() => Promise<void>> {
  return async (port: number) => {
    const table = `nsnet_selfcheck_${Deno.pid}`;
    enableRouteLocalnet(bridge);
    await nft(`table ip ${table} {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "${bridge}" ip daddr ${gateway} tcp dport ${port} dnat to 127.0.0.1:${port}
  }
}
`);
    return () => nft(`delete table ip ${table}\n`);
  };
}

/** The host interface holding `address`: the bridge, whichever backend made it. */
function hostLinkWith(address: string): string {
  using sock = NetlinkSocket.open();
  const entry = listAddresses(sock).find((a) => a.address === address);
  if (entry === undefined) {
    throw new NsnetError(
      `no host interface has the gateway address ${address}`,
    );
  }
  return getLink(sock, entry.index).name;
}

async function nft(batch: string): Promise<void> {
  const child = new Deno.Command("nft", {
    args: ["-f", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(batch));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new NsnetError(
      `nft failed: ${new TextDecoder().decode(out.stderr).trim()}`,
      {
        hint: "install nftables",
      },
    );
  }
}

function targetFor(
  record: SandboxRecord,
  gateway: string | undefined,
): Target | undefined {
  if (gateway === undefined) return undefined;
  const path = selectBackend(record.mode, record.backend).hostLoopbackPath?.(
    record,
    gateway,
  );
  if (path === undefined) return undefined;
  return {
    dial: path.dial,
    listen: "127.0.0.1",
    description: `host loopback via ${path.via}`,
    prepare: path.throughBridge
      ? loopbackThroughBridge(hostLinkWith(gateway), gateway)
      : undefined,
  };
}

async function roundTrip(
  record: SandboxRecord,
  target: Target,
): Promise<{ ok: boolean; detail: string }> {
  const nonce = crypto.randomUUID().slice(0, 8);
  const listener = Deno.listen({ hostname: target.listen, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  let unprepare: (() => Promise<void>) | undefined;
  try {
    unprepare = await target.prepare?.(port);
  } catch (error) {
    listener.close();
    throw error;
  }
  const served = (async (): Promise<void> => {
    const conn = await listener.accept();
    try {
      const buffer = new Uint8Array(64);
      const n = await conn.read(buffer);
      const got = new TextDecoder().decode(buffer.subarray(0, n ?? 0)).trim();
      await conn.write(new TextEncoder().encode(`pong ${got}\n`));
    } finally {
      conn.close();
    }
  })();
  try {
    const child = spawnInSandbox(record, [
      "timeout",
      "5",
      "bash",
      "-c",
      `exec 3<>/dev/tcp/${target.dial}/${port} && echo "ping ${nonce}" >&3 && head -n 1 <&3`,
    ], { stdout: "piped", stderr: "piped", stdin: "null" });
    const out = await child.output();
    const answer = new TextDecoder().decode(out.stdout).trim();
    if (answer === `pong ping ${nonce}`) {
      await served;
      return {
        ok: true,
        detail: `${target.dial}:${port} answered "${answer}"`,
      };
    }
    return {
      ok: false,
      detail: `${target.dial}:${port}: ${
        new TextDecoder().decode(out.stderr).trim() || `got "${answer}"`
      }`,
    };
  } finally {
    listener.close();
    await served.catch(() => {});
    await unprepare?.();
  }
}

/** Runs the self-check on a created sandbox; prints the report; returns the exit status. */
export async function selfCheck(
  record: SandboxRecord,
  json: boolean,
): Promise<number> {
  const { status } = inspectSandbox(record.name);
  let nameservers: string[] = [];
  try {
    nameservers = parseResolvConf(
      Deno.readTextFileSync(sandboxResolvConf(record.owner ?? record.name)),
    )
      .nameservers;
  } catch { /* none of its own */ }
  const gateway = Object.values(status.interfaces ?? {}).flatMap((i) =>
    i.subnets ?? []
  )
    .find((s) => s.gateway !== undefined)?.gateway;
  const target = targetFor(record, gateway);
  const tcp = target === undefined
    ? {
      ok: record.mode.kind === "none",
      detail: "no network beyond loopback: nothing to reach",
    }
    : { ...(await roundTrip(record, target)), target: target.description };
  let stats: ReturnType<typeof netIO>;
  {
    using ns = getNS(record.netnsPath!);
    const names = Object.keys(status.interfaces ?? {});
    stats = netIO(ns, names.length > 0 ? names : undefined);
  }
  const report = {
    sandbox: record.name,
    network: formatNetworkMode(record.mode),
    netnsPath: record.netnsPath,
    interfaces: status.interfaces ?? {},
    dns: nameservers,
    tcp,
    stats: stats === undefined
      ? undefined
      : { rxBytes: stats.rxBytes, txBytes: stats.txBytes },
  };
  if (json) {
    console.log(JSON.stringify(report, jsonReplacer, 2));
  } else {
    console.log(`sandbox     ${report.sandbox} (network ${report.network})`);
    console.log(`namespace   ${report.netnsPath}`);
    for (const [name, iface] of Object.entries(report.interfaces)) {
      for (const subnet of iface.subnets ?? []) {
        console.log(
          `interface   ${name} ${subnet.ipnet}${
            subnet.gateway ? `, gateway ${subnet.gateway}` : ""
          }${iface.mac_address ? `, mac ${iface.mac_address}` : ""}`,
        );
      }
    }
    if (Object.keys(report.interfaces).length === 0) {
      console.log("interface   lo only");
    }
    console.log(`dns         ${nameservers.join(", ") || "-"}`);
    console.log(
      `tcp         ${tcp.ok ? "ok" : "FAILED"}: ${
        "target" in tcp ? `${tcp.target}: ` : ""
      }${tcp.detail}`,
    );
    if (report.stats) {
      console.log(
        `stats       rx ${report.stats.rxBytes} bytes, tx ${report.stats.txBytes} bytes`,
      );
    }
  }
  return tcp.ok ? 0 : 1;
}
