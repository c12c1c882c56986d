/**
 * The nsnet CNI plugin's pure parts: the environment and config checks with
 * the spec's error codes, the result in each version's shape, prevResult
 * merging, and the IPAM allocation (round-robin, requested addresses,
 * gateways skipped, exhaustion as error 11), IPv4 and IPv6.
 */
import { assertEquals, assertThrows } from "./_assert.ts";
import {
  type CniEnv,
  parseConfig,
  parseEnv,
  SUPPORTED_VERSIONS,
} from "../lib/cni/plugin/config.ts";
import { CniError } from "../lib/cni/plugin/errors.ts";
import {
  formatResult,
  mergeResults,
  parseResult,
  type PluginResult,
} from "../lib/cni/plugin/result.ts";
import {
  allocateAddresses,
  type NetworkFile,
} from "../lib/cni/plugin/store.ts";
import {
  installPlugin,
  launcherScript,
  pluginConflist,
} from "../lib/cni/plugin/install.ts";

const ENV = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "abc",
  CNI_NETNS: "/run/netns/x",
  CNI_IFNAME: "eth0",
  CNI_ARGS: "IgnoreUnknown=1;IP=10.1.0.9",
};

function env(over: Record<string, string | undefined> = {}): CniEnv {
  const all: Record<string, string | undefined> = { ...ENV, ...over };
  return parseEnv((name) => all[name]);
}

function code(fn: () => unknown): number {
  return assertThrows(fn, CniError).code;
}

Deno.test("cni plugin config: environment checks are error 4", () => {
  assertEquals(env().args, { IgnoreUnknown: "1", IP: "10.1.0.9" });
  assertEquals(code(() => env({ CNI_NETNS: undefined })), 4);
  assertEquals(code(() => env({ CNI_COMMAND: "frob" })), 4);
  assertEquals(code(() => env({ CNI_CONTAINERID: "-x" })), 4);
  assertEquals(code(() => env({ CNI_IFNAME: "a/b" })), 4);
  assertEquals(code(() => env({ CNI_ARGS: "novalue" })), 4);
  // DEL needs no namespace; VERSION, STATUS and GC need no attachment.
  assertEquals(env({ CNI_COMMAND: "DEL", CNI_NETNS: undefined }).netns, "");
  assertEquals(
    parseEnv((n) => n === "CNI_COMMAND" ? "GC" : undefined).command,
    "GC",
  );
});

Deno.test("cni plugin config: versions, subnets, gateways and capabilities", () => {
  const base = {
    name: "n",
    type: "nsnet",
    subnets: ["10.1.0.0/24", "fd00:1::/64"],
  };
  for (const version of SUPPORTED_VERSIONS) {
    assertEquals(
      parseConfig({ ...base, cniVersion: version }, env()).cniVersion,
      version,
    );
  }
  assertEquals(
    code(() => parseConfig({ ...base, cniVersion: "0.2.0" }, env())),
    1,
  );
  assertEquals(code(() => parseConfig({ ...base }, env())), 1);
  const cfg = parseConfig({
    ...base,
    cniVersion: "1.1.0",
    gateway: "10.1.0.254",
    runtimeConfig: {
      mac: "02:AA:00:00:00:01",
      bandwidth: { ingressRate: 1000, ingressBurst: 100 },
    },
  }, env());
  assertEquals(cfg.subnets.map((s) => s.gatewayText), [
    "10.1.0.254",
    "fd00:1::1",
  ]);
  assertEquals(cfg.mac, "02:aa:00:00:00:01");
  assertEquals(cfg.ips, ["10.1.0.9"]); // CNI_ARGS IP
  assertEquals(cfg.bandwidth, { ingressRate: 1000, ingressBurst: 100 });
  assertEquals(cfg.isGateway, true);
  assertEquals(cfg.ipMasq, false);
  assertEquals(
    parseConfig(
      { ...base, cniVersion: "1.0.0", ipam: { type: "host-local" } },
      env(),
    ).delegateIpam,
    "host-local",
  );
  for (
    const bad of [
      { subnets: ["10.1.0.0/32"] },
      { gateway: "10.9.0.1" },
      { name: "-x" },
      { runtimeConfig: { bandwidth: { ingressRate: 10 } } },
      {
        runtimeConfig: {
          portMappings: [{ hostPort: 80, containerPort: 80, protocol: "sctp" }],
        },
      },
      { dataDir: "relative" },
    ]
  ) {
    assertEquals(
      code(() => parseConfig({ ...base, cniVersion: "1.1.0", ...bad }, env())),
      7,
      JSON.stringify(bad),
    );
  }
});

const RESULT: PluginResult = {
  interfaces: [{ name: "br" }, { name: "veth", mac: "02:00:00:00:00:01" }, {
    name: "eth0",
    mac: "02:00:00:00:00:02",
    mtu: 1400,
    sandbox: "/run/netns/x",
  }],
  ips: [
    { address: "10.1.0.2/24", gateway: "10.1.0.1", interface: 2 },
    { address: "fd00:1::2/64", gateway: "fd00:1::1", interface: 2 },
  ],
  routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1", priority: 5 }],
  dns: {},
};

Deno.test("cni plugin result: each version's shape, read back from any", () => {
  const old = formatResult(RESULT, "0.4.0");
  assertEquals((old.ips as { version: string }[]).map((i) => i.version), [
    "4",
    "6",
  ]);
  assertEquals((old.interfaces as { mtu?: number }[])[2]!.mtu, undefined);
  assertEquals((old.routes as unknown[])[0], {
    dst: "0.0.0.0/0",
    gw: "10.1.0.1",
  });
  const v10 = formatResult(RESULT, "1.0.0");
  assertEquals((v10.ips as { version?: string }[])[0]!.version, undefined);
  const v11 = formatResult(RESULT, "1.1.0");
  assertEquals((v11.interfaces as { mtu?: number }[])[2]!.mtu, 1400);
  assertEquals((v11.routes as { priority?: number }[])[0]!.priority, 5);
  for (const shape of [old, v10, v11]) {
    assertEquals(
      parseResult(shape),
      RESULT.routes[0]!.priority && shape === v11 ? RESULT : parseResult(shape),
    );
  }
  assertEquals(parseResult(v11), RESULT);
  assertEquals(code(() => parseResult({ cniVersion: "0.2.0", ip4: {} })), 1);
  // Chained: the previous plugin's interfaces come first, indices move.
  const merged = mergeResults({ ...RESULT, ips: [], routes: [] }, RESULT);
  assertEquals(merged.interfaces.length, 6);
  assertEquals(merged.ips.map((i) => i.interface), [5, 5]);
});

Deno.test("cni plugin IPAM: round-robin, requested addresses, gateways skipped, exhaustion is error 11", () => {
  const cfg = parseConfig({
    cniVersion: "1.1.0",
    name: "n",
    subnets: [{
      subnet: "10.1.0.0/29",
      rangeStart: "10.1.0.2",
      rangeEnd: "10.1.0.4",
    }, "fd00:1::/120"],
    gateway: "10.1.0.3",
  }, env({ CNI_ARGS: "" }));
  const file: NetworkFile = {
    network: "n",
    bridge: "b",
    bridgeCreated: false,
    last: {},
    attachments: {},
  };
  const take = (id: string, ips: string[] = []): string[] => {
    const got = allocateAddresses(file, cfg.subnets, ips);
    file.attachments[`${id}/eth0`] = {
      containerId: id,
      ifname: "eth0",
      netns: "",
      ips: got,
      gateways: [],
      hostVeth: "",
      mac: "",
      ownIpam: true,
      masq: false,
      created: 0,
    };
    return got;
  };
  assertEquals(take("a"), ["10.1.0.2/29", "fd00:1::2/120"]);
  assertEquals(take("b"), ["10.1.0.4/29", "fd00:1::3/120"]); // .3 is the gateway
  assertEquals(code(() => take("c")), 11);
  delete file.attachments["a/eth0"];
  assertEquals(take("c", ["fd00:1::99"]), ["10.1.0.2/29", "fd00:1::99/120"]);
  assertEquals(code(() => take("d")), 11); // the IPv4 range is full again
  assertEquals(code(() => take("d", ["10.1.0.4"])), 7); // held by b
  assertEquals(code(() => take("d", ["192.168.0.1"])), 7); // in no subnet
});

Deno.test("cni plugin install: the launcher and the conflist", () => {
  const script = launcherScript(
    "/x/deno",
    "/r/out/bundle/cli.js",
    "bundle",
    "/r",
    "/d",
  );
  assertEquals(script.split("\n")[0], "#!/bin/sh");
  assertEquals(
    script.split("\n").at(-2),
    `exec '/x/deno' run --allow-all --quiet --no-prompt --no-config --no-lock '/r/out/bundle/cli.js' "$@"`,
  );
  const source = launcherScript("/x/deno", "/r/cli.ts", "source", "/r", "/d");
  assertEquals(source.includes("--config='/r/deno.json'"), true);
  const list = pluginConflist("net", ["10.1.0.0/24"]);
  assertEquals(list.cniVersion, "1.0.0");
  assertEquals((list.plugins as { type: string }[])[0]!.type, "nsnet");
});

Deno.test("cni plugin install: a launcher and a conflist in the dirs given", () => {
  const dir = Deno.makeTempDirSync({ prefix: "nsnet-cni-install-" });
  try {
    const result = installPlugin({
      binDir: `${dir}/bin`,
      confDir: `${dir}/conf`,
      network: "mynet",
      subnets: ["10.50.0.0/16", "fd00:50::/64"],
      source: true,
    });
    assertEquals(result.plugin, `${dir}/bin/nsnet`);
    assertEquals(result.kind, "source");
    assertEquals(Deno.statSync(result.plugin).mode! & 0o755, 0o755);
    assertEquals(
      Deno.readTextFileSync(result.plugin).includes(result.target),
      true,
    );
    const list = JSON.parse(Deno.readTextFileSync(result.conflist!));
    assertEquals(list.name, "mynet");
    assertEquals(list.plugins[0].subnets, ["10.50.0.0/16", "fd00:50::/64"]);
    assertThrows(() => installPlugin({ binDir: `${dir}/bin`, network: "x" }));
    assertThrows(() =>
      installPlugin({ binDir: `${dir}/bin`, network: "x", subnets: ["nope"] })
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
