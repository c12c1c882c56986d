import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  bundleForUser,
  cleanupRootless,
  nsnetAsUser,
  nsnetAsUserWithFaults,
  programAsUser,
  rootlessEnv,
  type UserResult,
} from "./_rootless.ts";
import { findInPath } from "../lib/rootless/helper_options.ts";

interface Status {
  exists: boolean;
  netnsPath: string;
  helper?: string;
  helperPid?: number;
  helperAlive: boolean;
  address?: string;
  gateway?: string;
  dns?: string;
  mtu?: number;
  refCount: number;
  pinned: boolean;
}

async function status(): Promise<Status> {
  const out = await nsnetAsUser(["rootless", "status", "--json"]);
  assertEquals(out.code, 0, out.stderr);
  return JSON.parse(out.stdout);
}

function ok(out: UserResult, what: string): UserResult {
  assertEquals(out.code, 0, `${what}: ${out.stderr}`);
  return out;
}

/** What is left of rootless nsnet on the machine: helper processes, namespace files, nsfs mounts. */
function leftovers(): { processes: string[]; files: string[] } {
  const env = rootlessEnv();
  const processes: string[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split(
        "\0",
      );
      const status = Deno.readTextFileSync(`/proc/${entry.name}/status`);
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      const program = argv[0]?.split("/").pop() ?? "";
      if (
        uid === env.uid &&
        ["slirp4netns", "pasta", "passt", "passt.avx2"].includes(program)
      ) {
        if (
          argv.some((a) =>
            a.includes(`${env.runtimeDir}/netns/rootless-netns-`)
          )
        ) {
          processes.push(argv.join(" "));
        }
      }
    } catch { /* exited */ }
  }
  let files: string[] = [];
  try {
    files = [...Deno.readDirSync(`${env.runtimeDir}/netns`)].map((e) => e.name);
  } catch { /* none */ }
  return { processes, files };
}

/** Serves one TCP connection on the host's loopback and reports whether one came. */
function hostLoopbackServer(): {
  port: number;
  accepted: Promise<boolean>;
  close: () => void;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept().then((conn) => {
    conn.close();
    return true;
  }).catch(() => false);
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accepted,
    close: () => listener.close(),
  };
}

const HELPERS = ["slirp4netns", "pasta"].filter((h) =>
  findInPath(h) !== undefined
);

for (const helper of HELPERS) {
  nsTest(
    `rootless up with ${helper}: tap0, route, MTU, resolv.conf and /run as S5/S6 say; down leaves nothing`,
    async () => {
      await cleanupRootless();
      try {
        ok(await nsnetAsUser(["rootless", "up", "--helper", helper]), "up");
        const s = await status();
        assertEquals(
          [s.exists, s.helper, s.helperAlive, s.refCount, s.pinned],
          [true, helper, true, 1, true],
        );
        assertEquals([s.address, s.gateway, s.dns, s.mtu], [
          "10.0.2.100",
          "10.0.2.2",
          "10.0.2.3",
          65520,
        ]);

        const inside = ok(
          await nsnetAsUser([
            "rootless",
            "exec",
            "--",
            "sh",
            "-c",
            "ip -o -4 addr show tap0; ip route show default; cat /sys/class/net/tap0/mtu; cat /etc/resolv.conf; ls /run",
          ]),
          "exec",
        ).stdout;
        assertMatch(inside, /tap0\s+inet 10\.0\.2\.100\/24/);
        assertMatch(inside, /default via 10\.0\.2\.2 dev tap0/);
        assertMatch(inside, /\n65520\n/);
        const nameservers = [...inside.matchAll(/^nameserver (\S+)$/gm)].map((
          m,
        ) => m[1]!);
        assertEquals(
          nameservers[0],
          "10.0.2.3",
          "the helper's DNS comes first",
        );
        assert(
          !nameservers.some((n) => n.startsWith("127.") || n === "::1"),
          `localhost server kept: ${nameservers}`,
        );
        // /run is the namespace's own: the runtime dir's mirror is there, the host's /run contents are not.
        const run = inside.trim().split("\n").slice(-3).join(" ");
        assertStringIncludes(run, "user");
        assert(!run.includes("netns "), "the host's /run shows through");

        ok(await nsnetAsUser(["rootless", "down"]), "down");
        assertEquals((await status()).exists, false);
        assertEquals(leftovers(), { processes: [], files: [] });
      } finally {
        await cleanupRootless();
      }
    },
  );

  nsTest(
    `rootless ${helper}: the host's loopback is reachable at 10.0.2.2 with --allow-host-loopback, not without`,
    async () => {
      await cleanupRootless();
      const server = hostLoopbackServer();
      try {
        const probe = (port: number): string[] => [
          "timeout",
          "3",
          "bash",
          "-c",
          `exec 3<>/dev/tcp/10.0.2.2/${port} && echo connected`,
        ];
        const denied = await nsnetAsUser([
          "rootless",
          "exec",
          "--helper",
          helper,
          "--",
          ...probe(server.port),
        ]);
        assert(
          denied.code !== 0 && !denied.stdout.includes("connected"),
          "reached the host's loopback without permission",
        );
        // exec made the namespace and, as the last user, removed it again.
        assertEquals((await status()).exists, false);

        const allowed = await nsnetAsUser([
          "rootless",
          "exec",
          "--helper",
          helper,
          "--allow-host-loopback",
          "--",
          ...probe(server.port),
        ]);
        assertEquals(allowed.code, 0, allowed.stderr);
        assertStringIncludes(allowed.stdout, "connected");
        assertEquals(await server.accepted, true);
      } finally {
        server.close();
        await cleanupRootless();
      }
    },
  );
}

nsTest(
  "rootless --cidr and --mtu shape the namespace and its DNS address",
  async () => {
    await cleanupRootless();
    try {
      ok(
        await nsnetAsUser([
          "rootless",
          "up",
          "--cidr",
          "10.99.0.0/24",
          "--mtu",
          "1500",
        ]),
        "up",
      );
      const s = await status();
      assertEquals([s.address, s.gateway, s.dns, s.mtu], [
        "10.99.0.100",
        "10.99.0.2",
        "10.99.0.3",
        1500,
      ]);
      const inside = ok(
        await nsnetAsUser([
          "rootless",
          "exec",
          "--",
          "sh",
          "-c",
          "ip -o -4 addr show tap0; cat /sys/class/net/tap0/mtu; grep -m1 nameserver /etc/resolv.conf",
        ]),
        "exec",
      ).stdout;
      assertMatch(inside, /inet 10\.99\.0\.100\/24/);
      assertMatch(inside, /\n1500\n/);
      assertMatch(inside, /nameserver 10\.99\.0\.3/);
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "16 parallel rootless exec on a cold state share one namespace and helper, then clean up",
  async () => {
    await cleanupRootless();
    try {
      const runs = await Promise.all(
        Array.from(
          { length: 16 },
          () =>
            nsnetAsUser([
              "rootless",
              "exec",
              "--",
              "sh",
              "-c",
              "readlink /proc/self/ns/net; sleep 1",
            ]),
        ),
      );
      for (const r of runs) assertEquals(r.code, 0, r.stderr);
      const namespaces = new Set(runs.map((r) => r.stdout.trim()));
      assertEquals(
        namespaces.size,
        1,
        `more than one namespace: ${[...namespaces]}`,
      );
      const s = await status();
      assertEquals([s.exists, s.refCount], [false, 0]);
      assertEquals(leftovers(), { processes: [], files: [] });
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "RootlessNetNS.run(fn) runs a function inside (sockets, mounts, /sys) on a thread of its own, exec(cmd) a command; the caller's namespaces never change",
  async () => {
    await cleanupRootless();
    const env = rootlessEnv();
    // A library user's program, bundled where the test user can read it.
    const program = bundleForUser("run-program", "./_rootless_run_program.ts");
    try {
      const out = ok(
        await nsnetAsUser([
          "unshare",
          "--",
          env.deno,
          "run",
          "--allow-all",
          "--quiet",
          program,
        ]),
        "the program",
      );
      const report = JSON.parse(out.stdout.trim().split("\n").pop()!);
      assert(report.inside.net !== report.before.net, "not in the namespace");
      assert(
        report.inside.mnt !== report.before.mnt,
        "not in a mount namespace of its own",
      );
      assertEquals(report.after, report.before);
      assertEquals(report.inside.greeting, "hello");
      assertMatch(report.inside.resolvConf, /^nameserver 10\.0\.2\.3$/m);
      assert(report.inside.interfaces.includes("tap0"), "no tap0 in /sys");
      assertEquals(report.thrown, ["TypeError", "TypeError: thrown inside"]);
      // exec(cmd): a command inside, its exit status back.
      assertEquals(report.exec, [0, 7]);
      const s = await status();
      assertEquals([s.exists, s.refCount], [false, 0]);
      assertEquals(leftovers(), { processes: [], files: [] });
    } finally {
      Deno.removeSync(program);
      await cleanupRootless();
    }
  },
);

nsTest(
  "a cold rootless exec makes everything from one nsnet process: Deno is not started again inside",
  async () => {
    await cleanupRootless();
    try {
      // Inside the user namespace the user's own processes show uid 0.
      const count = ok(
        await nsnetAsUser([
          "rootless",
          "exec",
          "--",
          "sh",
          "-c",
          "n=0; for s in /proc/[0-9]*/status; do " +
          'grep -qx "Name:[[:space:]]*deno" "$s" 2>/dev/null && ' +
          'grep -q "^Uid:[[:space:]]*0[[:space:]]" "$s" 2>/dev/null && n=$((n+1)); ' +
          "done; echo $n",
        ]),
        "cold exec",
      );
      assertEquals(count.stdout.trim(), "1");
      const s = await status();
      assertEquals([s.exists, s.refCount], [false, 0]);
      assertEquals(leftovers(), { processes: [], files: [] });
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "a dead helper is restarted on the next use; a stale namespace file is made anew",
  async () => {
    await cleanupRootless();
    try {
      ok(await nsnetAsUser(["rootless", "up"]), "up");
      const first = await status();
      await new Deno.Command("kill", {
        args: ["-KILL", String(first.helperPid)],
      }).output();
      await new Promise((r) => setTimeout(r, 100));
      assertEquals((await status()).helperAlive, false);
      const again = ok(
        await nsnetAsUser([
          "rootless",
          "exec",
          "--",
          "ip",
          "-o",
          "-4",
          "addr",
          "show",
          "tap0",
        ]),
        "exec",
      );
      assertStringIncludes(again.stderr, "is gone; restarting it");
      assertMatch(again.stdout, /10\.0\.2\.100\/24/);
      const second = await status();
      assert(second.helperAlive && second.helperPid !== first.helperPid);

      // A reboot leaves the file but no namespace: tear the mount away, keep the file.
      ok(
        await nsnetAsUser(["unshare", "--", "umount", "-l", second.netnsPath]),
        "umount",
      );
      const rebuilt = ok(
        await nsnetAsUser([
          "rootless",
          "exec",
          "--",
          "ip",
          "-o",
          "-4",
          "addr",
          "show",
          "tap0",
        ]),
        "exec",
      );
      assertStringIncludes(rebuilt.stderr, "holds no namespace");
      assertMatch(rebuilt.stdout, /10\.0\.2\.100\/24/);
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest("nsnet killed in the middle of up: the next up recovers", async () => {
  for (const step of ["rootless-after-netns", "rootless-after-helper"]) {
    await cleanupRootless();
    try {
      const killed = await nsnetAsUserWithFaults(`crash:${step}`, [
        "rootless",
        "up",
      ]);
      assertEquals(killed.code, 137, `${step}: ${killed.stderr}`);
      ok(await nsnetAsUser(["rootless", "up"]), `up after a crash at ${step}`);
      const s = await status();
      assertEquals([s.exists, s.helperAlive], [true, true]);
      ok(
        await nsnetAsUser([
          "rootless",
          "exec",
          "--",
          "ip",
          "-o",
          "link",
          "show",
          "tap0",
        ]),
        "exec",
      );
      ok(await nsnetAsUser(["rootless", "down"]), "down");
      // The helper started before the crash is the one down stops, or one the recovery replaced.
      assertEquals(leftovers().files, []);
    } finally {
      await cleanupRootless();
    }
  }
});

nsTest(
  "a pid file pointing at another process of the user: down refuses to kill it",
  async () => {
    await cleanupRootless();
    const env = rootlessEnv();
    const bystander = new Deno.Command("setpriv", {
      args: [
        `--reuid=${env.uid}`,
        `--regid=${env.gid}`,
        "--init-groups",
        "sleep",
        "30",
      ],
      stdout: "null",
    }).spawn();
    try {
      ok(await nsnetAsUser(["rootless", "up"]), "up");
      const s = await status();
      const info = `${env.runtimeDir}/nsnet/rootless-netns/info.json`;
      const tampered = JSON.parse(Deno.readTextFileSync(info));
      tampered.helperPid = bystander.pid;
      Deno.writeTextFileSync(info, JSON.stringify(tampered));
      Deno.writeTextFileSync(
        `${env.runtimeDir}/nsnet/rootless-netns/rootless-netns-slirp4netns.pid`,
        `${bystander.pid}\n`,
      );
      const down = await nsnetAsUser(["rootless", "down", "--force"]);
      assertStringIncludes(down.stderr, `not stopping pid ${bystander.pid}`);
      assert(
        Deno.readTextFileSync(`/proc/${bystander.pid}/cmdline`).startsWith(
          "sleep",
        ),
        "the bystander was killed",
      );
      // The real helper lost its namespace: slirp4netns then has nothing left to serve; stop it by hand.
      await new Deno.Command("kill", { args: ["-TERM", String(s.helperPid)] })
        .output();
    } finally {
      bystander.kill("SIGKILL");
      await bystander.status;
      await cleanupRootless();
    }
  },
);

/** A directory to use as PATH: the tools nsnet needs, but not `missing`. */
function toolsWithout(missing: string): string {
  const dir = `/var/tmp/nsnet-path-without-${missing}`;
  Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tools = [
    "nsenter",
    "unshare",
    "setsid",
    "bash",
    "sh",
    "sleep",
    "newuidmap",
    "newgidmap",
    "mount",
    "umount",
    "ip",
    "slirp4netns",
    "pasta",
  ];
  for (const tool of tools.filter((t) => t !== missing)) {
    const target = findInPath(tool);
    if (target === undefined) continue;
    try {
      Deno.symlinkSync(target, `${dir}/${tool}`);
    } catch { /* already there */ }
  }
  return dir;
}

nsTest("bad input is a clear error and creates nothing", async () => {
  await cleanupRootless();
  try {
    const cases: [string[], string, Record<string, string>?][] = [
      [["--cidr", "10.0.2.0"], 'invalid subnet "10.0.2.0": no prefix length'],
      [["--cidr", "10.0.2.0/30"], "subnet 10.0.2.0/30 is too small"],
      [["--cidr", "fd00::/64"], "must be ipv4"],
      [["--mtu", "70000"], "MTU 70000 is out of range"],
      [["--mtu", "abc"], 'MTU "abc" is not a number'],
      [
        ["--helper", "vpnkit"],
        "argument 'vpnkit' is invalid. Allowed choices are slirp4netns, pasta",
      ],
      [["--helper", "slirp4netns"], "slirp4netns is not installed", {
        PATH: toolsWithout("slirp4netns"),
      }],
      [["--helper", "pasta"], "pasta is not installed", {
        PATH: toolsWithout("pasta"),
      }],
    ];
    for (const [flags, message, env] of cases) {
      const out = await nsnetAsUser(["rootless", "up", ...flags], env);
      assert(out.code !== 0, `${flags.join(" ")} was accepted`);
      assertStringIncludes(out.stderr.toLowerCase(), message.toLowerCase());
      assertEquals(leftovers(), { processes: [], files: [] });
    }
    const noRuntime = await nsnetAsUser(["rootless", "up"], {
      XDG_RUNTIME_DIR: "",
    });
    assertEquals(noRuntime.code, 1);
    assertStringIncludes(noRuntime.stderr, "XDG_RUNTIME_DIR is not set");
  } finally {
    await cleanupRootless();
  }
});

nsTest(
  "as root, the rootless namespace does not exist: a clear error",
  async () => {
    const { nsnet } = await import("./_helpers.ts");
    const out = await nsnet("rootless", "status");
    assertEquals(out.code, 1);
    assertStringIncludes(out.stderr, "is for unprivileged users");
  },
);

nsTest(
  "a helper that fails to start: the error quotes its log, and nothing is left",
  async () => {
    await cleanupRootless();
    rootlessEnv();
    Deno.chmodSync("/dev/net/tun", 0o600);
    try {
      const out = await nsnetAsUser([
        "rootless",
        "up",
        "--helper",
        "slirp4netns",
      ]);
      assertEquals(out.code, 1);
      assertStringIncludes(out.stderr, "slirp4netns failed");
      assertStringIncludes(out.stderr, "/dev/net/tun");
      assertEquals(leftovers(), { processes: [], files: [] });
      assertEquals((await status()).exists, false);
    } finally {
      Deno.chmodSync("/dev/net/tun", 0o666);
      await cleanupRootless();
    }
  },
);

/** Runs a TypeScript snippet importing mod.ts as the test user, optionally inside `nsnet unshare`. */
async function libraryAsUser(
  code: string,
  inUserNamespace: boolean,
): Promise<UserResult> {
  const mod = new URL("../mod.ts", import.meta.url).pathname;
  return await programAsUser(`import * as m from "${mod}";\n${code}\n`, {
    unshare: inUserNamespace,
  });
}

nsTest(
  "the library outside nsnet's user namespace names `nsnet unshare`",
  async () => {
    await cleanupRootless();
    try {
      const out = await libraryAsUser(
        "try { await m.getRootlessNetNS({ create: true }) } catch (e) { console.log(e.name, '|', e.hint) }",
        false,
      );
      assertStringIncludes(out.stdout, "RootlessContextError");
      assertStringIncludes(out.stdout, "nsnet unshare");
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "RootlessNetNS.spawn runs inside with S6's mounts; the caller's namespaces never change",
  async () => {
    await cleanupRootless();
    try {
      const out = await libraryAsUser(
        `
const before = [Deno.readLinkSync("/proc/thread-self/ns/net"), Deno.readLinkSync("/proc/thread-self/ns/mnt")];
const rootless = await m.getRootlessNetNS({ create: true });
const child = rootless.spawn(["sh", "-c", "readlink /proc/self/ns/net /proc/self/ns/mnt; ip -o -4 addr show tap0"], { stdout: "piped" });
const inside = new TextDecoder().decode((await child.output()).stdout);
await rootless.release();
const after = [Deno.readLinkSync("/proc/thread-self/ns/net"), Deno.readLinkSync("/proc/thread-self/ns/mnt")];
console.log(JSON.stringify({ before, after, inside }));
`,
        true,
      );
      assertEquals(out.code, 0, out.stderr);
      const { before, after, inside } = JSON.parse(
        out.stdout.trim().split("\n").pop()!,
      );
      assertEquals(after, before);
      const [net, mnt] = (inside as string).split("\n");
      assert(
        net !== before[0],
        "the command ran in the caller's network namespace",
      );
      assert(
        mnt !== before[1],
        "the command ran in the caller's mount namespace",
      );
      assertMatch(inside, /10\.0\.2\.100\/24/);
      assertEquals(leftovers(), { processes: [], files: [] });
    } finally {
      await cleanupRootless();
    }
  },
);

nsTest(
  "rootless inspect and link list read namespaces a rootless thread could not enter and leave",
  async () => {
    await cleanupRootless();
    try {
      ok(await nsnetAsUser(["rootless", "up"]), "up");
      const s = await status();
      const inspect = JSON.parse(
        ok(await nsnetAsUser(["inspect", s.netnsPath, "--json"]), "inspect")
          .stdout,
      );
      assertEquals(inspect.interfaces.tap0.subnets, [{
        ipnet: "10.0.2.100/24",
        gateway: "10.0.2.2",
      }]);
      ok(await nsnetAsUser(["add", "blue"]), "add");
      const links = JSON.parse(
        ok(await nsnetAsUser(["link", "list", "blue", "--json"]), "link list")
          .stdout,
      );
      assertEquals(links.map((l: { ifname: string }) => l.ifname), ["lo"]);
      ok(await nsnetAsUser(["del", "blue"]), "del");
    } finally {
      await cleanupRootless();
    }
  },
);
