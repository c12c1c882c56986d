/**
 * `nsnet cni install|conformance`: nsnet as a CNI plugin for container
 * runtimes, and a conformance runner for any CNI plugin.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { ExitRequest, printJson } from "./output.ts";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** The `cni` command and its subcommands. */
export function cniCommand(): CommandUnknownOpts {
  return new Command("cni")
    .description(
      "nsnet as a CNI plugin (type nsnet), and a CNI conformance runner",
    )
    .addCommand(installCommand())
    .addCommand(conformanceCommand());
}

function installCommand(): CommandUnknownOpts {
  return new Command("install")
    .description(
      "put nsnet into a CNI bin dir as plugin nsnet (the compiled binary, else a launcher of this checkout's bundle or source), and optionally a conflist",
    )
    .option("--bin-dir <dir>", "the CNI bin dir", "/opt/cni/bin")
    .option(
      "--conf-dir <dir>",
      "the CNI conf dir (for --network)",
      "/etc/cni/net.d",
    )
    .option("--network <name>", "also write a conflist for this network")
    .option(
      "--subnet <cidr>",
      "a subnet of the network (IPv4 and/or IPv6; repeat)",
      collect,
      [] as string[],
    )
    .option("--bridge <if>", "the network's bridge (default nscni0)")
    .option("--source", "run the source even where a bundle exists")
    .option("--json", "print what was installed as JSON")
    .action(async (opts) => {
      const { installPlugin } = await import("../cni/plugin/install.ts");
      const result = installPlugin({
        binDir: opts.binDir,
        confDir: opts.confDir,
        network: opts.network,
        subnets: opts.subnet,
        bridge: opts.bridge,
        source: opts.source,
      });
      if (opts.json) {
        printJson(result);
        return;
      }
      console.log(`${result.plugin} (${result.kind}: ${result.target})`);
      if (result.conflist !== undefined) console.log(result.conflist);
    });
}

function conformanceCommand(): CommandUnknownOpts {
  return new Command("conformance")
    .description(
      "check a CNI plugin against the specification, in namespaces made for it (as root)",
    )
    .requiredOption("--plugin <path>", "the plugin binary")
    .requiredOption(
      "--config <file>",
      "its network config (.conf) or list (.conflist)",
    )
    .option(
      "--cni-path <dirs>",
      "CNI_PATH for delegated plugins (default: the plugin's dir)",
    )
    .option("--parallel <n>", "ADDs at once in the parallel check", "4")
    .option("--json", "print the report as JSON")
    .action(async (opts) => {
      const { formatReport, runConformance } = await import(
        "../cni/conformance/runner.ts"
      );
      const parallel = Number(opts.parallel);
      const report = await runConformance({
        plugin: opts.plugin,
        config: opts.config,
        cniPath: opts.cniPath?.split(":"),
        parallel: Number.isInteger(parallel) && parallel > 0 ? parallel : 4,
      });
      if (opts.json) printJson(report);
      else console.log(formatReport(report));
      if (report.failed > 0) throw new ExitRequest(1);
    });
}
