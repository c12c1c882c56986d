/**
 * `nsnet resolv path|generate`: where the host's resolv.conf really lives,
 * and the resolv.conf a private network namespace would get.
 *
 * @module
 */

import { writeFileAtomic } from "../fs.ts";
import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { helperDnsAddress } from "../resolv_conf/helper_addresses.ts";
import { traceResolvConfPath } from "../resolv_conf/path.ts";
import { formatResolvConf } from "../resolv_conf/generate.ts";
import { resolvConfPlanFromFiles } from "../resolv_conf/files.ts";
import { printJson } from "./output.ts";

/** `nsnet resolv` and its subcommands. */
export function resolvCommand(): CommandUnknownOpts {
  return new Command("resolv")
    .description(
      "resolv.conf for network namespaces: locate the host's, generate a namespace's",
    )
    .addCommand(pathCommand())
    .addCommand(generateCommand());
}

function pathCommand(): CommandUnknownOpts {
  return new Command("path")
    .description(
      "print where /etc/resolv.conf really lives: the first path under /run/ its links lead to, or the file itself",
    )
    .option("--root <dir>", "resolve inside this directory as if it were /")
    .option(
      "--json",
      "print the path, whether it is under /run and the links followed, as JSON",
    )
    .action((opts) => {
      const trace = traceResolvConfPath({ root: opts.root });
      if (opts.json) printJson(trace);
      else console.log(trace.path);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function generateCommand(): CommandUnknownOpts {
  return new Command("generate")
    .description(
      "print (or write) the resolv.conf of a private network namespace, made from the host's",
    )
    .option(
      "--nameserver <ip>",
      "nameserver to put first (repeatable)",
      collect,
      [] as string[],
    )
    .option(
      "--cidr <cidr>",
      "helper subnet: put its DNS address (the third, e.g. 10.0.2.3) first",
    )
    .option(
      "--search <domain>",
      "search domain instead of the host's; `.` clears (repeatable)",
      collect,
      [] as string[],
    )
    .option(
      "--option <option>",
      "resolver option instead of the host's (repeatable)",
      collect,
      [] as string[],
    )
    .option(
      "--keep-host-servers",
      "also keep the host's nameservers after the given ones",
    )
    .option("--keep-host-searches", "also keep the host's search domains")
    .option("--keep-host-options", "also keep the host's options")
    .option("--ipv6", "the namespace has IPv6: keep IPv6 nameservers")
    .option(
      "--root <dir>",
      "read the host's files inside this directory as if it were /",
    )
    .option(
      "--host-file <path>",
      "the host's resolv.conf (default /etc/resolv.conf)",
    )
    .option(
      "--netns <name>",
      "prefer /etc/netns/NAME/resolv.conf, as `ip netns exec` does",
    )
    .option(
      "-o, --output <file>",
      "write the file atomically (mode 0644) instead of printing it",
    )
    .option(
      "--json",
      "print the decision (nameservers, domains, options, origin, dropped) as JSON",
    )
    .action(async (opts) => {
      const nameservers = [
        ...(opts.cidr === undefined ? [] : [helperDnsAddress(opts.cidr)]),
        ...opts.nameserver,
      ];
      const plan = await resolvConfPlanFromFiles({
        nameservers,
        searches: opts.search,
        options: opts.option,
        keepHostServers: opts.keepHostServers === true,
        keepHostSearches: opts.keepHostSearches === true,
        keepHostOptions: opts.keepHostOptions === true,
        ipv6: opts.ipv6 === true,
        root: opts.root,
        hostPath: opts.hostFile,
        netnsName: opts.netns,
      });
      const text = formatResolvConf(plan.conf);
      if (opts.output !== undefined) {
        await writeFileAtomic(opts.output, text, 0o644);
      }
      if (opts.json) printJson({ ...plan, output: opts.output ?? null });
      else if (opts.output === undefined) {
        console.log(text.slice(0, -1));
      }
    });
}
