import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertThrows,
} from "./_assert.ts";
import {
  adoptProcessNetNS,
  getNS,
  InvalidArgumentError,
  listNS,
  NamespaceExistsError,
  NamespaceNotFoundError,
  newNS,
  newNSWithName,
  NotANamespaceError,
  NsnetError,
  processNS,
  SyscallError,
  unmountNS,
} from "../mod.ts";
import { identifyPID, pidsInNS, ROOT_NETNS_RUN_DIR } from "../lib/netns/mod.ts";
import { clearFaults, injectFault } from "../lib/netns/_faults.ts";
import { nsTest, run, succeeds, threadNetns, uniqueName } from "./_helpers.ts";

const DIR = ROOT_NETNS_RUN_DIR;

function runDirEntries(): string[] {
  try {
    return [...Deno.readDirSync(DIR)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

function nsfsMounts(): number {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter((l) =>
    l.includes(" nsfs ")
  )
    .length;
}

/** Spawns `unshare --net sleep 60`: a process in a network namespace of its own. */
function sleeperInOwnNetns(): Deno.ChildProcess {
  return new Deno.Command("unshare", {
    args: ["--net", "sleep", "60"],
    stdout: "null",
    stderr: "null",
  })
    .spawn();
}

async function waitForOwnNetns(pid: number): Promise<void> {
  const host = Deno.readLinkSync("/proc/self/ns/net");
  for (let i = 0; i < 200; i++) {
    try {
      if (Deno.readLinkSync(`/proc/${pid}/ns/net`) !== host) return;
    } catch { /* not there yet */ }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`pid ${pid} never left the host network namespace`);
}

nsTest(
  "newNSWithName creates a namespace that ip netns sees and enters",
  () => {
    const name = uniqueName("named");
    const ns = newNSWithName(name);
    try {
      assertEquals(ns.path, `${DIR}/${name}`);
      assert(
        run("ip", "netns", "list").split("\n").some((l) =>
          l.split(" ")[0] === name
        ),
      );
      // ip netns exec runs inside the very namespace nsnet made.
      assertEquals(
        run("ip", "netns", "exec", name, "readlink", "/proc/self/ns/net"),
        `net:[${ns.ino}]`,
      );
      assertNotEquals(`net:[${ns.ino}]`, threadNetns());
    } finally {
      unmountNS(ns);
    }
    assert(!runDirEntries().includes(name), "file left behind");
    assert(!succeeds("ip", "netns", "exec", name, "true"));
  },
);

nsTest(
  "a namespace made by ip netns add is opened, listed and deleted by nsnet",
  () => {
    const name = uniqueName("ipmade");
    run("ip", "netns", "add", name);
    try {
      using ns = getNS(`${DIR}/${name}`);
      const entry = listNS().find((e) => e.name === name);
      assertEquals(entry?.status, "ok");
      assertEquals(entry?.inode, ns.ino);
    } finally {
      unmountNS(`${DIR}/${name}`);
    }
    assert(!run("ip", "netns", "list").includes(name));
  },
);

nsTest("a namespace made by nsnet is deleted by ip netns del", () => {
  const name = uniqueName("ipdel");
  const ns = newNSWithName(name);
  ns.close();
  run("ip", "netns", "del", name);
  assert(!runDirEntries().includes(name));
});

nsTest("newNS uses random UUID-shaped names, distinct each time", () => {
  const a = newNS();
  const b = newNS();
  try {
    const pattern =
      /\/netns-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    assertMatch(a.path, pattern);
    assertMatch(b.path, pattern);
    assertNotEquals(a.path, b.path);
    assertNotEquals(a.ino, b.ino);
  } finally {
    unmountNS(a);
    unmountNS(b);
  }
});

nsTest("run() enters the namespace and always comes back", () => {
  const outside = threadNetns();
  const ns = newNS();
  try {
    assertEquals(ns.run(() => threadNetns()), `net:[${ns.ino}]`);
    assertEquals(threadNetns(), outside);
    assertThrows(
      () =>
        ns.run(() => {
          throw new Error("boom");
        }),
      Error,
      "boom",
    );
    assertEquals(threadNetns(), outside);
  } finally {
    unmountNS(ns);
  }
});

nsTest("a socket made inside run() lives in the namespace", async () => {
  const name = uniqueName("sock");
  const ns = newNSWithName(name);
  try {
    run("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up");
    const listener = ns.run(() =>
      Deno.listen({ hostname: "127.0.0.1", port: 0 })
    );
    const port = (listener.addr as Deno.NetAddr).port;
    try {
      const inside = run(
        "ip",
        "netns",
        "exec",
        name,
        "ss",
        "-Htln",
        `sport = :${port}`,
      );
      assert(
        inside.includes(`127.0.0.1:${port}`),
        `listener not in the namespace: ${inside}`,
      );
      const outside = run("ss", "-Htln", `sport = :${port}`);
      assertEquals(outside, "");
      const accepted = listener.accept();
      const conn = ns.connect({ hostname: "127.0.0.1", port });
      const [server, client] = await Promise.all([accepted, conn]);
      await client.write(new TextEncoder().encode("ping"));
      const buf = new Uint8Array(4);
      assertEquals(await server.read(buf), 4);
      server.close();
      client.close();
    } finally {
      listener.close();
    }
  } finally {
    unmountNS(ns);
  }
});

nsTest("connect() from inside a namespace takes IP literals only", async () => {
  const ns = newNS();
  try {
    await assertRejects(
      () => ns.connect({ hostname: "localhost", port: 1 }),
      NsnetError,
      "IP address",
    );
    // Inside a fresh namespace loopback is down: the connection fails there, not on the host.
    const host = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = (host.addr as Deno.NetAddr).port;
      await assertRejects(
        () => ns.connect({ hostname: "127.0.0.1", port }),
        Error,
      );
    } finally {
      host.close();
    }
  } finally {
    unmountNS(ns);
  }
});

nsTest("run() refuses async functions and Promise results", () => {
  const ns = newNS();
  try {
    assertThrows(() => ns.run(async () => {}), NsnetError, "synchronous");
    assertThrows(() => ns.run(() => Promise.resolve(1)), NsnetError, "Promise");
    const closed = newNS();
    unmountNS(closed);
    assertThrows(() => closed.run(() => 1), NsnetError, "closed");
  } finally {
    unmountNS(ns);
  }
});

nsTest(
  "adoptProcessNetNS keeps a process's namespace after the process ends (S10)",
  async () => {
    const child = sleeperInOwnNetns();
    let ns;
    try {
      await waitForOwnNetns(child.pid);
      ns = adoptProcessNetNS(child.pid);
      assertEquals(
        `net:[${ns.ino}]`,
        Deno.readLinkSync(`/proc/${child.pid}/ns/net`),
      );
      assertEquals(pidsInNS(ns.path), [child.pid]);
      assertEquals(identifyPID(child.pid), [ns.path.slice(DIR.length + 1)]);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
    try {
      assertEquals(pidsInNS(ns.path), []);
      const name = ns.path.slice(DIR.length + 1);
      assertEquals(
        run("ip", "netns", "exec", name, "readlink", "/proc/self/ns/net"),
        `net:[${ns.ino}]`,
      );
    } finally {
      unmountNS(ns);
    }
  },
);

nsTest(
  "adoptProcessNetNS under a chosen name, and of a process that is gone",
  async () => {
    const child = sleeperInOwnNetns();
    const name = uniqueName("adopt");
    try {
      await waitForOwnNetns(child.pid);
      const ns = adoptProcessNetNS(child.pid, { name });
      assertEquals(ns.path, `${DIR}/${name}`);
      unmountNS(ns);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
    const before = runDirEntries();
    assertThrows(
      () => adoptProcessNetNS(child.pid),
      NsnetError,
      `no process with pid ${child.pid}`,
    );
    assertThrows(() => adoptProcessNetNS(-1), NsnetError, "invalid pid");
    assertEquals(runDirEntries(), before);
  },
);

nsTest(
  "unmountNS removes mount and file, and tolerates what is already gone",
  () => {
    const mountsBefore = nsfsMounts();
    const ns = newNS();
    assertEquals(nsfsMounts(), mountsBefore + 1);
    const path = ns.path;
    unmountNS(ns);
    assertEquals(nsfsMounts(), mountsBefore);
    assert(!runDirEntries().includes(path.slice(DIR.length + 1)));
    unmountNS(path); // already gone: no error
    unmountNS("/proc/self/ns/net"); // a process's own namespace is never unmounted
  },
);

nsTest(
  "unmountNS peels mounts stacked on one file, and gives up on a busy file in bounded time",
  () => {
    const mounts = nsfsMounts();
    const ns = newNS();
    // Two more layers, as a duplicated mount leaves them (Podman #19721).
    run("mount", "--bind", "/proc/self/ns/net", ns.path);
    run("mount", "--bind", ns.path, ns.path);
    assertEquals(nsfsMounts(), mounts + 3);
    unmountNS(ns);
    assertEquals(nsfsMounts(), mounts);
    assert(!runDirEntries().includes(ns.path.slice(DIR.length + 1)));

    const busy = newNS();
    injectFault("remove-busy");
    const started = Date.now();
    try {
      const error = assertThrows(
        () => unmountNS(busy, { busyTimeoutMs: 60 }),
        NsnetError,
        "cannot remove",
      );
      assertMatch(error.hint ?? "", /still mounted after 60 ms/);
      const waited = Date.now() - started;
      assert(waited >= 60 && waited < 2000, `waited ${waited} ms`);
    } finally {
      clearFaults();
    }
    unmountNS(busy.path);
    assertEquals(nsfsMounts(), mounts);
  },
);

nsTest(
  "a stale file (no namespace mounted) is reported, listed as stale, and removable",
  () => {
    const name = uniqueName("stale");
    const path = `${DIR}/${name}`;
    Deno.writeTextFileSync(path, "");
    try {
      assertThrows(
        () => getNS(path),
        NotANamespaceError,
        "not a network namespace",
      );
      assertEquals(listNS().find((e) => e.name === name)?.status, "stale");
    } finally {
      unmountNS(path);
    }
    assert(!runDirEntries().includes(name));
  },
);

nsTest(
  "getNS tells a missing path from a path that is no network namespace",
  () => {
    assertThrows(
      () => getNS(`${DIR}/${uniqueName("missing")}`),
      NamespaceNotFoundError,
    );
    assertThrows(
      () => getNS("/etc/hostname"),
      NotANamespaceError,
      "unknown filesystem magic",
    );
    assertThrows(
      () => getNS("/proc/self/ns/mnt"),
      NotANamespaceError,
      "not a network namespace",
    );
    using own = processNS(Deno.pid);
    assertEquals(`net:[${own.ino}]`, Deno.readLinkSync("/proc/self/ns/net"));
  },
);

nsTest("bad names are refused before anything is created", () => {
  const before = runDirEntries();
  const mounts = nsfsMounts();
  const cases: [string, string][] = [
    ["", "empty"],
    [".", "directory reference"],
    ["..", "directory reference"],
    ["a/b", "'/'"],
    ["a\0b", "NUL"],
    ["x".repeat(256), "256 bytes"],
    ["é".repeat(128), "256 bytes"],
  ];
  for (const [name, why] of cases) {
    assertThrows(() => newNSWithName(name), InvalidArgumentError, why);
  }
  newNSWithName("y".repeat(255)).close();
  unmountNS(`${DIR}/${"y".repeat(255)}`);
  assertEquals(runDirEntries(), before);
  assertEquals(nsfsMounts(), mounts);
});

nsTest(
  "a name in use is refused and the existing namespace is untouched",
  () => {
    const name = uniqueName("dup");
    const first = newNSWithName(name);
    try {
      assertThrows(() => newNSWithName(name), NamespaceExistsError);
      using again = getNS(first.path);
      assert(again.equals(first));
    } finally {
      unmountNS(first);
    }
  },
);

nsTest("a failure at any step of creation leaves nothing behind", () => {
  const before = runDirEntries();
  const mounts = nsfsMounts();
  const outside = threadNetns();
  for (
    const step of [
      "after-create-file",
      "after-unshare",
      "after-mount",
      "after-open",
    ]
  ) {
    injectFault(step);
    try {
      const name = uniqueName("fault");
      assertThrows(
        () => newNSWithName(name),
        NsnetError,
        `injected fault at ${step}`,
      );
      assertThrows(() => newNS(), NsnetError, `injected fault at ${step}`);
    } finally {
      clearFaults();
    }
    assertEquals(
      runDirEntries(),
      before,
      `file left behind after a fault at ${step}`,
    );
    assertEquals(
      nsfsMounts(),
      mounts,
      `mount left behind after a fault at ${step}`,
    );
    assertEquals(
      threadNetns(),
      outside,
      `thread stranded after a fault at ${step}`,
    );
  }
});

nsTest("syscall errors carry the call, errno name, subject and a hint", () => {
  const error = assertThrows(
    () => getNS("/proc/999999999/ns/net"),
    NamespaceNotFoundError,
  );
  const cause = error.cause;
  assert(cause instanceof SyscallError);
  assertEquals(cause.code, "ENOENT");
  assertEquals(cause.syscall, "statfs");
  assertEquals(cause.subject, "/proc/999999999/ns/net");
  const eperm = new SyscallError("setns", 1, "/run/netns/x");
  assertEquals(
    eperm.message,
    "setns /run/netns/x: EPERM (operation not permitted)",
  );
  assertMatch(eperm.hint ?? "", /nsnet unshare/);
});

nsTest("the run dir is a shared mount, as iproute2 makes it", () => {
  newNS().close();
  for (const e of listNS()) {
    if (e.name.startsWith("netns-") && e.status === "ok") unmountNS(e.path);
  }
  const line = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").find((
    l,
  ) => l.split(" ")[4] === DIR);
  assert(line !== undefined, "run dir is no mount point");
  assertMatch(line, /shared:\d+/);
});

Deno.test("importing mod.ts needs no permissions; using it without FFI says what is missing", async () => {
  const modUrl = new URL("../mod.ts", import.meta.url).href;
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `import * as m from "${modUrl}"; console.log(typeof m.newNS); try { m.newNS() } catch (e) { console.log(String(e.message)) }`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", script],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(script);
  const text = new TextDecoder().decode(out.stdout);
  assertMatch(text, /^function\n/);
  assertMatch(text, /allow-ffi/);
});
