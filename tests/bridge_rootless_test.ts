/**
 * The bridge backend's rootless code path, exercised as root inside a user
 * namespace of our own (`unshare -Urm`): there the process counts as
 * rootless, its threads cannot return to the host's network namespace once
 * out of it, so netlink sockets are made on throwaway threads and `nft` and
 * the forwarding switch go through `nsenter`. A stand-in for the shared
 * rootless namespace holds the bridge. Two sandboxes exchange TCP, and
 * teardown leaves no link, rule or state file.
 */
import { assertEquals } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url).href;

const SCRIPT = `
import { rootlessBridgeContext, setupBridge, teardownBridge } from "${ROOT}lib/bridge/backend.ts";
import { newNS } from "${ROOT}lib/netns/create.ts";
import { unmountNS } from "${ROOT}lib/netns/teardown.ts";
import { isRootless } from "${ROOT}lib/rootless/detect.ts";

function out(...cmd) {
  const o = new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped" }).outputSync();
  return new TextDecoder().decode(o.stdout).trim();
}
const inNS = (ns, ...cmd) => out("nsenter", "--net=" + ns.path, ...cmd);
const report = { rootless: isRootless() };
const rl = newNS();
const a = newNS();
const b = newNS();
const state = Deno.makeTempDirSync();
try {
  const ctx = rootlessBridgeContext(rl.path, state);
  const net = { name: "rl", bridge: "nsnt-rl", subnet: "10.123.70.0/24", gateway: "10.123.70.1" };
  const sa = await setupBridge(ctx, a, "a", net);
  const sb = await setupBridge(ctx, b, "b", net);
  report.addresses = [sa, sb].map((s) => s.interfaces.eth0.subnets[0].ipnet);
  report.forwarding = inNS(rl, "cat", "/proc/sys/net/ipv4/ip_forward");
  report.masquerade = inNS(rl, "nft", "list", "ruleset").includes("ip saddr 10.123.70.0/24");
  const ipB = report.addresses[1].split("/")[0];
  const server = new Deno.Command("nsenter", {
    args: ["--net=" + b.path, Deno.execPath(), "eval",
      'const l = Deno.listen({ hostname: "' + ipB + '", port: 7072 }); const c = await l.accept();' +
      'await c.write(new TextEncoder().encode("pong")); c.close(); l.close();'],
  }).spawn();
  await new Promise((r) => setTimeout(r, 700));
  report.reply = inNS(a, Deno.execPath(), "eval",
    'const c = await Deno.connect({ hostname: "' + ipB + '", port: 7072 }); const buf = new Uint8Array(8);' +
    'const n = await c.read(buf); console.log(new TextDecoder().decode(buf.subarray(0, n))); c.close();');
  await server.status;
  await teardownBridge(ctx, a, "a", net);
  await teardownBridge(ctx, b, "b", net);
  report.links = inNS(rl, "ip", "-o", "link").split("\\n").map((l) => l.split(":")[1].trim());
  report.ruleset = inNS(rl, "nft", "list", "ruleset");
  report.state = [...Deno.readDirSync(state)].map((e) => e.name);
} finally {
  for (const ns of [a, b, rl]) unmountNS(ns);
  Deno.removeSync(state, { recursive: true });
}
console.log(JSON.stringify(report));
`;

nsTest(
  "setupBridge rootless (in a user namespace): TCP between sandboxes, nothing left",
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "nsnet-bridge-rootless-" });
    try {
      Deno.writeTextFileSync(`${dir}/script.js`, SCRIPT);
      Deno.mkdirSync(`${dir}/run`);
      const out = await new Deno.Command("unshare", {
        args: [
          "-Urm",
          "--propagation",
          "private",
          "sh",
          "-c",
          `mount -t tmpfs tmpfs "$1/run" && XDG_RUNTIME_DIR="$1/run" exec "$2" run -A --quiet "$1/script.js"`,
          "sh",
          dir,
          Deno.execPath(),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      assertEquals(
        out.code,
        0,
        `${stdout}\n${new TextDecoder().decode(out.stderr)}`,
      );
      const report = JSON.parse(stdout.trim().split("\n").pop()!);
      assertEquals(report, {
        rootless: true,
        addresses: ["10.123.70.2/24", "10.123.70.3/24"],
        forwarding: "1",
        masquerade: true,
        reply: "pong",
        links: ["lo"],
        ruleset: "",
        state: [],
      });
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);
