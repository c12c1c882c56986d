/**
 * containerd with nsnet as its CNI plugin: Debian's containerd 1.6,
 * started here with its own root, state and socket, and `ctr run --cni`
 * (which reads the first conflist in /etc/cni/net.d and finds plugins in
 * /opt/cni/bin or /usr/lib/cni) with an nsnet conflist put first. Two
 * containers on busybox-static (a plain rootfs, `--rootfs`) get addresses
 * from nsnet's IPAM and talk over TCP; after they exit no veth, lease,
 * bridge, container or file of the test is left. The plugin is the launcher
 * `installPlugin()` writes.
 */
import { assert, assertEquals } from "./_assert.ts";
import { nftTables, nsTest, restoreNftTables, succeeds } from "./_helpers.ts";
import { installPlugin } from "../lib/cni/plugin/install.ts";

const BUSYBOX = "/bin/busybox";
const BIN_DIR = "/opt/cni/bin";
const CONF_DIR = "/etc/cni/net.d";

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function skipReason(): string | undefined {
  if (Deno.uid() !== 0) return "needs root";
  for (const p of ["containerd", "ctr", "runc"]) {
    if (!succeeds("sh", "-c", `command -v ${p}`)) {
      return `${p} is missing (apt-get install containerd runc)`;
    }
  }
  if (
    !exists(BUSYBOX) ||
    !succeeds("sh", "-c", `file -L ${BUSYBOX} | grep -q 'statically linked'`)
  ) {
    return "busybox-static is missing";
  }
  return undefined;
}

const SKIP = skipReason();

function nsLinks(): string[] {
  const out = new Deno.Command("ip", {
    args: ["-j", "link", "show"],
    stdout: "piped",
  }).outputSync();
  return (JSON.parse(new TextDecoder().decode(out.stdout)) as {
    ifname: string;
  }[])
    .map((l) => l.ifname).filter((n) =>
      /^nsc[0-9a-f]{12}$/.test(n) || n === "nsctrt0"
    );
}

class Containerd {
  readonly dir = Deno.makeTempDirSync({ prefix: "nsnet-containerd-" });
  readonly socket = `${this.dir}/containerd.sock`;
  #child: Deno.ChildProcess | undefined;

  async start(): Promise<void> {
    Deno.writeTextFileSync(
      `${this.dir}/config.toml`,
      [
        "version = 2",
        `root = "${this.dir}/root"`,
        `state = "${this.dir}/state"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        `  address = "${this.socket}"`,
        "",
      ].join("\n"),
    );
    this.#child = new Deno.Command("containerd", {
      args: ["--config", `${this.dir}/config.toml`],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 100; i++) {
      if ((await this.ctr(["version"])).code === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("containerd did not come up within 10 s");
  }

  async ctr(
    args: string[],
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const out = await new Deno.Command("ctr", {
      args: ["-a", this.socket, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    return {
      code: out.code,
      stdout: d.decode(out.stdout),
      stderr: d.decode(out.stderr),
    };
  }

  spawnCtr(args: string[]): Deno.ChildProcess {
    return new Deno.Command("ctr", {
      args: ["-a", this.socket, ...args],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  }

  async stop(): Promise<void> {
    // Whatever a failed test left: tasks killed, containers removed.
    const list = await this.ctr(["containers", "list", "-q"]);
    for (const id of list.stdout.split("\n").filter((l) => l !== "")) {
      await this.ctr(["tasks", "kill", "-s", "SIGKILL", id]);
      await new Promise((r) => setTimeout(r, 300));
      await this.ctr(["tasks", "delete", "-f", id]);
      await this.ctr(["containers", "delete", id]);
    }
    if (this.#child !== undefined) {
      this.#child.kill("SIGTERM");
      await this.#child.status;
    }
    for (const mount of Deno.readTextFileSync("/proc/mounts").split("\n")) {
      const target = mount.split(" ")[1];
      if (target?.startsWith(this.dir)) succeeds("umount", "-l", target);
    }
    Deno.removeSync(this.dir, { recursive: true });
  }
}

function rootfs(dir: string): string {
  const root = `${dir}/rootfs`;
  for (const sub of ["bin", "proc", "sys", "dev", "etc", "tmp"]) {
    Deno.mkdirSync(`${root}/${sub}`, { recursive: true });
  }
  Deno.copyFileSync(BUSYBOX, `${root}/bin/busybox`);
  Deno.chmodSync(`${root}/bin/busybox`, 0o755);
  for (const applet of ["sh", "nc", "ip", "cat", "echo", "sleep"]) {
    Deno.symlinkSync("busybox", `${root}/bin/${applet}`);
  }
  return root;
}

nsTest(
  "cni plugin under containerd: ctr run --cni, two containers talk over TCP on nsnet addresses, nothing left after they exit",
  async () => {
    const had = {
      opt: exists("/opt/cni"),
      bin: exists(BIN_DIR),
      plugin: exists(`${BIN_DIR}/nsnet`)
        ? Deno.readFileSync(`${BIN_DIR}/nsnet`)
        : undefined,
      varLibCni: exists("/var/lib/cni"),
      runContainerd: exists("/run/containerd"),
    };
    const tables = nftTables();
    const forward = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward");
    const containerd = new Containerd();
    const conflist = `${CONF_DIR}/00-nsnet-test-${Deno.pid}.conflist`;
    const dataDir = `${containerd.dir}/ipam`;
    try {
      installPlugin({ binDir: BIN_DIR, source: true });
      Deno.mkdirSync(CONF_DIR, { recursive: true });
      Deno.writeTextFileSync(
        conflist,
        JSON.stringify({
          cniVersion: "1.0.0",
          name: "nsnet-ctr",
          plugins: [{
            type: "nsnet",
            bridge: "nsctrt0",
            subnets: ["10.218.0.0/24"],
            ipMasq: true,
            dataDir,
          }],
        }),
      );
      await containerd.start();
      const root = rootfs(containerd.dir);
      // The server: a container that answers one connection, then exits.
      const server = containerd.spawnCtr([
        "run",
        "--rm",
        "--cni",
        "--rootfs",
        root,
        "srv",
        "/bin/sh",
        "-c",
        "echo hello from containerd | nc -l -p 7000",
      ]);
      let address: string | undefined;
      for (let i = 0; i < 100 && address === undefined; i++) {
        try {
          const file = JSON.parse(
            Deno.readTextFileSync(`${dataDir}/nsnet-ctr.json`),
          );
          const records = Object.values(file.attachments) as {
            ips: string[];
          }[];
          address = records[0]?.ips[0]?.split("/")[0];
        } catch { /* not yet */ }
        if (address === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      assert(
        address !== undefined,
        "the server got an address from nsnet's IPAM",
      );
      assert(address.startsWith("10.218.0."), address);
      await new Promise((r) => setTimeout(r, 500)); // nc listening
      const client = await containerd.ctr([
        "run",
        "--rm",
        "--cni",
        "--rootfs",
        root,
        "cli",
        "/bin/sh",
        "-c",
        `ip -4 addr show eth0; nc ${address} 7000`,
      ]);
      assertEquals(client.code, 0, client.stderr);
      assert(client.stdout.includes("hello from containerd"), client.stdout);
      assert(client.stdout.includes("inet 10.218.0."), client.stdout);
      const served = await server.output();
      assertEquals(served.code, 0, new TextDecoder().decode(served.stderr));
      // Both exited: containerd called DEL; nothing of them is left.
      assertEquals(
        (await containerd.ctr(["containers", "list", "-q"])).stdout.trim(),
        "",
      );
      assertEquals(nsLinks(), []);
      assert(
        !exists(dataDir),
        "the IPAM store is gone with the last container",
      );
      assertEquals(nftTables(), tables);
    } finally {
      await containerd.stop().catch(() => {});
      try {
        Deno.removeSync(conflist);
      } catch { /* never written */ }
      if (had.plugin !== undefined) {
        Deno.writeFileSync(`${BIN_DIR}/nsnet`, had.plugin);
      } else if (exists(`${BIN_DIR}/nsnet`)) {
        Deno.removeSync(`${BIN_DIR}/nsnet`);
      }
      if (!had.bin) Deno.removeSync(BIN_DIR, { recursive: true });
      if (!had.opt) Deno.removeSync("/opt/cni", { recursive: true });
      if (!had.varLibCni && exists("/var/lib/cni")) {
        Deno.removeSync("/var/lib/cni", { recursive: true });
      }
      if (!had.runContainerd && exists("/run/containerd")) {
        Deno.removeSync("/run/containerd", { recursive: true });
      }
      for (const link of nsLinks()) succeeds("ip", "link", "del", link);
      restoreNftTables(tables);
      Deno.writeTextFileSync("/proc/sys/net/ipv4/ip_forward", forward);
    }
  },
  { ignore: SKIP !== undefined },
);

if (SKIP !== undefined) console.error(`containerd CNI test skipped: ${SKIP}`);

const PODMAN_SKIP = SKIP ??
  (succeeds("podman", "--version") ? undefined : "podman is missing");

/**
 * Podman 4.3 with its CNI backend and an nsnet conflist: a container run on
 * the network gets its address from nsnet, and `podman rm` (here --rm)
 * frees it. Podman's storage, config and CNI conf dir are temp dirs; the
 * plugin is found through `cni_plugin_dirs`.
 */
nsTest(
  "cni plugin under Podman 4.3: --network-backend cni with an nsnet conflist",
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "nsnet-podman-cni-" });
    const had = {
      runContainers: exists("/run/containers"),
      runCni: exists("/run/cni"),
      varLibCni: exists("/var/lib/cni"),
    };
    const tables = nftTables();
    const forward = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward");
    const bin = `${dir}/bin`;
    const podman = async (
      args: string[],
    ): Promise<{ code: number; stdout: string; stderr: string }> => {
      const out = await new Deno.Command("podman", {
        args: [
          "--root",
          `${dir}/root`,
          "--runroot",
          `${dir}/run`,
          "--storage-driver",
          "vfs",
          ...args,
        ],
        env: { CONTAINERS_CONF: `${dir}/containers.conf` },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const d = new TextDecoder();
      return {
        code: out.code,
        stdout: d.decode(out.stdout),
        stderr: d.decode(out.stderr),
      };
    };
    try {
      installPlugin({ binDir: bin, source: true });
      Deno.mkdirSync(`${dir}/cni`);
      Deno.mkdirSync(`${dir}/tmp`);
      Deno.writeTextFileSync(
        `${dir}/cni/nsnet-pod.conflist`,
        JSON.stringify({
          cniVersion: "1.0.0",
          name: "nsnet-pod",
          plugins: [{
            type: "nsnet",
            bridge: "nsctrt0",
            subnets: ["10.219.0.0/24"],
            dataDir: `${dir}/ipam`,
          }],
        }),
      );
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
network_backend = "cni"
network_config_dir = "${dir}/cni"
cni_plugin_dirs = ["${bin}", "/usr/lib/cni"]
`,
      );
      const root = rootfs(dir);
      const tar = `${dir}/rootfs.tar`;
      assertEquals(succeeds("tar", "-C", root, "-cf", tar, "."), true);
      const imported = await podman([
        "import",
        "--change",
        'CMD=["/bin/sh"]',
        tar,
        "localhost/nsnet-cni-test",
      ]);
      assertEquals(imported.code, 0, imported.stderr);
      const out = await podman([
        "run",
        "--rm",
        "--network",
        "nsnet-pod",
        "localhost/nsnet-cni-test",
        "/bin/sh",
        "-c",
        "ip -4 addr show eth0",
      ]);
      assertEquals(out.code, 0, out.stderr);
      assert(out.stdout.includes("inet 10.219.0.2/24"), out.stdout);
      assertEquals(nsLinks(), []);
      assert(
        !exists(`${dir}/ipam`),
        "the IPAM store is gone with the container",
      );
    } finally {
      await podman(["rm", "--all", "--force", "--time", "0"]).catch(() => {});
      await podman(["rmi", "--all", "--force"]).catch(() => {});
      for (const mount of Deno.readTextFileSync("/proc/mounts").split("\n")) {
        const target = mount.split(" ")[1];
        if (target?.startsWith(dir)) succeeds("umount", "-l", target);
      }
      Deno.removeSync(dir, { recursive: true });
      if (!had.runContainers && exists("/run/containers")) {
        Deno.removeSync("/run/containers", { recursive: true });
      }
      if (!had.runCni && exists("/run/cni")) {
        Deno.removeSync("/run/cni", { recursive: true });
      }
      if (!had.varLibCni && exists("/var/lib/cni")) {
        Deno.removeSync("/var/lib/cni", { recursive: true });
      }
      for (const link of nsLinks()) succeeds("ip", "link", "del", link);
      restoreNftTables(tables);
      Deno.writeTextFileSync("/proc/sys/net/ipv4/ip_forward", forward);
    }
  },
  { ignore: PODMAN_SKIP !== undefined },
);
