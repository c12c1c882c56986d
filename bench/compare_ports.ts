/**
 * Forwarded TCP throughput side by side (issue 15), one run: one iperf3
 * stream for 3 s from the host's loopback to a server inside a namespace,
 * through each path in turn: plain loopback (the limit), root DNAT (nftables,
 * `nsnet sandbox create -p`), nsnet's userspace forwarder (the rootless
 * path's code: a Worker that entered the namespace), pasta's own `-t`, slirp4netns's `add_hostfwd`, and Podman's rootlessport
 * when installed. Run as root:
 * `deno run -A bench/compare_ports.ts [SECONDS]`. Prints a Markdown table.
 *
 * @module
 */

import { newNS } from "../lib/netns/create.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import { NetlinkSocket } from "../lib/netlink/socket.ts";
import { setLink } from "../lib/netlink/link.ts";
import { startForwarder } from "../lib/ports/forwarder.ts";
import { slirp4netnsAddHostFwd } from "../lib/ports/helper_forwarding.ts";

const SECONDS = Number(Deno.args[0] ?? 3);
const CLI = new URL("../cli.ts", import.meta.url).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

async function iperf(
  host: string,
  port: number,
  prefix: string[] = [],
): Promise<number> {
  let last = "";
  for (let i = 0; i < 20; i++) {
    const [program, ...args] = [
      ...prefix,
      "timeout",
      String(SECONDS + 5),
      "iperf3",
      "-c",
      host,
      "-p",
      String(port),
      "-t",
      String(SECONDS),
      "--connect-timeout",
      "1000",
      "-J",
    ];
    const out = await new Deno.Command(program!, {
      args,
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) {
      const json = JSON.parse(new TextDecoder().decode(out.stdout));
      const bits = json.end?.sum_received?.bits_per_second;
      if (typeof bits === "number") return bits / 1e9;
      last = json.error ?? "no sum_received";
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`iperf3 to ${host}:${port} got no result: ${last}`);
}

function serverIn(prefix: string[], port = 5201): Deno.ChildProcess {
  const [program, ...args] = [...prefix, "iperf3", "-s", "-p", String(port)];
  return new Deno.Command(program!, { args, stdout: "null", stderr: "null" })
    .spawn();
}

/** The pids of `pid`'s descendants (pasta forks its namespace's command). */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(
        `/proc/${pid}/task/${task.name}/children`,
      );
      children = children.concat(text.split(" ").filter(Boolean).map(Number));
    }
  } catch { /* gone */ }
  return children.flatMap((c) => [c, ...descendants(c)]);
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  const below = descendants(child.pid);
  try {
    child.kill("SIGKILL");
  } catch { /* gone */ }
  for (const pid of below) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  await child.status;
}

async function nsnet(...args: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CLI, ...args],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

const results: [string, number | string][] = [];

async function measure(name: string, fn: () => Promise<number>): Promise<void> {
  try {
    results.push([name, await fn()]);
    console.error(`${name}: ${results.at(-1)![1]}`);
  } catch (error) {
    results.push([
      name,
      `not measured: ${(error as Error).message.split("\n")[0]}`,
    ]);
    console.error(`${name}: ${results.at(-1)![1]}`);
  }
}

await measure("plain loopback", async () => {
  const port = freePort();
  const server = serverIn([], port);
  try {
    return await iperf("127.0.0.1", port);
  } finally {
    await stop(server);
  }
});

await measure("root DNAT (nftables)", async () => {
  const port = freePort();
  await nsnet(
    "sandbox",
    "create",
    "bench-dnat",
    "-p",
    `127.0.0.1:${port}:5201`,
  );
  const server = serverIn(
    ["deno", "run", "-A", "--quiet", CLI, "sandbox", "exec", "bench-dnat", "--"]
      .map((w) => w === "deno" ? Deno.execPath() : w),
  );
  try {
    return await iperf("127.0.0.1", port);
  } finally {
    await stop(server);
    await nsnet("sandbox", "rm", "bench-dnat");
  }
});

await measure("nsnet forwarder (userspace, rootless path)", async () => {
  const ns = newNS();
  try {
    const sock = NetlinkSocket.open(ns);
    setLink(sock, "lo", { up: true });
    sock.close();
    const server = ns.run(() => serverIn([]));
    const forwarder = await startForwarder({
      ns,
      sandboxAddress: "127.0.0.1",
      mappings: [{
        protocol: "tcp",
        hostIp: "127.0.0.1",
        hostPort: 0,
        sandboxPort: 5201,
      }],
    });
    try {
      return await iperf("127.0.0.1", forwarder.mappings[0]!.hostPort);
    } finally {
      await forwarder.close();
      await stop(server);
    }
  } finally {
    unmountNS(ns);
  }
});

await measure("pasta -t", async () => {
  const port = freePort();
  const server = new Deno.Command("pasta", {
    args: [
      "--config-net",
      "-t",
      `127.0.0.1/${port}:5201`,
      "-u",
      "none",
      "-T",
      "none",
      "-U",
      "none",
      "-f",
      "--",
      "iperf3",
      "-s",
      "-p",
      "5201",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    return await iperf("127.0.0.1", port);
  } finally {
    await stop(server);
  }
});

await measure("slirp4netns add_hostfwd", async () => {
  const port = freePort();
  const holder = new Deno.Command("unshare", {
    args: ["--net", "sh", "-c", "ip link set lo up; sleep 120"],
    stdout: "null",
  }).spawn();
  const api = `/tmp/nsnet-bench-slirp-${Deno.pid}.sock`;
  await new Promise((r) => setTimeout(r, 200));
  const slirp = new Deno.Command("slirp4netns", {
    args: [
      "--configure",
      "--mtu=65520",
      "--api-socket",
      api,
      String(holder.pid),
      "tap0",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const server = serverIn(["nsenter", "-t", String(holder.pid), "-n"]);
  try {
    for (let i = 0; i < 50; i++) {
      try {
        Deno.statSync(api);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await slirp4netnsAddHostFwd(api, {
      protocol: "tcp",
      hostIp: "127.0.0.1",
      hostPort: port,
      sandboxPort: 5201,
    });
    return await iperf("127.0.0.1", port);
  } finally {
    await stop(server);
    await stop(slirp);
    await stop(holder);
    await Deno.remove(api).catch(() => {});
  }
});

results.push([
  "Podman rootlessport",
  "not installed on this machine (no /usr/libexec/podman/rootlessport)",
]);

console.log(
  `| path (one iperf3 stream, ${SECONDS} s, host loopback to a server inside) | Gbit/s |`,
);
console.log("| --- | --- |");
for (const [name, value] of results) {
  console.log(
    `| ${name} | ${typeof value === "number" ? value.toFixed(1) : value} |`,
  );
}
