/**
 * The CNI backend rootless, as the test user inside `nsnet unshare`: the
 * plugins run inside the shared rootless namespace through
 * `RootlessNetNS.spawn()` (S6's mounts), so the bridge and iptables rules
 * live there, host-local's leases land in the mirror of /var/lib/cni next to
 * nsnet's result cache, and DEL removes what ADD made.
 */
import { assert, assertEquals } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  cleanupRootless,
  programAsUser,
  type UserResult,
} from "./_rootless.ts";

const HAVE_PLUGINS = (() => {
  try {
    return Deno.statSync("/usr/lib/cni/bridge").isFile;
  } catch {
    return false;
  }
})();

const SCRIPT = `
import * as m from "${new URL("../mod.ts", import.meta.url).pathname}";
import * as cni from "${
  new URL("../lib/cni/mod.ts", import.meta.url).pathname
}";

const report = {};
const rootless = await m.getRootlessNetNS({ create: true });
const inside = async (...cmd) => {
  const out = await rootless.spawn(cmd, { stdout: "piped", stderr: "piped", stdin: "null" }).output();
  return new TextDecoder().decode(out.stdout).trim();
};
const conf = Deno.makeTempDirSync();
const ns = m.newNS();
try {
  Deno.writeTextFileSync(conf + "/rl.conflist", JSON.stringify({
    cniVersion: "1.0.0",
    name: "rl",
    plugins: [
      { type: "bridge", bridge: "cnit0", isGateway: true, ipMasq: true,
        ipam: { type: "host-local", routes: [{ dst: "0.0.0.0/0" }],
                ranges: [[{ subnet: "10.123.5.0/24", gateway: "10.123.5.1" }]] } },
      { type: "portmap", capabilities: { portMappings: true } },
      { type: "firewall" },
    ],
  }));
  const cacheDir = cni.rootlessCniCacheDir(rootless.paths.dir);
  const options = {
    confDir: conf,
    cacheDir,
    spawn: (cmd, o) => rootless.spawn(cmd, o),
    portMappings: [{ protocol: "tcp", hostIp: undefined, hostPort: 18081, sandboxPort: 80 }],
  };
  const { status } = await cni.cniAdd(ns.path, "rlctr", "rl", options);
  report.status = status;
  report.inspected = m.inspectNetNS(ns);
  report.bridgeInside = (await inside("ip", "-o", "link", "show", "master", "cnit0")) !== "";
  report.rulesInside = (await inside("iptables-save", "-t", "nat")).includes("10.123.5.2");
  report.leases = [...Deno.readDirSync(cacheDir + "/networks/rl")].map((e) => e.name).filter((n) => n.startsWith("10."));
  report.cached = [...Deno.readDirSync(cacheDir + "/results")].map((e) => e.name);
  await cni.cniDel(ns.path, "rlctr", "rl", { ...options, portMappings: undefined });
  report.after = {
    inspected: m.inspectNetNS(ns),
    bridgePorts: await inside("ip", "-o", "link", "show", "master", "cnit0"),
    rules: (await inside("iptables-save")).includes("10.123.5."),
    leases: [...Deno.readDirSync(cacheDir + "/networks/rl")].map((e) => e.name).filter((n) => n.startsWith("10.")),
    cached: [...Deno.readDirSync(cacheDir + "/results")].map((e) => e.name),
  };
} finally {
  m.unmountNS(ns);
  Deno.removeSync(conf, { recursive: true });
  await rootless.release();
}
console.log(JSON.stringify(report));
`;

function scriptAsUser(code: string): Promise<UserResult> {
  return programAsUser(code, { unshare: true });
}

nsTest(
  "cni rootless: plugins run inside the rootless namespace; leases and cache share its mirror; DEL removes it all",
  async () => {
    await cleanupRootless();
    try {
      const out = await scriptAsUser(SCRIPT);
      assertEquals(out.code, 0, out.stderr);
      const report = JSON.parse(out.stdout.trim().split("\n").pop()!);
      assertEquals(report.status, {
        interfaces: {
          eth0: {
            subnets: [{ ipnet: "10.123.5.2/24", gateway: "10.123.5.1" }],
            "mac_address": report.status.interfaces.eth0["mac_address"],
          },
        },
      });
      assertEquals(report.status, report.inspected);
      assert(report.bridgeInside, "the bridge is in the rootless namespace");
      assert(
        report.rulesInside,
        "portmap's rules are in the rootless namespace",
      );
      assertEquals(report.leases, ["10.123.5.2"]);
      assertEquals(report.cached, ["rl-rlctr-eth0"]);
      assertEquals(report.after, {
        inspected: {},
        bridgePorts: "",
        rules: false,
        leases: [],
        cached: [],
      });
      assert(
        !Deno.readTextFileSync("/proc/net/dev").includes("cnit0"),
        "nothing on the host",
      );
    } finally {
      await cleanupRootless();
    }
  },
  { ignore: !HAVE_PLUGINS || Deno.uid() !== 0 },
);
