/**
 * `nsnet rootless up|status|exec|down`: the shared rootless network
 * namespace from the command line.
 *
 * @module
 */

import {
  Command,
  type CommandUnknownOpts,
  Option,
} from "@commander-js/extra-typings";
import { InvalidArgumentError, NsnetError } from "../errors.ts";
import { isRootless } from "../rootless/detect.ts";
import {
  HELPER_KINDS,
  type HelperOptions,
} from "../rootless/helper_options.ts";
import { INSIDE } from "../rootless/access.ts";
import type { RootlessNetNS } from "../rootless/handle.ts";
import {
  getRootlessNetNS,
  type RootlessNetNSOptions,
} from "../rootless/open.ts";
import {
  releaseRootlessReference,
  rootlessDown,
  rootlessStatus,
} from "../rootless/status.ts";
import { ExitRequest, printJson } from "./output.ts";
import { execInRootlessNetNS } from "../rootless/run.ts";

interface HelperFlags {
  helper?: string;
  mtu?: string;
  cidr?: string;
  ipv6?: boolean;
  allowHostLoopback?: boolean;
  outboundAddr?: string;
  outboundAddr6?: string;
  sandbox?: boolean;
  seccomp?: boolean;
  apiSocket?: boolean;
  staticDir?: string;
}

function withHelperOptions<C extends CommandUnknownOpts>(command: C): C {
  command
    .addOption(
      new Option("--helper <name>", "network helper").choices(HELPER_KINDS),
    )
    .option("--mtu <n>", "MTU of the namespace's interface (default 65520)")
    .option("--cidr <cidr>", "IPv4 subnet inside (default 10.0.2.0/24)")
    .option("--ipv6", "enable IPv6")
    .option(
      "--allow-host-loopback",
      "let the namespace reach the host's 127.0.0.1 at the gateway address",
    )
    .option("--outbound-addr <ip>", "IPv4 source address for outgoing traffic")
    .option("--outbound-addr6 <ip>", "IPv6 source address for outgoing traffic")
    .option("--sandbox", "slirp4netns: --enable-sandbox")
    .option("--seccomp", "slirp4netns: --enable-seccomp")
    .option("--api-socket", "slirp4netns: open an API socket (port forwarding)")
    .option(
      "--static-dir <dir>",
      "engine static dir naming the namespace (default ~/.local/share/nsnet)",
    );
  return command;
}

function toOptions(flags: HelperFlags): RootlessNetNSOptions {
  let mtu: number | undefined;
  if (flags.mtu !== undefined) {
    mtu = Number(flags.mtu);
    if (!/^\d+$/.test(flags.mtu)) {
      throw new InvalidArgumentError(
        `MTU ${JSON.stringify(flags.mtu)} is not a number`,
        {
          hint: "give an MTU from 68 to 65521",
        },
      );
    }
  }
  return {
    helper: flags.helper as HelperOptions["helper"],
    mtu,
    cidr: flags.cidr,
    ipv6: flags.ipv6,
    allowHostLoopback: flags.allowHostLoopback,
    outboundAddr: flags.outboundAddr,
    outboundAddr6: flags.outboundAddr6,
    sandbox: flags.sandbox,
    seccomp: flags.seccomp,
    apiSocket: flags.apiSocket,
    staticDir: flags.staticDir,
  };
}

function requireRootless(): void {
  if (!isRootless()) {
    throw new NsnetError(
      "the rootless network namespace is for unprivileged users",
      {
        hint:
          "as root, make namespaces with `nsnet add` (or run as your own user)",
      },
    );
  }
}

async function open(options: RootlessNetNSOptions): Promise<RootlessNetNS> {
  requireRootless();
  const rootless = await getRootlessNetNS(options);
  if (rootless === undefined) {
    throw new NsnetError("no rootless network namespace as root");
  }
  return rootless;
}

function printStatus(json: boolean, staticDir?: string): void {
  // The full CLI runs inside nsnet's user namespace (cli.ts re-enters it).
  const status = rootlessStatus({ staticDir, access: INSIDE });
  if (json) {
    printJson({
      exists: status.exists,
      netnsPath: status.netnsPath,
      helper: status.info?.helper,
      helperPid: status.info?.helperPid,
      helperAlive: status.helperAlive,
      interface: status.info?.interface,
      address: status.info?.address,
      cidr: status.info?.cidr,
      gateway: status.info?.gateway,
      dns: status.info?.dns,
      mtu: status.info?.mtu,
      ipv6: status.info?.ipv6,
      allowHostLoopback: status.info?.allowHostLoopback,
      refCount: status.refCount,
      pinned: status.pinned,
    });
    return;
  }
  if (!status.exists) {
    console.log("rootless network namespace: not running");
    return;
  }
  const info = status.info;
  const lines: [string, string][] = [
    ["namespace", status.netnsPath],
    [
      "helper",
      info
        ? `${info.helper} (pid ${info.helperPid}, ${
          status.helperAlive ? "running" : "gone"
        })`
        : "unknown",
    ],
    [
      "address",
      info
        ? `${info.address}/${
          info.cidr.split("/")[1]
        } on ${info.interface}, mtu ${info.mtu}`
        : "-",
    ],
    [
      "gateway",
      info
        ? `${info.gateway}${
          info.allowHostLoopback ? " (host loopback reachable)" : ""
        }`
        : "-",
    ],
    ["dns", info?.dns ?? "-"],
    [
      "references",
      `${status.refCount}${
        status.pinned ? " (one held by `rootless up`)" : ""
      }`,
    ],
  ];
  for (const [key, value] of lines) console.log(`${key.padEnd(11)} ${value}`);
}

function upCommand(): CommandUnknownOpts {
  return withHelperOptions(
    new Command("up")
      .description(
        "create the rootless network namespace and start its helper; it stays until `down`",
      )
      .option("--json", "print the status as JSON"),
  ).action(async (flags) => {
    const options = toOptions(flags as HelperFlags);
    // The pin `up` holds stays after this process, until `down`.
    await open({ ...options, create: true, hold: "pin" });
    printStatus(Boolean((flags as { json?: boolean }).json), options.staticDir);
  });
}

function statusCommand(): CommandUnknownOpts {
  return new Command("status")
    .description(
      "show the rootless network namespace: path, helper, addresses, DNS, references",
    )
    .option("--json", "print as JSON")
    .option("--static-dir <dir>", "engine static dir naming the namespace")
    .action((flags) => {
      requireRootless();
      printStatus(Boolean(flags.json), flags.staticDir);
    });
}

function execCommand(): CommandUnknownOpts {
  return withHelperOptions(
    new Command("exec")
      .description(
        "run a command inside the rootless network namespace (made if needed), holding a reference while it runs",
      )
      .argument("<command...>", "the command and its arguments (after --)")
      .passThroughOptions(),
  ).action(async (command, flags) => {
    const argv = (command as string[])[0] === "--"
      ? (command as string[]).slice(1)
      : command as string[];
    requireRootless();
    const status = await execInRootlessNetNS(
      argv,
      toOptions(flags as HelperFlags),
    );
    if (status !== 0) throw new ExitRequest(status);
  });
}

function downCommand(): CommandUnknownOpts {
  return new Command("down")
    .description(
      "drop `up`'s reference and tear the namespace down when nothing else uses it",
    )
    .option("--force", "tear it down even while commands still use it")
    .option("--static-dir <dir>", "engine static dir naming the namespace")
    .action(async (flags) => {
      requireRootless();
      const removed = await rootlessDown({
        force: flags.force,
        staticDir: flags.staticDir,
        access: INSIDE,
      });
      if (!removed) console.log("rootless network namespace: not running");
    });
}

function releaseCommand(): CommandUnknownOpts {
  return new Command("release")
    .description(
      "drop one reference, tearing the namespace down when it was the last",
    )
    .action(async () => {
      requireRootless();
      await releaseRootlessReference({ access: INSIDE });
    });
}

/** The `rootless` command family. */
export function rootlessCommand(): CommandUnknownOpts {
  return new Command("rootless")
    .enablePositionalOptions()
    .description(
      "the shared rootless network namespace (slirp4netns or pasta), as Podman's rootless-netns",
    )
    .addCommand(upCommand())
    .addCommand(statusCommand())
    .addCommand(execCommand())
    .addCommand(downCommand())
    .addCommand(releaseCommand(), { hidden: true });
}
