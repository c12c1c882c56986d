/**
 * `nsnet cni conformance` against two plugins: nsnet itself (every check
 * passes; nothing is not applicable but CHECK before 0.4.0) and Debian's
 * bridge with host-local (every check it can take passes; GC, STATUS and
 * VERSION's echo, which its 1.0.0 does not claim, are not applicable). The
 * runner's namespaces, the bridges and the leases are gone afterwards.
 */
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import {
  nftTables,
  nsTest,
  restoreNftTables,
  run,
  succeeds,
} from "./_helpers.ts";
import { PluginBin } from "./_fixtures/cni_plugin.ts";
import {
  type ConformanceReport,
  formatReport,
  runConformance,
} from "../lib/cni/conformance/runner.ts";

const ROOT = Deno.uid() === 0 && succeeds("nft", "--version");
const DEBIAN = "/usr/lib/cni";
const SYSCTL = "/proc/sys/net/ipv4/ip_forward";

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function netnsLeft(): string[] {
  try {
    return [...Deno.readDirSync("/run/netns")].map((e) => e.name).filter((n) =>
      n.startsWith(`cnic-${Deno.pid}-`)
    );
  } catch {
    return [];
  }
}

function failures(report: ConformanceReport): string {
  return report.checks.filter((c) => c.result === "fail").map((c) =>
    `${c.id}: ${c.detail}`
  ).join("\n");
}

nsTest(
  "cni conformance: nsnet passes every check",
  async () => {
    const bin = new PluginBin();
    const dir = Deno.makeTempDirSync({ prefix: "nsnet-cni-conf-" });
    const tables = nftTables();
    const forward = Deno.readTextFileSync(SYSCTL);
    try {
      Deno.writeTextFileSync(
        `${dir}/nsnet.conflist`,
        JSON.stringify({
          cniVersion: "1.1.0",
          name: "conformance",
          plugins: [{
            type: "nsnet",
            bridge: "nscct0",
            subnets: ["10.214.0.0/24", "fd00:214::/64"],
            dataDir: `${dir}/data`,
            ipMasq: true,
          }],
        }),
      );
      const report = await runConformance({
        plugin: bin.plugin,
        config: `${dir}/nsnet.conflist`,
      });
      assertEquals(report.failed, 0, failures(report));
      assertEquals(report.supportedVersions, [
        "0.3.0",
        "0.3.1",
        "0.4.0",
        "1.0.0",
        "1.1.0",
      ]);
      assertEquals(
        report.checks.filter((c) => c.result === "n/a").map((c) => c.id),
        ["check/0.3.0", "check/0.3.1"],
      );
      for (
        const id of [
          "gc/valid",
          "gc/stale",
          "gc/none",
          "status",
          "parallel",
          "version/echo",
        ]
      ) {
        assert(
          report.checks.some((c) => c.id === id && c.result === "pass"),
          id,
        );
      }
      assertStringIncludes(
        formatReport(report),
        `${report.passed} passed, 0 failed, 2 not applicable`,
      );
      assert(
        !exists("/sys/class/net/nscct0"),
        "the bridge went with the last attachment",
      );
      assert(!exists(`${dir}/data`), "the IPAM store is gone");
      assertEquals(netnsLeft(), []);
      assertEquals(nftTables(), tables);
    } finally {
      if (exists("/sys/class/net/nscct0")) run("ip", "link", "del", "nscct0");
      restoreNftTables(tables);
      Deno.writeTextFileSync(SYSCTL, forward);
      Deno.removeSync(dir, { recursive: true });
      bin.remove();
    }
  },
  { ignore: !ROOT },
);

nsTest(
  "cni conformance: Debian's bridge with host-local passes what it claims",
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "nsnet-cni-conf-" });
    const forward = Deno.readTextFileSync(SYSCTL);
    try {
      Deno.writeTextFileSync(
        `${dir}/bridge.conflist`,
        JSON.stringify({
          cniVersion: "1.0.0",
          name: "conformance-deb",
          plugins: [{
            type: "bridge",
            bridge: "nscct1",
            isGateway: true,
            ipam: {
              type: "host-local",
              dataDir: `${dir}/leases`,
              ranges: [[{ subnet: "10.215.0.0/24" }]],
              routes: [{ dst: "0.0.0.0/0" }],
            },
          }],
        }),
      );
      const report = await runConformance({
        plugin: `${DEBIAN}/bridge`,
        config: `${dir}/bridge.conflist`,
      });
      assertEquals(report.failed, 0, failures(report));
      assert(report.supportedVersions.includes("1.0.0"));
      assertEquals(
        report.checks.filter((c) => c.result === "n/a").map((c) => c.id).sort(),
        [
          "check/0.3.0",
          "check/0.3.1",
          "gc/none",
          "gc/stale",
          "gc/valid",
          "status",
          "version/echo",
        ],
      );
      assertEquals(netnsLeft(), []);
      // host-local released every lease (its dir keeps only its bookkeeping).
      const leases = [...Deno.readDirSync(`${dir}/leases/conformance-deb`)].map(
        (e) => e.name,
      )
        .filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n));
      assertEquals(leases, []);
    } finally {
      if (exists("/sys/class/net/nscct1")) run("ip", "link", "del", "nscct1");
      Deno.writeTextFileSync(SYSCTL, forward);
      Deno.removeSync(dir, { recursive: true });
    }
  },
  {
    ignore: !ROOT || !exists(`${DEBIAN}/bridge`) ||
      !exists(`${DEBIAN}/host-local`),
  },
);
