/**
 * The CNI execution protocol and the list operations, with fake plugins
 * (shell scripts that record their environment and input): the environment
 * the specification requires, prevResult chaining, DEL in reverse with the
 * cached result, cleanup after a failed ADD, error objects, the injectable
 * spawner, and errors before anything runs.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./_assert.ts";
import { nsTest, withNamespaces } from "./_helpers.ts";
import {
  cniAdd,
  cniCachePath,
  cniCheck,
  cniDel,
  CniPluginError,
  CniPluginNotFoundError,
  type CniSpawner,
  cniValidate,
  directSpawner,
  execPlugin,
  readCniCache,
} from "../lib/cni/mod.ts";
import {
  NamespaceNotFoundError,
  NetworkNotFoundError,
  NsnetError,
} from "../lib/errors.ts";

interface Fake {
  /** What ADD prints (default: a result naming the plugin). */
  result?: unknown;
  /** Fail this command with an error object. */
  failOn?: string;
  /** Fail this command with text on stderr and no error object. */
  garbageOn?: string;
}

interface Call {
  command: string;
  plugin: string;
  env: Record<string, string>;
  config: Record<string, unknown>;
}

class Sandbox {
  readonly dir = Deno.makeTempDirSync({ prefix: "nsnet-cni-exec-" });
  readonly bin = `${this.dir}/bin`;
  readonly conf = `${this.dir}/conf`;
  readonly cache = `${this.dir}/cache`;
  readonly log = `${this.dir}/log`;

  constructor() {
    for (const d of [this.bin, this.conf, this.log]) Deno.mkdirSync(d);
  }

  /** A fake plugin: records CNI_* and stdin, then answers as told. */
  plugin(name: string, fake: Fake = {}): void {
    const result = JSON.stringify(
      fake.result ?? {
        cniVersion: "1.0.0",
        interfaces: [{ name: `if-${name}`, sandbox: "/x" }],
        ips: [{ address: "10.123.9.2/24", interface: 0 }],
      },
    );
    const error = JSON.stringify({
      cniVersion: "1.0.0",
      code: 107,
      msg: `${name} refused`,
      details: "the details",
    });
    Deno.writeTextFileSync(
      `${this.bin}/${name}`,
      `#!/bin/sh
n=$(ls '${this.log}' | wc -l)
f='${this.log}'/$(printf %04d "$n")-$CNI_COMMAND-${name}
env | grep '^CNI_' | sort > "$f.env"
cat > "$f.json"
if [ "$CNI_COMMAND" = '${
        fake.failOn ?? "-"
      }' ]; then echo '${error}'; exit 1; fi
if [ "$CNI_COMMAND" = '${
        fake.garbageOn ?? "-"
      }' ]; then echo 'segfault-ish' >&2; exit 2; fi
if [ "$CNI_COMMAND" = ADD ]; then echo '${result}'; fi
exit 0
`,
      { mode: 0o755 },
    );
  }

  list(name: string, plugins: Record<string, unknown>[], extra = {}): void {
    Deno.writeTextFileSync(
      `${this.conf}/${name}.conflist`,
      JSON.stringify({ cniVersion: "1.0.0", name, plugins, ...extra }),
    );
  }

  calls(): Call[] {
    const files = [...Deno.readDirSync(this.log)].map((e) => e.name)
      .filter((n) => n.endsWith(".json")).sort();
    return files.map((file) => {
      const base = file.slice(0, -".json".length);
      const [, command, plugin] = base.split("-");
      const env = Object.fromEntries(
        Deno.readTextFileSync(`${this.log}/${base}.env`).trim().split("\n")
          .map((
            l,
          ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      const config = JSON.parse(Deno.readTextFileSync(`${this.log}/${file}`));
      return { command: command!, plugin: plugin!, env, config };
    });
  }

  clearLog(): void {
    Deno.removeSync(this.log, { recursive: true });
    Deno.mkdirSync(this.log);
  }

  get options(): { confDir: string; cniPath: string[]; cacheDir: string } {
    return { confDir: this.conf, cniPath: [this.bin], cacheDir: this.cache };
  }

  [Symbol.dispose](): void {
    Deno.removeSync(this.dir, { recursive: true });
  }
}

nsTest(
  "cni exec: the environment and input the specification requires",
  async () => {
    using sb = new Sandbox();
    sb.plugin("a");
    const out = await execPlugin({
      binary: `${sb.bin}/a`,
      command: "ADD",
      containerId: "ctr",
      netns: "/run/netns/x",
      ifname: "eth7",
      args: "IgnoreUnknown=1;K=V",
      cniPath: [sb.bin, "/nowhere"],
      config: { cniVersion: "1.0.0", name: "n", type: "a" },
    });
    assertEquals((out as { interfaces: unknown[] }).interfaces, [
      { name: "if-a", sandbox: "/x" },
    ]);
    const [call] = sb.calls();
    assertEquals(call!.env, {
      CNI_ARGS: "IgnoreUnknown=1;K=V",
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "ctr",
      CNI_IFNAME: "eth7",
      CNI_NETNS: "/run/netns/x",
      CNI_PATH: `${sb.bin}:/nowhere`,
    });
    assertEquals(call!.config, { cniVersion: "1.0.0", name: "n", type: "a" });
  },
);

nsTest(
  "cni exec: an error object becomes CniPluginError with code, msg and details",
  async () => {
    using sb = new Sandbox();
    sb.plugin("bad", { failOn: "ADD", garbageOn: "DEL" });
    const invocation = {
      binary: `${sb.bin}/bad`,
      command: "ADD" as const,
      containerId: "c",
      netns: "/x",
      ifname: "eth0",
      args: "",
      cniPath: [sb.bin],
      config: {},
    };
    const error = await assertRejects(
      () => execPlugin(invocation),
      CniPluginError,
      "bad refused: the details",
    );
    assertEquals(error.toJSON(), {
      code: 107,
      msg: "bad refused",
      details: "the details",
    });
    assertEquals(error.plugin, "bad");
    assertEquals(error.command, "ADD");
    const garbage = await assertRejects(
      () => execPlugin({ ...invocation, command: "DEL" }),
      CniPluginError,
      "exited 2 without an error object: segfault-ish",
    );
    assertEquals(garbage.code, 999);
    assertStringIncludes(garbage.stderr, "segfault-ish");
  },
);

nsTest("cni exec: a hung plugin is killed at the timeout", async () => {
  using sb = new Sandbox();
  Deno.writeTextFileSync(`${sb.bin}/hang`, "#!/bin/sh\nexec sleep 30\n", {
    mode: 0o755,
  });
  await assertRejects(
    () =>
      execPlugin({
        binary: `${sb.bin}/hang`,
        command: "ADD",
        containerId: "c",
        netns: "/x",
        ifname: "eth0",
        args: "",
        cniPath: [sb.bin],
        config: {},
        timeoutMs: 200,
      }),
    CniPluginError,
    "killed by SIGKILL",
  );
});

nsTest(
  "cni add/check/del: prevResult chains, the result is cached, DEL runs in reverse with it",
  async () => {
    using sb = new Sandbox();
    for (const p of ["a", "b", "c"]) sb.plugin(p);
    sb.list("chain", [
      { type: "a", own: 1 },
      { type: "b", capabilities: { portMappings: true } },
      { type: "c", capabilities: { portMappings: false } },
    ]);
    await withNamespaces(1, async ([ns]) => {
      const ports = [{
        protocol: "tcp" as const,
        hostIp: undefined,
        hostPort: 8080,
        sandboxPort: 80,
      }];
      const { result, status, raw } = await cniAdd(ns!.path, "ctr1", "chain", {
        ...sb.options,
        ifname: "eth3",
        portMappings: ports,
        args: [["K8S_POD_NAME", "p"]],
      });
      assertEquals(result.interfaces[0]!.name, "if-c");
      assertEquals(status, {
        interfaces: {
          "if-c": { subnets: [{ ipnet: "10.123.9.2/24" }], "mac_address": "" },
        },
      });
      let calls = sb.calls();
      assertEquals(calls.map((c) => `${c.command} ${c.plugin}`), [
        "ADD a",
        "ADD b",
        "ADD c",
      ]);
      assertEquals(calls[0]!.config, {
        type: "a",
        own: 1,
        name: "chain",
        cniVersion: "1.0.0",
      });
      assertEquals(
        (calls[1]!.config.prevResult as { interfaces: { name: string }[] })
          .interfaces[0]!.name,
        "if-a",
      );
      assertEquals(calls[1]!.config.runtimeConfig, {
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
      });
      assertEquals(calls[2]!.config.runtimeConfig, undefined);
      assertEquals(
        (calls[2]!.config.prevResult as { interfaces: { name: string }[] })
          .interfaces[0]!.name,
        "if-b",
      );
      for (const call of calls) {
        assertEquals(call.env.CNI_IFNAME, "eth3");
        assertEquals(call.env.CNI_NETNS, ns!.path);
        assertEquals(call.env.CNI_CONTAINERID, "ctr1");
        assertEquals(call.env.CNI_ARGS, "IgnoreUnknown=1;K8S_POD_NAME=p");
      }
      assertEquals(
        readCniCache(sb.cache, "chain", "ctr1", "eth3")!.result,
        raw,
      );

      // Attaching twice is refused before any plugin runs.
      sb.clearLog();
      await assertRejects(
        () =>
          cniAdd(ns!.path, "ctr1", "chain", { ...sb.options, ifname: "eth3" }),
        NsnetError,
        "already attached",
      );
      assertEquals(sb.calls(), []);

      await cniCheck(ns!.path, "ctr1", "chain", {
        ...sb.options,
        ifname: "eth3",
      });
      calls = sb.calls();
      assertEquals(calls.map((c) => `${c.command} ${c.plugin}`), [
        "CHECK a",
        "CHECK b",
        "CHECK c",
      ]);
      for (const call of calls) assertEquals(call.config.prevResult, raw);

      // DEL without the port mappings gets the cached ones, and the cached args.
      sb.clearLog();
      await cniDel(ns!.path, "ctr1", "chain", {
        ...sb.options,
        ifname: "eth3",
      });
      calls = sb.calls();
      assertEquals(calls.map((c) => `${c.command} ${c.plugin}`), [
        "DEL c",
        "DEL b",
        "DEL a",
      ]);
      for (const call of calls) {
        assertEquals(call.config.prevResult, raw);
        assertEquals(call.env.CNI_ARGS, "IgnoreUnknown=1;K8S_POD_NAME=p");
      }
      assertEquals(calls[1]!.config.runtimeConfig, {
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
      });
      assertEquals(readCniCache(sb.cache, "chain", "ctr1", "eth3"), undefined);

      // CHECK after DEL: nothing cached, said clearly, no plugin run.
      sb.clearLog();
      await assertRejects(
        () =>
          cniCheck(ns!.path, "ctr1", "chain", {
            ...sb.options,
            ifname: "eth3",
          }),
        NsnetError,
        "no cached result",
      );
      assertEquals(sb.calls(), []);
    });
  },
);

nsTest(
  "cni add: a plugin failing in the middle runs DEL for the whole list, caches nothing",
  async () => {
    using sb = new Sandbox();
    sb.plugin("a");
    sb.plugin("b", { failOn: "ADD" });
    sb.plugin("c");
    sb.list("mid", [{ type: "a" }, { type: "b" }, { type: "c" }]);
    await withNamespaces(1, async ([ns]) => {
      const error = await assertRejects(
        () => cniAdd(ns!.path, "ctr2", "mid", sb.options),
        CniPluginError,
        "b refused",
      );
      assertEquals(error.code, 107);
      const calls = sb.calls();
      assertEquals(calls.map((c) => `${c.command} ${c.plugin}`), [
        "ADD a",
        "ADD b",
        "DEL c",
        "DEL b",
        "DEL a",
      ]);
      // DEL gets what ADD got so far.
      assertEquals(
        (calls[4]!.config.prevResult as { interfaces: { name: string }[] })
          .interfaces[0]!.name,
        "if-a",
      );
      let cached = true;
      try {
        Deno.statSync(cniCachePath(sb.cache, "mid", "ctr2", "eth0"));
      } catch {
        cached = false;
      }
      assert(!cached, "a failed ADD leaves no cache entry");
    });
  },
);

nsTest(
  "cni del: every plugin runs even when one fails; the cache is kept for a retry",
  async () => {
    using sb = new Sandbox();
    sb.plugin("a");
    sb.plugin("b", { failOn: "DEL" });
    sb.list("deln", [{ type: "a" }, { type: "b" }]);
    await withNamespaces(1, async ([ns]) => {
      await cniAdd(ns!.path, "ctr3", "deln", sb.options);
      sb.clearLog();
      await assertRejects(
        () => cniDel(ns!.path, "ctr3", "deln", sb.options),
        CniPluginError,
        "b refused",
      );
      assertEquals(sb.calls().map((c) => `${c.command} ${c.plugin}`), [
        "DEL b",
        "DEL a",
      ]);
      assert(readCniCache(sb.cache, "deln", "ctr3", "eth0") !== undefined);
      sb.plugin("b");
      await cniDel(ns!.path, "ctr3", "deln", sb.options);
      assertEquals(readCniCache(sb.cache, "deln", "ctr3", "eth0"), undefined);
    });
  },
);

nsTest(
  "cni del: works from the cached config when the list is gone, and without a namespace",
  async () => {
    using sb = new Sandbox();
    sb.plugin("a");
    sb.list("gone", [{ type: "a", keep: "me" }]);
    await withNamespaces(1, async ([ns]) => {
      await cniAdd(ns!.path, "ctr4", "gone", sb.options);
    });
    Deno.removeSync(`${sb.conf}/gone.conflist`);
    sb.clearLog();
    await cniDel(undefined, "ctr4", "gone", sb.options);
    const [call] = sb.calls();
    assertEquals(call!.command, "DEL");
    assertEquals(call!.env.CNI_NETNS, "");
    assertEquals(call!.config.keep, "me");
    // Nothing cached and no list: the network is unknown.
    await assertRejects(
      () => cniDel(undefined, "ctr4", "gone", sb.options),
      NetworkNotFoundError,
    );
  },
);

nsTest(
  "cni add: missing network, binary or namespace fail before any plugin runs",
  async () => {
    using sb = new Sandbox();
    sb.plugin("a");
    sb.list("nobin", [{ type: "a" }, { type: "missing-plugin" }]);
    sb.list("ok", [{ type: "a" }]);
    await withNamespaces(1, async ([ns]) => {
      await assertRejects(
        () => cniAdd(ns!.path, "c", "nonet", sb.options),
        NetworkNotFoundError,
      );
      assertThrows(
        () => cniValidate("nonet", sb.options),
        NetworkNotFoundError,
      );
      assertThrows(
        () => cniValidate("nobin", sb.options),
        CniPluginNotFoundError,
        "missing-plugin",
      );
      assertEquals(cniValidate("ok", sb.options).plugins[0]!.type, "a");
      const error = await assertRejects(
        () => cniAdd(ns!.path, "c", "nobin", sb.options),
        CniPluginNotFoundError,
        "missing-plugin",
      );
      assertStringIncludes(error.hint ?? "", "containernetworking-plugins");
      await assertRejects(
        () => cniAdd(`${sb.dir}/no-such-netns`, "c", "ok", sb.options),
        NamespaceNotFoundError,
      );
      await assertRejects(
        () => cniAdd(ns!.path, "bad/id", "ok", sb.options),
        NsnetError,
        "container ID",
      );
      await assertRejects(
        () =>
          cniAdd(ns!.path, "c", "ok", {
            ...sb.options,
            ifname: "x".repeat(16),
          }),
        NsnetError,
        "interface name",
      );
    });
    assertEquals(sb.calls(), []);
  },
);

nsTest(
  "cni check: disableCheck skips the plugins; 0.3.1 lists cannot be checked",
  async () => {
    using sb = new Sandbox();
    sb.plugin("a");
    sb.list("nocheck", [{ type: "a" }], { disableCheck: true });
    sb.list("old", [{ type: "a" }], { cniVersion: "0.3.1" });
    await withNamespaces(1, async ([ns]) => {
      await cniAdd(ns!.path, "c5", "nocheck", sb.options);
      await cniAdd(ns!.path, "c5", "old", sb.options);
      sb.clearLog();
      await cniCheck(ns!.path, "c5", "nocheck", sb.options);
      await assertRejects(
        () => cniCheck(ns!.path, "c5", "old", sb.options),
        NsnetError,
        "needs 0.4.0",
      );
      assertEquals(sb.calls(), []);
      // Before 0.4.0, DEL gets no prevResult (libcni).
      await cniDel(ns!.path, "c5", "old", sb.options);
      await cniDel(ns!.path, "c5", "nocheck", sb.options);
      const calls = sb.calls();
      assertEquals(calls[0]!.config.prevResult, undefined);
      assert(calls[1]!.config.prevResult !== undefined);
    });
  },
);

nsTest("cni add: plugins start through the injected spawner", async () => {
  using sb = new Sandbox();
  sb.plugin("a");
  sb.plugin("b");
  sb.list("spawned", [{ type: "a" }, { type: "b" }]);
  const seen: string[] = [];
  const spawn: CniSpawner = (command, options) => {
    seen.push(`${options.env.CNI_COMMAND} ${command.join(" ")}`);
    return directSpawner(command, options);
  };
  await withNamespaces(1, async ([ns]) => {
    await cniAdd(ns!.path, "c6", "spawned", { ...sb.options, spawn });
    await cniDel(ns!.path, "c6", "spawned", { ...sb.options, spawn });
  });
  assertEquals(seen, [
    `ADD ${sb.bin}/a`,
    `ADD ${sb.bin}/b`,
    `DEL ${sb.bin}/b`,
    `DEL ${sb.bin}/a`,
  ]);
});
