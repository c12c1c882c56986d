/**
 * nsnet next to Debian's Podman 4.3: a container joins a sandbox's namespace,
 * nsnet inspects and measures a container's namespace by its pid, a sandbox
 * joins a network Podman made (through netavark), and rootless Podman and
 * rootless nsnet leave each other alone.
 *
 * Root Podman runs with its own storage, run root and containers.conf under a
 * temporary dir (vfs storage, runc, cgroupfs, `default_ulimits = []`), and
 * from a thread inside a "host" namespace made for the test, so that the
 * bridges and firewall rules netavark makes for it go with that namespace.
 * The image is `podman import`ed from a tar of busybox-static: nothing is
 * ever pulled.
 */
import { assert, assertEquals, assertNotEquals } from "./_assert.ts";
import {
  nftTables,
  nsnet,
  nsTest,
  restoreNftTables,
  run,
  succeeds,
  uniqueName,
  withNamespaces,
} from "./_helpers.ts";
import {
  asUser,
  cleanupRootless,
  nsnetAsUser,
  rootlessEnv,
  type UserResult,
} from "./_rootless.ts";
import {
  podmanLeftovers,
  podmanPids,
  preparePodman,
  resetPodman,
} from "../bench/_podman.ts";
import { newNS } from "../lib/netns/create.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import { inspectNetNS, type StatusBlock } from "../lib/inspect.ts";
import {
  findNetavark,
  getPodmanNetwork,
  type NetavarkOptions,
  netavarkSetup,
  netavarkTeardown,
} from "../lib/netavark/mod.ts";

const IMAGE = "localhost/nsnet-interop:latest";
const BUSYBOX = "/bin/busybox";
const APPLETS = ["sh", "ip", "sleep", "cat", "nc", "echo", "true"];

function missing(): string | undefined {
  if (!succeeds("podman", "--version")) return "podman is not installed";
  if (!succeeds("runc", "--version")) return "runc is not installed";
  if (findNetavark() === undefined) return "netavark is not installed";
  try {
    if (!Deno.statSync(BUSYBOX).isFile) throw new Error();
    // A dynamically linked busybox would need its libraries in the image.
    if (run("file", "-L", BUSYBOX).includes("dynamically")) {
      return `${BUSYBOX} is not busybox-static`;
    }
  } catch {
    return `${BUSYBOX} is missing (busybox-static)`;
  }
  return undefined;
}

const why = missing();
if (why !== undefined) {
  console.warn(
    `Podman interoperability tests skipped: ${why} (apt-get install podman runc netavark aardvark-dns busybox-static catatonit slirp4netns uidmap)`,
  );
}

function podmanTest(name: string, fn: () => Promise<void>): void {
  // Podman's netavark keeps shared firewall chains on the host: they go with the test.
  const restoring = async (): Promise<void> => {
    const tables = nftTables();
    try {
      await fn();
    } finally {
      restoreNftTables(tables);
    }
  };
  nsTest(name, restoring, { ignore: why !== undefined });
}

/** A tar of a tiny root filesystem: busybox-static and its applets as links. */
function makeRootfsTar(dir: string): string {
  const root = `${dir}/rootfs`;
  for (const d of ["bin", "proc", "sys", "dev", "etc", "tmp"]) {
    Deno.mkdirSync(`${root}/${d}`, { recursive: true });
  }
  Deno.copyFileSync(BUSYBOX, `${root}/bin/busybox`);
  Deno.chmodSync(`${root}/bin/busybox`, 0o755);
  for (const applet of APPLETS) {
    Deno.symlinkSync("busybox", `${root}/bin/${applet}`);
  }
  run("tar", "-C", root, "-cf", `${dir}/rootfs.tar`, ".");
  return `${dir}/rootfs.tar`;
}

/** Root Podman confined to a temporary dir, run from inside a host namespace. */
class RootPodman {
  readonly dir: string;
  readonly host: NetNS;
  readonly networksDir: string;
  readonly #hadRunContainers: boolean;

  private constructor(dir: string, host: NetNS, hadRunContainers: boolean) {
    this.dir = dir;
    this.host = host;
    this.networksDir = `${dir}/networks`;
    this.#hadRunContainers = hadRunContainers;
  }

  static async start(): Promise<RootPodman> {
    // Podman 4.3 keeps netavark's state (ipam.db, aardvark-dns) in /run/containers/networks whatever the config says.
    let had = true;
    try {
      Deno.statSync("/run/containers");
    } catch {
      had = false;
    }
    const dir = Deno.makeTempDirSync({ prefix: "nsnet-podman-interop-" });
    const host = newNS();
    const podman = new RootPodman(dir, host, had);
    try {
      Deno.mkdirSync(podman.networksDir);
      Deno.mkdirSync(`${dir}/tmp`);
      Deno.writeTextFileSync(
        `${dir}/containers.conf`,
        `[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${dir}/events.log"
tmp_dir = "${dir}/tmp"

[network]
network_backend = "netavark"
network_config_dir = "${podman.networksDir}"
`,
      );
      const tar = makeRootfsTar(dir);
      await podman.ok(["import", "--change", 'CMD=["/bin/sh"]', tar, IMAGE]);
      return podman;
    } catch (error) {
      await podman.stop();
      throw error;
    }
  }

  /** Runs `podman ARGS…` with this instance's storage and config, inside the host namespace. */
  async podman(args: string[]): Promise<UserResult> {
    const child = this.host.run(() =>
      new Deno.Command("podman", {
        args: [
          "--root",
          `${this.dir}/root`,
          "--runroot",
          `${this.dir}/run`,
          "--storage-driver",
          "vfs",
          ...args,
        ],
        env: { CONTAINERS_CONF: `${this.dir}/containers.conf` },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn()
    );
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  }

  /** {@linkcode RootPodman.podman}, failing unless it succeeds; returns stdout trimmed. */
  async ok(args: string[]): Promise<string> {
    const out = await this.podman(args);
    assertEquals(out.code, 0, `podman ${args.join(" ")}: ${out.stderr}`);
    return out.stdout.trim();
  }

  async stop(): Promise<void> {
    try {
      await this.podman(["rm", "--all", "--force", "--time", "0"]);
      for (
        const name of (await this.podman(["network", "ls", "-q"])).stdout.split(
          "\n",
        )
      ) {
        if (name !== "" && name !== "podman") {
          await this.podman(["network", "rm", "--force", name]);
        }
      }
      await this.podman(["rmi", "--all", "--force"]);
    } finally {
      unmountNS(this.host);
      Deno.removeSync(this.dir, { recursive: true });
      if (!this.#hadRunContainers) {
        await Deno.remove("/run/containers", { recursive: true }).catch(
          () => {},
        );
      }
    }
  }
}

function eth0Of(
  status: StatusBlock,
): { ipnet: string; gateway?: string; mac: string } {
  const eth0 = status.interfaces?.eth0;
  assert(eth0 !== undefined, `no eth0 in ${JSON.stringify(status)}`);
  const subnet = eth0.subnets?.[0];
  assert(subnet !== undefined, "eth0 has no address");
  return {
    ipnet: subnet.ipnet,
    gateway: subnet.gateway,
    mac: eth0.mac_address,
  };
}

/** The address, prefix, gateway and MAC `podman inspect` reports (top level, or of one network). */
async function podmanAddress(
  podman: RootPodman,
  container: string,
  network?: string,
): Promise<{ ipnet: string; gateway?: string; mac: string }> {
  const settings = JSON.parse(
    await podman.ok([
      "inspect",
      container,
      "--format",
      "{{json .NetworkSettings}}",
    ]),
  );
  const s = network === undefined ? settings : settings.Networks[network];
  return {
    ipnet: `${s.IPAddress}/${s.IPPrefixLen}`,
    gateway: s.Gateway === "" ? undefined : s.Gateway,
    mac: s.MacAddress,
  };
}

async function nsnetJson(...args: string[]): Promise<unknown> {
  const out = await nsnet(...args);
  assertEquals(out.code, 0, `nsnet ${args.join(" ")}: ${out.stderr}`);
  return JSON.parse(out.stdout);
}

podmanTest(
  "podman: a container joins a sandbox's namespace and sees what nsnet inspects",
  async () => {
    const podman = await RootPodman.start();
    const network = uniqueName("navt").slice(-30).replace(/^[^a-z]+/, "n");
    const sandbox = uniqueName("podjoin");
    let networkMade = false;
    let sandboxMade = false;
    try {
      const made = await nsnet(
        "network",
        "create",
        network,
        "--subnet",
        "10.124.5.0/24",
        "--bridge",
        "navt0",
      );
      assertEquals(made.code, 0, made.stderr);
      networkMade = true;
      const created = await nsnetJson(
        "sandbox",
        "create",
        sandbox,
        "--network",
        network,
        "--json",
      ) as { netnsPath: string };
      sandboxMade = true;
      const path = created.netnsPath;
      const status = await nsnetJson("inspect", path, "--json") as StatusBlock;
      const ours = eth0Of(status);
      assertEquals(ours.gateway, "10.124.5.1");

      await podman.ok([
        "run",
        "--detach",
        "--name",
        "joiner",
        "--pull",
        "never",
        "--network",
        `ns:${path}`,
        IMAGE,
        "sleep",
        "300",
      ]);
      // The container sees the sandbox's interface…
      const inside = await podman.ok([
        "exec",
        "joiner",
        "ip",
        "-o",
        "addr",
        "show",
        "eth0",
      ]);
      assert(inside.includes(`inet ${ours.ipnet}`), inside);
      const link = await podman.ok([
        "exec",
        "joiner",
        "ip",
        "-o",
        "link",
        "show",
        "eth0",
      ]);
      assert(link.includes(`link/ether ${ours.mac}`), link);
      // …Podman reports what nsnet reports…
      assertEquals(await podmanAddress(podman, "joiner"), ours);
      // …and the container's pid leads nsnet to the same namespace.
      const pid = await podman.ok([
        "inspect",
        "joiner",
        "--format",
        "{{.State.Pid}}",
      ]);
      assertEquals(await nsnetJson("inspect", "--pid", pid, "--json"), status);
      assertEquals(
        await podman.ok([
          "inspect",
          "joiner",
          "--format",
          "{{.HostConfig.NetworkMode}}",
        ]),
        `ns:${path}`,
      );
      await podman.ok(["rm", "--force", "--time", "0", "joiner"]);
      // The sandbox outlives the container that joined it.
      assertEquals(await nsnetJson("inspect", path, "--json"), status);
    } finally {
      await podman.stop();
      if (sandboxMade) await nsnet("sandbox", "rm", sandbox);
      if (networkMade) await nsnet("network", "rm", network);
    }
  },
);

podmanTest(
  "podman: nsnet inspects and measures a container by its pid; a sandbox joins Podman's network",
  async () => {
    const podman = await RootPodman.start();
    const sandboxNS = newNS();
    const network = "navt-interop";
    let attached = false;
    const options: NetavarkOptions = {
      configDir: podman.networksDir,
      runDir: `${podman.dir}/nsnet-netavark`,
      spawn: (command, o) =>
        podman.host.run(() =>
          new Deno.Command(command[0]!, {
            args: command.slice(1),
            env: o.env,
            stdin: "piped",
            stdout: "piped",
            stderr: "piped",
          }).spawn()
        ),
    };
    const attach = [{
      name: network,
      interfaceName: "eth0",
      staticIps: ["10.124.6.200"],
    }];
    try {
      await podman.ok([
        "network",
        "create",
        "--disable-dns",
        "--subnet",
        "10.124.6.0/24",
        network,
      ]);
      // Podman 4.3 cannot name the bridge; its definition file can.
      const file = `${podman.networksDir}/${network}.json`;
      const definition = JSON.parse(Deno.readTextFileSync(file));
      definition.network_interface = "navt1";
      Deno.writeTextFileSync(file, JSON.stringify(definition, null, 5));
      // nsnet reads the definition Podman wrote.
      const loaded = getPodmanNetwork(network, { dir: podman.networksDir });
      assertEquals(loaded.subnets, [{
        subnet: "10.124.6.0/24",
        gateway: "10.124.6.1",
      }]);

      await podman.ok([
        "run",
        "--detach",
        "--name",
        "served",
        "--pull",
        "never",
        "--network",
        network,
        IMAGE,
        "sh",
        "-c",
        "echo hello from podman | nc -l -p 8080; sleep 300",
      ]);
      const pid = await podman.ok([
        "inspect",
        "served",
        "--format",
        "{{.State.Pid}}",
      ]);

      // (2) inspect by pid: what podman inspect reports for its network.
      const byPid = await nsnetJson(
        "inspect",
        "--pid",
        pid,
        "--json",
      ) as StatusBlock;
      const podmanSays = await podmanAddress(podman, "served", network);
      assertEquals(eth0Of(byPid), podmanSays);
      assertEquals(podmanSays.ipnet, "10.124.6.2/24");

      // A sandbox attached to Podman's network through netavark reaches the container.
      const status = await netavarkSetup(
        sandboxNS.path,
        "interop-sandbox",
        attach,
        options,
      );
      attached = true;
      assertEquals(status, inspectNetNS(sandboxNS));
      assertEquals(eth0Of(status).ipnet, "10.124.6.200/24");
      const conn = await sandboxNS.connect({
        hostname: "10.124.6.2",
        port: 8080,
      });
      const buf = new Uint8Array(64);
      let text = "";
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      conn.close();
      assertEquals(text, "hello from podman\n");

      // (2) stats by pid, read between two reads of podman stats.
      const statsOf = async (): Promise<{ input: number; output: number }> => {
        const [input, output] = (await podman.ok([
          "stats",
          "--no-stream",
          "--format",
          "{{.NetInput}} {{.NetOutput}}",
          "served",
        ])).split(" ").map(Number);
        return { input: input!, output: output! };
      };
      const before = await statsOf();
      const ours = await nsnetJson(
        "stats",
        "--pid",
        pid,
        "--json",
        "-i",
        "eth0",
      ) as {
        rxBytes: number;
        txBytes: number;
      };
      const after = await statsOf();
      console.log(
        `  podman stats before ${JSON.stringify(before)}, nsnet ${
          JSON.stringify({ rx: ours.rxBytes, tx: ours.txBytes })
        }, podman stats after ${JSON.stringify(after)}`,
      );
      assert(ours.rxBytes > 0 && ours.txBytes > 0, "the connection is counted");
      // Podman 4.3 reports eth0's sent bytes as NetInput and its received bytes as NetOutput.
      assert(
        before.input <= ours.txBytes && ours.txBytes <= after.input,
        "tx within podman's two reads",
      );
      assert(
        before.output <= ours.rxBytes && ours.rxBytes <= after.output,
        "rx within podman's two reads",
      );
    } finally {
      try {
        if (attached) {
          await netavarkTeardown(
            sandboxNS.path,
            "interop-sandbox",
            attach,
            options,
          );
        }
      } finally {
        unmountNS(sandboxNS);
        await podman.stop();
      }
    }
  },
);

/** `net:[inode]` of a namespace a command reads from inside it. */
function netnsId(out: UserResult): string {
  assertEquals(out.code, 0, out.stderr);
  const id = out.stdout.trim();
  assert(/^net:\[\d+\]$/.test(id), id);
  return id;
}

function filesUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(d)];
    } catch {
      return;
    }
    for (const e of entries) {
      const path = `${d}/${e.name}`;
      found.push(path);
      if (e.isDirectory) walk(path);
    }
  };
  walk(dir);
  return found.sort();
}

podmanTest(
  "podman rootless: rootless Podman and rootless nsnet keep to their own namespaces, locks and state",
  async () => {
    const env = rootlessEnv();
    preparePodman(env);
    const work = `${env.home}/nsnet-interop`;
    const podman = (args: string[]): Promise<UserResult> =>
      asUser(["podman", ...args]);
    const podmanOk = async (args: string[]): Promise<string> => {
      const out = await podman(args);
      assertEquals(out.code, 0, `podman ${args.join(" ")}: ${out.stderr}`);
      return out.stdout.trim();
    };
    const nsnetOk = async (args: string[]): Promise<string> => {
      const out = await nsnetAsUser(args);
      assertEquals(out.code, 0, `nsnet ${args.join(" ")}: ${out.stderr}`);
      return out.stdout.trim();
    };
    const podmanNetns = async (): Promise<string> =>
      netnsId(
        await podman([
          "unshare",
          "--rootless-netns",
          "readlink",
          "/proc/self/ns/net",
        ]),
      );
    const nsnetNetns = async (): Promise<string> =>
      netnsId(
        await nsnetAsUser([
          "rootless",
          "exec",
          "--",
          "readlink",
          "/proc/self/ns/net",
        ]),
      );
    const containerAddress = async (): Promise<string> =>
      await podmanOk(["exec", "rl", "ip", "-o", "-4", "addr", "show", "eth0"]);

    await cleanupRootless();
    await resetPodman(env);
    try {
      Deno.mkdirSync(work, { recursive: true });
      const tar = makeRootfsTar(work);
      run("chown", "-R", `${env.uid}:${env.gid}`, work);
      await podmanOk(["import", tar, IMAGE]);
      await podmanOk([
        "network",
        "create",
        "--disable-dns",
        "--subnet",
        "10.124.11.0/24",
        "navt-rl",
      ]);
      await podmanOk([
        "run",
        "--detach",
        "--name",
        "rl",
        "--pull",
        "never",
        "--network",
        "navt-rl",
        IMAGE,
        "sleep",
        "300",
      ]);
      const podmanNS = await podmanNetns();
      const podmanPause = podmanPids(env).pause;
      assert(podmanPause !== undefined, "podman's pause process runs");
      const address = await containerAddress();
      assert(address.includes("inet 10.124.11.2/24"), address);
      const podmanState = filesUnder(`${env.runtimeDir}/libpod`).concat(
        filesUnder(`${env.runtimeDir}/containers`),
      );

      // nsnet's side, beside it.
      await nsnetOk([
        "network",
        "create",
        "navt-rl",
        "--subnet",
        "10.124.12.0/24",
        "--bridge",
        "navt2",
      ]);
      const box = JSON.parse(
        await nsnetOk([
          "sandbox",
          "create",
          "rlbox",
          "--network",
          "navt-rl",
          "--json",
        ]),
      );
      assertEquals(
        box.status.interfaces.eth0.subnets[0].ipnet,
        "10.124.12.2/24",
      );
      const nsnetNS = await nsnetNetns();
      assertNotEquals(nsnetNS, podmanNS, "one rootless namespace each");
      const nsnetLinks = await nsnetOk([
        "rootless",
        "exec",
        "--",
        "ip",
        "-br",
        "link",
      ]);
      const podmanLinks =
        (await podman(["unshare", "--rootless-netns", "ip", "-br", "link"]))
          .stdout;
      assert(
        nsnetLinks.includes("navt2") && !nsnetLinks.includes("podman1"),
        nsnetLinks,
      );
      assert(
        podmanLinks.includes("podman1") && !podmanLinks.includes("navt2"),
        podmanLinks,
      );
      const nsnetPause = Number(
        Deno.readTextFileSync(`${env.runtimeDir}/nsnet/pause.pid`).trim(),
      );
      assertNotEquals(nsnetPause, podmanPause, "one pause process each");
      // nsnet wrote nothing in Podman's state; its own is under nsnet/ and netns/.
      assertEquals(
        filesUnder(`${env.runtimeDir}/libpod`).concat(
          filesUnder(`${env.runtimeDir}/containers`),
        ),
        podmanState,
      );
      for (const f of filesUnder(`${env.runtimeDir}/nsnet`)) {
        assert(!/podman|libpod|rootless-netns-[0-9a-f]/.test(f), f);
      }

      // nsnet going away leaves Podman's container and namespace as they were.
      await nsnetOk(["sandbox", "rm", "rlbox"]);
      await nsnetOk(["network", "rm", "navt-rl"]);
      await nsnetOk(["rootless", "down"]);
      assertEquals(
        (await nsnetAsUser(["rootless", "status", "--json"])).stdout.includes(
          '"exists": false',
        ),
        true,
        "nsnet's rootless namespace is gone",
      );
      assertEquals(
        await podmanNetns(),
        podmanNS,
        `podman's rootless namespace changed: ${
          filesUnder(`${env.runtimeDir}/netns`)
        }`,
      );
      assertEquals(await containerAddress(), address);
      assertEquals(podmanPids(env).pause, podmanPause);

      // Podman going away leaves nsnet's sandbox as it was.
      await nsnetOk([
        "network",
        "create",
        "navt-rl",
        "--subnet",
        "10.124.12.0/24",
        "--bridge",
        "navt2",
      ]);
      const again = await nsnetOk([
        "sandbox",
        "create",
        "rlbox",
        "--network",
        "navt-rl",
        "--json",
      ]);
      const nsnetNS2 = await nsnetNetns();
      const inspected = await nsnetOk([
        "sandbox",
        "inspect",
        "rlbox",
        "--json",
      ]);
      await podmanOk(["rm", "--force", "--time", "0", "rl"]);
      await podmanOk(["network", "rm", "navt-rl"]);
      // As a user would: the last container gone, Podman drops its rootless
      // namespace itself; `system migrate` stops its pause process.
      await podmanOk(["system", "migrate"]);
      assertEquals(podmanPids(env), {
        pause: undefined,
        slirp4netns: undefined,
      }, "podman's processes are gone");
      assertEquals(await nsnetNetns(), nsnetNS2);
      assertEquals(
        await nsnetOk(["sandbox", "inspect", "rlbox", "--json"]),
        inspected,
      );
      assertEquals(JSON.parse(again).status, JSON.parse(inspected).status);
      await nsnetOk(["sandbox", "rm", "rlbox"]);
      await nsnetOk(["network", "rm", "navt-rl"]);
    } finally {
      // The fixtures' resets go by file and process names that Podman and
      // nsnet share (rootless-netns-HASH): each runs only once the other side is gone.
      await podman(["rm", "--all", "--force", "--time", "0"]);
      await podman(["network", "rm", "--force", "navt-rl"]);
      await podman(["rmi", "--all", "--force"]);
      await nsnetAsUser(["sandbox", "rm", "rlbox"]);
      await nsnetAsUser(["network", "rm", "navt-rl"]);
      await resetPodman(env);
      await cleanupRootless();
      await Deno.remove(work, { recursive: true }).catch(() => {});
      // runc's state root for the user; empty once the container is gone.
      await Deno.remove(`${env.runtimeDir}/runc`).catch(() => {});
    }
    assertEquals(podmanLeftovers(env), []);
    assertEquals(filesUnder(`${env.runtimeDir}/netns`), []);
  },
);

nsTest(
  "nsnet inspect/stats --pid: a process's namespace; NAME|PATH or --pid, not both",
  async () => {
    await withNamespaces(2, async ([a, b]) => {
      // A veth between two namespaces: something to inspect and to count.
      run(
        "ip",
        "link",
        "add",
        "navtp0",
        "netns",
        a!.path,
        "type",
        "veth",
        "peer",
        "navtp1",
        "netns",
        b!.path,
      );
      a!.run(() => run("ip", "addr", "add", "10.124.14.2/24", "dev", "navtp0"));
      a!.run(() => run("ip", "link", "set", "navtp0", "up"));
      const sleeper = a!.run(() =>
        new Deno.Command("sleep", {
          args: ["60"],
          stdout: "null",
          stderr: "null",
        }).spawn()
      );
      try {
        const pid = String(sleeper.pid);
        assertEquals(
          await nsnetJson("inspect", "--pid", pid, "--json"),
          await nsnetJson("inspect", a!.path, "--json"),
        );
        const stats = await nsnetJson("stats", "--pid", pid, "--json") as {
          interfaces: Record<string, unknown>;
        };
        assertEquals(Object.keys(stats.interfaces), ["navtp0"]);
        for (
          const args of [["inspect"], ["stats"], [
            "inspect",
            a!.path,
            "--pid",
            pid,
          ]]
        ) {
          const out = await nsnet(...args);
          assertEquals(out.code, 2, out.stderr);
          assert(
            out.stderr.includes(
              "give either a namespace NAME|PATH or --pid PID",
            ),
            out.stderr,
          );
        }
        const gone = await nsnet("stats", "--pid", "999999999");
        assertEquals(gone.code, 1);
        assert(
          gone.stderr.includes("no process with pid 999999999"),
          gone.stderr,
        );
      } finally {
        sleeper.kill("SIGKILL");
        await sleeper.status;
      }
    });
  },
);
