/**
 * Rootless netavark, as Podman runs it: inside the shared rootless namespace
 * (`--rootless=true`), here nsnet's, reached through `nsnet rootless exec`
 * as the test user and handed to the driver as its spawn function.
 */
import { assertEquals } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  cleanupRootless,
  nsnetAsUser,
  rootlessEnv,
  TEST_USER,
} from "./_rootless.ts";
import {
  findNetavark,
  type NetavarkOptions,
  netavarkSetup,
  type NetavarkSpawn,
  netavarkTeardown,
  type PodmanNetwork,
} from "../lib/netavark/mod.ts";
import type { StatusBlock } from "../lib/inspect.ts";

const NETAVARK = findNetavark();
if (NETAVARK === undefined) {
  console.warn(
    "rootless netavark test skipped: netavark is not installed (apt-get install netavark)",
  );
}

const NETWORK: PodmanNetwork = {
  name: "navt-rootless",
  id: "e".repeat(64),
  driver: "bridge",
  "network_interface": "navt3",
  subnets: [{ subnet: "10.124.13.0/24", gateway: "10.124.13.1" }],
  "ipv6_enabled": false,
  internal: false,
  "dns_enabled": false,
  "ipam_options": { driver: "host-local" },
};

/** Runs the command as the test user inside nsnet's rootless namespace, stdio piped. */
function spawnInRootlessNetns(): NetavarkSpawn {
  const env = rootlessEnv();
  return (command, options) =>
    new Deno.Command("setpriv", {
      args: [
        `--reuid=${env.uid}`,
        `--regid=${env.gid}`,
        "--init-groups",
        "--",
        "env",
        "-i",
        `HOME=${env.home}`,
        `USER=${TEST_USER}`,
        `LOGNAME=${TEST_USER}`,
        "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        `XDG_RUNTIME_DIR=${env.runtimeDir}`,
        `DENO_DIR=${env.home}/.cache/deno`,
        "NO_COLOR=1",
        ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
        env.deno,
        "run",
        "--allow-all",
        "--quiet",
        env.cli,
        "rootless",
        "exec",
        "--",
        ...command,
      ],
      cwd: "/tmp",
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
}

async function userJson(args: string[]): Promise<unknown> {
  const out = await nsnetAsUser(args);
  assertEquals(out.code, 0, `nsnet ${args.join(" ")}: ${out.stderr}`);
  return JSON.parse(out.stdout);
}

nsTest(
  "rootless netavark: setup and teardown inside nsnet's rootless namespace",
  async () => {
    const env = rootlessEnv();
    const runDir = `${env.runtimeDir}/nsnet-netavark-test`;
    await cleanupRootless();
    try {
      Deno.mkdirSync(runDir, { mode: 0o700 });
      Deno.chownSync(runDir, env.uid, env.gid);
      // The sandbox holds no reference on the rootless namespace (network none): `up` keeps it.
      assertEquals((await nsnetAsUser(["rootless", "up"])).code, 0);
      const box = await userJson([
        "sandbox",
        "create",
        "nvbox",
        "--network",
        "none",
        "--json",
      ]) as { netnsPath: string };
      const options: NetavarkOptions = {
        networks: { [NETWORK.name]: NETWORK },
        runDir,
        rootless: true,
        spawn: spawnInRootlessNetns(),
      };
      const attach = [{ name: NETWORK.name, interfaceName: "eth0" }];
      const status = await netavarkSetup(
        box.netnsPath,
        "nvbox",
        attach,
        options,
      );
      try {
        assertEquals(
          status.interfaces?.eth0?.subnets,
          [{ ipnet: "10.124.13.2/24", gateway: "10.124.13.1" }],
        );
        const inspected = await userJson([
          "inspect",
          box.netnsPath,
          "--json",
        ]) as StatusBlock;
        assertEquals(inspected, status);
        const links = await nsnetAsUser([
          "rootless",
          "exec",
          "--",
          "ip",
          "-br",
          "link",
        ]);
        assertEquals(links.stdout.includes("navt3"), true, links.stdout);
      } finally {
        await netavarkTeardown(box.netnsPath, "nvbox", attach, options);
      }
      assertEquals(await userJson(["inspect", box.netnsPath, "--json"]), {});
      const links = await nsnetAsUser([
        "rootless",
        "exec",
        "--",
        "ip",
        "-br",
        "link",
      ]);
      assertEquals(links.stdout.includes("navt3"), false, links.stdout);
      assertEquals((await nsnetAsUser(["sandbox", "rm", "nvbox"])).code, 0);
      assertEquals((await nsnetAsUser(["rootless", "down"])).code, 0);
    } finally {
      await nsnetAsUser(["sandbox", "rm", "nvbox"]);
      await cleanupRootless();
      await Deno.remove(runDir, { recursive: true }).catch(() => {});
    }
  },
  { ignore: NETAVARK === undefined },
);
