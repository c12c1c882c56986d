/**
 * `nsnet doctor` against this machine, as root and as unprivileged users:
 * each condition a test can make is made (the tun device's mode, the
 * runtime dir unset, another user's, a link; a user with no subordinate id
 * range) and the check's status and fix asserted; what cannot be made here
 * (AppArmor's restriction, a kernel without veth) goes through the pure
 * result functions.
 */
import { assert, assertEquals } from "./_assert.ts";
import { nsnet, run } from "./_helpers.ts";
import { nsnetAsUser, rootlessEnv, TEST_USER } from "./_rootless.ts";
import { wantsUserNS } from "../lib/cli/argv.ts";
import type { DoctorCheck } from "../lib/doctor/types.ts";
import { kernelResults, parseKernelConfig } from "../lib/doctor/kernel.ts";
import {
  apparmorResult,
  idMapResult,
  subordinateIdsResult,
  userNamespaceLimitResult,
} from "../lib/doctor/userns.ts";
import {
  droppingForwardChains,
  filesystemOf,
  readMounts,
  volatileStateResult,
} from "../lib/doctor/host.ts";

const TUN = "/dev/net/tun";

function parse(stdout: string): DoctorCheck[] {
  const checks = JSON.parse(stdout) as DoctorCheck[];
  for (const c of checks) {
    assertEquals(typeof c.check, "string");
    assert(["ok", "warn", "fail", "skip"].includes(c.status), c.status);
    assertEquals(typeof c.detail, "string");
    assertEquals(typeof c.fix, "string");
  }
  return checks;
}

function find(checks: readonly DoctorCheck[], name: string): DoctorCheck {
  const found = checks.find((c) => c.check === name);
  assert(found !== undefined, `no check ${name} in ${JSON.stringify(checks)}`);
  return found;
}

/** Runs `fn` with the tun device at `mode`, restoring its mode afterwards. */
async function withTunMode(
  mode: number,
  fn: () => Promise<void>,
): Promise<void> {
  const before = Deno.statSync(TUN).mode! & 0o7777;
  Deno.chmodSync(TUN, mode);
  try {
    await fn();
  } finally {
    Deno.chmodSync(TUN, before);
  }
}

function netemBuilt(): boolean {
  const config = (() => {
    try {
      return run("sh", "-c", "zcat /proc/config.gz");
    } catch {
      return "";
    }
  })();
  return /^CONFIG_NET_SCH_NETEM=[ym]$/m.test(config);
}

Deno.test("doctor as root: every check reported, kernel features probed, JSON and table", async () => {
  const out = await nsnet("doctor", "--json");
  const checks = parse(out.stdout);
  assertEquals(out.code, checks.some((c) => c.status === "fail") ? 1 : 0);
  for (const name of ["netns", "veth", "bridge", "nftables", "tbf"]) {
    assertEquals(find(checks, `kernel: ${name}`).status, "ok", name);
  }
  const netem = find(checks, "kernel: netem");
  if (netemBuilt()) {
    assertEquals(netem.status, "ok");
  } else {
    assertEquals(netem.status, "warn");
    assert(netem.detail.includes("CONFIG_NET_SCH_NETEM"), netem.detail);
    assert(netem.fix.includes("CONFIG_NET_SCH_NETEM"), netem.fix);
  }
  for (const name of ["nft", "ip", "slirp4netns", "pasta"]) {
    const c = find(checks, `binary: ${name}`);
    assertEquals(c.status, "ok", name);
    assert(c.detail.startsWith("/"), c.detail);
    // Debian's pasta prints "pasta unknown version"; the others a number.
    if (name !== "pasta") assert(/\d/.test(c.detail), c.detail);
  }
  assertEquals(find(checks, "subordinate ids").status, "skip");
  assertEquals(find(checks, "XDG_RUNTIME_DIR").status, "skip");
  const forwarding = find(checks, "ip forwarding");
  assert(["ok", "warn"].includes(forwarding.status));
  // /run here is on the root filesystem, not a tmpfs.
  const tmpfs = find(checks, "state on tmpfs");
  const runType = filesystemOf("/run", readMounts());
  assertEquals(tmpfs.status, runType === "tmpfs" ? "ok" : "warn");
  if (tmpfs.status === "warn") assert(tmpfs.fix.includes("nsnet gc"));
  // The probes leave nothing: their namespace is gone.
  assert(!run("ip", "netns", "list").includes("nsdoc"));
  const table = await nsnet("doctor");
  assert(table.stdout.startsWith("CHECK"), table.stdout);
  assert(table.stdout.includes("kernel: veth"));
});

Deno.test("doctor as root: a 0600 tun device warns that rootless users cannot open it", async () => {
  await withTunMode(0o600, async () => {
    const checks = parse((await nsnet("doctor", "--json")).stdout);
    const tun = find(checks, "/dev/net/tun");
    assertEquals(tun.status, "warn");
    assert(tun.detail.includes("0600"), tun.detail);
    assert(tun.fix.includes("chmod 0666 /dev/net/tun"), tun.fix);
  });
});

Deno.test("doctor unprivileged: runs outside the user namespace, and the test user's setup passes", async () => {
  assertEquals(wantsUserNS(["doctor"]), false);
  assertEquals(wantsUserNS(["doctor", "--json"]), false);
  const env = rootlessEnv();
  const pauseBefore = pausePids(env.uid);
  const out = await nsnetAsUser(["doctor", "--json"]);
  const checks = parse(out.stdout);
  assertEquals(find(checks, "XDG_RUNTIME_DIR").status, "ok");
  assertEquals(find(checks, "subordinate ids").status, "ok");
  assert(find(checks, "subordinate ids").detail.includes(TEST_USER));
  assertEquals(find(checks, "newuidmap").status, "ok");
  assertEquals(find(checks, "newgidmap").status, "ok");
  assertEquals(find(checks, "/dev/net/tun").status, "ok");
  assertEquals(find(checks, "user namespaces: limit").status, "ok");
  // Rootless, the kernel is read from its build config.
  assertEquals(find(checks, "kernel: veth").status, "ok");
  assertEquals(find(checks, "kernel: netns").status, "ok");
  assertEquals(out.code, checks.some((c) => c.status === "fail") ? 1 : 0);
  // No pause process was started for it.
  assertEquals(pausePids(env.uid), pauseBefore);
});

function pausePids(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const argv0 = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`)
        .split("\0")[0];
      const status = Deno.readTextFileSync(`/proc/${entry.name}/status`);
      if (
        argv0 === "nsnet-pause" &&
        Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid
      ) pids.push(Number(entry.name));
    } catch { /* gone */ }
  }
  return pids.sort();
}

Deno.test("doctor unprivileged: a tun device the user cannot open fails, exit 1, fix names chmod", async () => {
  rootlessEnv();
  await withTunMode(0o600, async () => {
    const out = await nsnetAsUser(["doctor", "--json"]);
    const tun = find(parse(out.stdout), "/dev/net/tun");
    assertEquals(tun.status, "fail");
    assert(tun.detail.includes("cannot open"), tun.detail);
    assert(tun.fix.includes("chmod 0666 /dev/net/tun"), tun.fix);
    assertEquals(out.code, 1);
    const table = await nsnetAsUser(["doctor"]);
    assertEquals(table.code, 1);
    assert(table.stdout.includes("To fix:"), table.stdout);
    assert(table.stdout.includes("chmod 0666 /dev/net/tun"));
  });
});

Deno.test("doctor unprivileged: XDG_RUNTIME_DIR unset, another user's, or a link: each fails naming the fix", async () => {
  const env = rootlessEnv();
  const unset = find(
    parse(
      (await nsnetAsUser(["doctor", "--json"], { XDG_RUNTIME_DIR: "" }))
        .stdout,
    ),
    "XDG_RUNTIME_DIR",
  );
  assertEquals(unset.status, "fail");
  assert(unset.detail.includes("not set"), unset.detail);
  assert(
    unset.fix.includes(`export XDG_RUNTIME_DIR=/run/user/${env.uid}`),
    unset.fix,
  );
  const foreign = Deno.makeTempDirSync({ prefix: "nsnet-doctor-xdg-" });
  const link = `${foreign}.link`;
  try {
    Deno.chmodSync(foreign, 0o755);
    const other = find(
      parse(
        (await nsnetAsUser(["doctor", "--json"], { XDG_RUNTIME_DIR: foreign }))
          .stdout,
      ),
      "XDG_RUNTIME_DIR",
    );
    assertEquals(other.status, "fail");
    assert(other.detail.includes("belongs to uid 0"), other.detail);
    assert(other.fix.includes(`export XDG_RUNTIME_DIR=/run/user/${env.uid}`));
    Deno.symlinkSync(env.runtimeDir, link);
    const linked = find(
      parse(
        (await nsnetAsUser(["doctor", "--json"], { XDG_RUNTIME_DIR: link }))
          .stdout,
      ),
      "XDG_RUNTIME_DIR",
    );
    assertEquals(linked.status, "fail");
    assert(linked.detail.includes("symbolic link"), linked.detail);
    assert(
      linked.fix.includes(`export XDG_RUNTIME_DIR=${env.runtimeDir}`),
      linked.fix,
    );
  } finally {
    try {
      Deno.removeSync(link);
    } catch { /* never made */ }
    Deno.removeSync(foreign, { recursive: true });
  }
});

Deno.test("doctor unprivileged: a user without a subordinate id range is told how to get one", async () => {
  const env = rootlessEnv();
  const nobody = Number(run("id", "-u", "nobody"));
  const group = Number(run("id", "-g", "nobody"));
  assert(
    !Deno.readTextFileSync("/etc/subuid").split("\n").some((l) =>
      l.startsWith("nobody:") || l.startsWith(`${nobody}:`)
    ),
    "nobody has a subuid range here",
  );
  const denoDir = Deno.makeTempDirSync({ prefix: "nsnet-doctor-deno-" });
  try {
    Deno.chownSync(denoDir, nobody, group);
    const out = await new Deno.Command("setpriv", {
      args: [
        `--reuid=${nobody}`,
        `--regid=${group}`,
        "--clear-groups",
        "--",
        "env",
        "-i",
        "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "USER=nobody",
        `DENO_DIR=${denoDir}`,
        "NO_COLOR=1",
        env.deno,
        "run",
        "--allow-all",
        "--quiet",
        env.cli,
        "doctor",
        "--json",
      ],
      cwd: "/tmp",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const checks = parse(new TextDecoder().decode(out.stdout));
    const subids = find(checks, "subordinate ids");
    assertEquals(subids.status, "warn");
    assert(subids.detail.includes("/etc/subuid"), subids.detail);
    assert(
      subids.fix.includes("usermod --add-subuids") &&
        subids.fix.includes("nobody"),
      subids.fix,
    );
    // Without a range to map, newuidmap is not needed yet: at most a warning.
    assert(find(checks, "newuidmap").status !== "fail");
    // nobody has no runtime dir: that one fails, so doctor exits 1.
    assertEquals(find(checks, "XDG_RUNTIME_DIR").status, "fail");
    assertEquals(out.code, 1);
  } finally {
    Deno.removeSync(denoDir, { recursive: true });
  }
});

Deno.test("doctor results for conditions this machine cannot be put in", () => {
  const rootless = { uid: 1000, user: "alice", rootless: true };
  const root = { uid: 0, user: "root", rootless: false };
  const apparmor = apparmorResult(rootless, "1");
  assertEquals(apparmor.status, "fail");
  assert(
    apparmor.fix.includes("kernel.apparmor_restrict_unprivileged_userns=0"),
  );
  assertEquals(apparmorResult(root, "1").status, "ok");
  assertEquals(apparmorResult(rootless, "0").status, "ok");
  assertEquals(apparmorResult(rootless, undefined).status, "ok");
  const limit = userNamespaceLimitResult(rootless, "0");
  assertEquals(limit.status, "fail");
  assert(limit.fix.includes("user.max_user_namespaces"));
  assertEquals(userNamespaceLimitResult(root, "0").status, "warn");
  const ids = subordinateIdsResult(rootless, "bob:100000:65536\n", "");
  assertEquals(ids.status, "warn");
  assert(ids.fix.includes("usermod --add-subuids 100000-165535"));
  assertEquals(
    subordinateIdsResult(
      rootless,
      "alice:100000:65536\n",
      "1000:100000:65536\n",
    ).status,
    "ok",
  );
  const plain = idMapResult(rootless, "newuidmap", {
    path: "/usr/bin/newuidmap",
    mode: 0o100755,
    uid: 0,
    capabilities: false,
  }, true);
  assertEquals(plain.status, "fail");
  assert(plain.fix.includes("chmod u+s /usr/bin/newuidmap"));
  assertEquals(
    idMapResult(rootless, "newuidmap", {}, true).fix.includes("uidmap"),
    true,
  );
  const noVeth = kernelResults(
    root,
    new Map([["veth", { present: false, how: "CONFIG_VETH not set" }]]),
  );
  const veth = noVeth.find((c) => c.check === "kernel: veth")!;
  assertEquals(veth.status, "fail");
  assert(veth.fix.includes("CONFIG_VETH"));
  assertEquals(
    noVeth.find((c) => c.check === "kernel: bridge")!.status,
    "skip",
  );
  const config = parseKernelConfig(
    "CONFIG_VETH=m\n# CONFIG_NET_SCH_NETEM is not set\n",
  );
  assertEquals(config.get("CONFIG_VETH"), "m");
  assertEquals(config.get("CONFIG_NET_SCH_NETEM"), "n");
  assertEquals(volatileStateResult("/run", "ext4").status, "warn");
  assertEquals(volatileStateResult("/run", "tmpfs").status, "ok");
  assertEquals(
    filesystemOf("/run/nsnet", [{ point: "/", type: "ext4" }, {
      point: "/run",
      type: "tmpfs",
    }]),
    "tmpfs",
  );
  assertEquals(
    droppingForwardChains(JSON.stringify({
      nftables: [
        {
          chain: {
            family: "inet",
            table: "filter",
            name: "forward",
            hook: "forward",
            policy: "drop",
          },
        },
        {
          chain: {
            family: "ip",
            table: "nsnet",
            name: "forward",
            hook: "forward",
            policy: "drop",
          },
        },
      ],
    })),
    ["inet filter forward"],
  );
});
