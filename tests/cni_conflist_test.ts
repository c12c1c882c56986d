/**
 * CNI network lists: validation, loading from a config dir (order, single
 * configs, invalid files), plugin binaries, and the config each plugin is
 * sent. Nothing here runs a plugin or touches the network.
 */
import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  CniConfigError,
  CniPluginNotFoundError,
  findPlugin,
  findPlugins,
  listNetworkLists,
  loadNetworkList,
  parseNetworkConfig,
  parseNetworkList,
  pluginConfig,
  resolveCniPath,
  toPortMapEntries,
} from "../lib/cni/mod.ts";
import { InvalidArgumentError, NetworkNotFoundError } from "../lib/errors.ts";

const LIST = {
  cniVersion: "1.0.0",
  name: "net1",
  plugins: [
    { type: "bridge", bridge: "cnit0", ipam: { type: "host-local" } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "nsnet-cni-conf-" });
}

nsTest("cni conflist: a valid list parses with its plugins in order", () => {
  const list = parseNetworkList(JSON.stringify(LIST), "x.conflist");
  assertEquals(list.name, "net1");
  assertEquals(list.cniVersion, "1.0.0");
  assertEquals(list.disableCheck, false);
  assertEquals(list.plugins.map((p) => p.type), ["bridge", "portmap"]);
  assertEquals(list.source, "x.conflist");
  assertEquals(JSON.parse(list.bytes), LIST);
});

nsTest("cni conflist: every invalid field is named", () => {
  const cases: [unknown, string][] = [
    [[], "not a JSON object"],
    [{ ...LIST, cniVersion: undefined }, "cniVersion is missing"],
    [{ ...LIST, cniVersion: "0.2.0" }, "not supported"],
    [{ ...LIST, cniVersion: "9.9.9" }, "not supported"],
    [{ ...LIST, name: undefined }, "name is missing"],
    [{ ...LIST, name: "-bad" }, "may hold only"],
    [{ ...LIST, name: "a/b" }, "may hold only"],
    [{ ...LIST, plugins: [] }, "non-empty array"],
    [{ ...LIST, plugins: {} }, "non-empty array"],
    [{ ...LIST, plugins: [{}] }, "plugin 0 has no type"],
    [{ ...LIST, plugins: ["bridge"] }, "plugin 0 is not an object"],
    [{ ...LIST, plugins: [{ type: "../x" }] }, "is not a plugin name"],
    [
      { ...LIST, plugins: [{ type: "p", capabilities: { a: 1 } }] },
      "capabilities",
    ],
    [{ ...LIST, disableCheck: "yes" }, "disableCheck"],
  ];
  for (const [value, message] of cases) {
    assertThrows(
      () => parseNetworkList(JSON.stringify(value), "f"),
      CniConfigError,
      message,
    );
  }
  assertThrows(() => parseNetworkList("{", "f"), CniConfigError, "not JSON");
});

nsTest(
  "cni conflist: older versions with the same result shape are accepted",
  () => {
    for (const v of ["0.3.0", "0.3.1", "0.4.0"]) {
      assertEquals(
        parseNetworkList(JSON.stringify({ ...LIST, cniVersion: v })).cniVersion,
        v,
      );
    }
  },
);

nsTest("cni conflist: a single .conf becomes a one-plugin list", () => {
  const conf = {
    cniVersion: "1.0.0",
    name: "single",
    type: "bridge",
    bridge: "b",
  };
  const list = parseNetworkConfig(JSON.stringify(conf), "s.conf");
  assertEquals(list.name, "single");
  assertEquals(list.plugins.length, 1);
  assertEquals(list.plugins[0]!.type, "bridge");
  assertEquals(JSON.parse(list.bytes).plugins[0], conf);
});

nsTest(
  "cni conflist: loading by name from a dir, first file of a name wins",
  () => {
    const dir = tempDir();
    try {
      Deno.writeTextFileSync(`${dir}/20-net1.conflist`, JSON.stringify(LIST));
      Deno.writeTextFileSync(
        `${dir}/10-net1.conflist`,
        JSON.stringify({ ...LIST, disableCheck: true }),
      );
      Deno.writeTextFileSync(
        `${dir}/05-single.conf`,
        JSON.stringify({ cniVersion: "1.0.0", name: "single", type: "ptp" }),
      );
      Deno.writeTextFileSync(`${dir}/30-broken.conflist`, "{not json");
      Deno.writeTextFileSync(`${dir}/README`, "ignored");
      Deno.writeTextFileSync(
        `${dir}/40-bad.conflist`,
        JSON.stringify({ ...LIST, name: "bad", plugins: [] }),
      );

      const net1 = loadNetworkList("net1", dir);
      assert(net1.disableCheck, "10-net1 comes before 20-net1");
      assertEquals(net1.source, `${dir}/10-net1.conflist`);
      assertEquals(loadNetworkList("single", dir).plugins[0]!.type, "ptp");
      assertThrows(
        () => loadNetworkList("bad", dir),
        CniConfigError,
        "non-empty array",
      );
      const missing = assertThrows(
        () => loadNetworkList("nope", dir),
        NetworkNotFoundError,
        '"nope"',
      );
      assertStringIncludes(missing.hint ?? "", "net1");
      assertStringIncludes(missing.hint ?? "", "single");

      // .conflist files come before single configs; invalid ones are skipped.
      assertEquals(listNetworkLists(dir).map((l) => l.name), [
        "net1",
        "single",
      ]);
      assertEquals(listNetworkLists(`${dir}/absent`), []);
      assertThrows(
        () => loadNetworkList("x", `${dir}/absent`),
        NetworkNotFoundError,
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

nsTest(
  "cni conflist: plugin binaries are found in CNI_PATH order, a missing one named",
  () => {
    const dir = tempDir();
    try {
      Deno.mkdirSync(`${dir}/a`);
      Deno.mkdirSync(`${dir}/b`);
      Deno.writeTextFileSync(`${dir}/a/notexec`, "");
      Deno.writeTextFileSync(`${dir}/b/notexec`, "#!/bin/sh\n", {
        mode: 0o755,
      });
      Deno.writeTextFileSync(`${dir}/b/bridge`, "#!/bin/sh\n", { mode: 0o755 });
      Deno.writeTextFileSync(`${dir}/a/bridge`, "#!/bin/sh\n", { mode: 0o755 });
      const path = [`${dir}/a`, `${dir}/b`];
      assertEquals(findPlugin("bridge", path), `${dir}/a/bridge`);
      assertEquals(findPlugin("notexec", path), `${dir}/b/notexec`);
      const list = parseNetworkList(JSON.stringify(LIST));
      const error = assertThrows(
        () => findPlugins(list, path),
        CniPluginNotFoundError,
        '"portmap"',
      );
      assertEquals(error.plugin, "portmap");
      assertStringIncludes(error.message, `${dir}/a:${dir}/b`);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

nsTest(
  "cni conflist: CNI_PATH from the option, a string, or the default",
  () => {
    assertEquals(resolveCniPath(["/x", "/y"]), ["/x", "/y"]);
    assertEquals(resolveCniPath("/x::/y"), ["/x", "/y"]);
    if (Deno.env.get("CNI_PATH") === undefined) {
      assertEquals(resolveCniPath(), ["/usr/lib/cni", "/opt/cni/bin"]);
    }
  },
);

nsTest(
  "cni conflist: each plugin gets name, cniVersion, its capabilities and prevResult",
  () => {
    const list = parseNetworkList(JSON.stringify(LIST));
    const prev = { cniVersion: "1.0.0", ips: [] };
    const caps = { portMappings: [{ hostPort: 1 }], other: "x" };
    const bridge = pluginConfig(list, list.plugins[0]!, undefined, caps);
    assertEquals(bridge, {
      type: "bridge",
      bridge: "cnit0",
      ipam: { type: "host-local" },
      name: "net1",
      cniVersion: "1.0.0",
    });
    const portmap = pluginConfig(list, list.plugins[1]!, prev, caps);
    assertEquals(portmap, {
      type: "portmap",
      capabilities: { portMappings: true },
      name: "net1",
      cniVersion: "1.0.0",
      runtimeConfig: { portMappings: [{ hostPort: 1 }] },
      prevResult: prev,
    });
    // A capability without a value is not sent.
    assertEquals(
      pluginConfig(list, list.plugins[1]!, undefined, {}).runtimeConfig,
      undefined,
    );
  },
);

nsTest(
  "cni conflist: port mappings in portmap's form; unresolved host ports refused",
  () => {
    assertEquals(
      toPortMapEntries([
        { protocol: "tcp", hostIp: undefined, hostPort: 8080, sandboxPort: 80 },
        {
          protocol: "udp",
          hostIp: "127.0.0.1",
          hostPort: 53,
          sandboxPort: 5353,
        },
      ]),
      [
        { hostPort: 8080, containerPort: 80, protocol: "tcp" },
        {
          hostPort: 53,
          containerPort: 5353,
          protocol: "udp",
          hostIP: "127.0.0.1",
        },
      ],
    );
    assertThrows(
      () =>
        toPortMapEntries([
          { protocol: "tcp", hostIp: undefined, hostPort: 0, sandboxPort: 80 },
        ]),
      InvalidArgumentError,
      "not resolved",
    );
  },
);
