/**
 * `nsnet sandbox create|rm|ls|inspect|stats|exec|adopt` and `nsnet run`:
 * sandboxes, the unit that gets a network of its own.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { waitForwardingSignals } from "../child.ts";
import { NsnetError, SandboxNotFoundError } from "../errors.ts";
import type { NetIO } from "../stats.ts";
import {
  adoptSandbox,
  createSandbox,
  inspectSandbox,
  removeSandbox,
} from "../sandbox/lifecycle.ts";
import { formatNetworkMode } from "../sandbox/network_mode.ts";
import { listRecords, readRecord } from "../sandbox/store.ts";
import type { SandboxRecord } from "../sandbox/types.ts";
import { spawnInSandbox } from "../sandbox/exec.ts";
import { runForwarderProcess } from "../sandbox/forwarder_process.ts";
import { runSandbox } from "../sandbox/run.ts";
import { sandboxStats } from "../sandbox/stats.ts";
import {
  EXIT,
  ExitRequest,
  jsonReplacer,
  printJson,
  printTable,
} from "./output.ts";
import { forEachName } from "./report.ts";

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function requireRecord(name: string): SandboxRecord {
  const record = readRecord(name);
  if (record === undefined) {
    throw new SandboxNotFoundError(name);
  }
  return record;
}

function summary(record: SandboxRecord): Record<string, unknown> {
  return {
    name: record.name,
    network: formatNetworkMode(record.mode),
    phase: record.phase,
    netnsPath: record.netnsPath,
    owner: record.owner ?? record.name,
    rootless: record.rootless,
    ports: record.ports,
    created: record.created,
    helper: record.helper,
  };
}

function printStats(stats: NetIO | undefined, json: boolean): void {
  if (stats === undefined) {
    if (json) printJson(null);
    else console.log("no network namespace: no statistics");
    return;
  }
  if (json) {
    printJson(stats);
    return;
  }
  printTable(
    ["INTERFACE", "RX BYTES", "TX BYTES", "RX PACKETS", "TX PACKETS"],
    Object.entries(stats.interfaces).map(([name, s]) => [
      name,
      String(s.rxBytes),
      String(s.txBytes),
      String(s.rxPackets),
      String(s.txPackets),
    ]),
  );
  console.log(`total: rx ${stats.rxBytes} bytes, tx ${stats.txBytes} bytes`);
}

function createCommand(): CommandUnknownOpts {
  return new Command("create")
    .description(
      "create a sandbox: a network namespace configured by its network mode",
    )
    .argument("[name]", "sandbox name (default: random)")
    .option(
      "--network <mode>",
      "none, bridge, slirp4netns, pasta, ns:PATH, sandbox:NAME or a network name",
      "bridge",
    )
    .option(
      "-p, --publish <spec>",
      "publish a port: [HOST_IP:]HOST_PORT:SANDBOX_PORT[/tcp|/udp]",
      collect,
      [],
    )
    .option("--dns <ip>", "DNS server for its resolv.conf", collect, [])
    .option(
      "--ip <addr>",
      "bridge network: its IPv4 address (else the next free one)",
    )
    .option("--mac <addr>", "bridge network: its interface's MAC address")
    .option(
      "--alias <name>",
      "bridge network: another name the network's DNS responder answers for it",
      collect,
      [],
    )
    .option(
      "--backend <name>",
      "backend of a named network: builtin, cni or netavark",
    )
    .option(
      "--allow-host-loopback",
      "helper modes: reach the host's 127.0.0.1 at the gateway address",
    )
    .option("--json", "print the sandbox as JSON")
    .action(async (name, opts) => {
      const record = await createSandbox({
        name,
        network: opts.network,
        ports: opts.publish,
        dns: opts.dns,
        ip: opts.ip,
        mac: opts.mac,
        aliases: opts.alias,
        backend: opts.backend,
        helper: { allowHostLoopback: opts.allowHostLoopback },
      });
      if (opts.json) printJson({ ...summary(record), status: record.status });
      else console.log(record.name);
    });
}

function rmCommand(): CommandUnknownOpts {
  return new Command("rm")
    .description(
      "remove sandboxes: their network, namespace and record (also after a crash)",
    )
    .argument("<names...>", "sandbox names")
    .option("--force", "remove even while other sandboxes share its namespace")
    .action(async (names, opts) => {
      await forEachName(
        names,
        (name: string) => removeSandbox(name, { force: opts.force }),
      );
    });
}

function lsCommand(): CommandUnknownOpts {
  return new Command("ls")
    .alias("list")
    .description("list sandboxes")
    .option("--json", "print as JSON")
    .action((opts) => {
      const records = listRecords();
      if (opts.json) {
        printJson(records.map(summary));
        return;
      }
      printTable(
        ["NAME", "NETWORK", "PHASE", "OWNER", "NAMESPACE"],
        records.map((r) => [
          r.name,
          formatNetworkMode(r.mode),
          r.phase,
          r.owner ?? r.name,
          r.netnsPath ?? "-",
        ]),
      );
    });
}

function inspectCommand(): CommandUnknownOpts {
  return new Command("inspect")
    .description(
      "show a sandbox: its network status (Podman's StatusBlock) and owner",
    )
    .argument("<name>", "sandbox name")
    .option("--json", "print as JSON")
    .action((name, opts) => {
      const { record, owner, status } = inspectSandbox(name);
      if (opts.json) {
        printJson({ ...summary(record), owner, status });
        return;
      }
      console.log(
        `sandbox    ${record.name} (${formatNetworkMode(record.mode)})`,
      );
      console.log(
        `namespace  ${record.netnsPath}${
          owner !== record.name ? ` (owned by ${owner})` : ""
        }`,
      );
      for (const [ifname, iface] of Object.entries(status.interfaces ?? {})) {
        for (const subnet of iface.subnets ?? []) {
          console.log(
            `${ifname.padEnd(10)} ${subnet.ipnet}${
              subnet.gateway ? ` via ${subnet.gateway}` : ""
            }  ${iface.mac_address ?? ""}`,
          );
        }
      }
    });
}

function statsCommand(): CommandUnknownOpts {
  return new Command("stats")
    .description("network I/O of a sandbox, per interface")
    .argument("<name>", "sandbox name")
    .option("--json", "print as JSON")
    .action((name, opts) =>
      printStats(sandboxStats(requireRecord(name)), Boolean(opts.json))
    );
}

function execCommand(): CommandUnknownOpts {
  return new Command("exec")
    .description("run a command inside a sandbox; its exit status is passed on")
    .argument("<name>", "sandbox name")
    .argument("<command...>", "the command and its arguments (after --)")
    .passThroughOptions()
    .action(async (name, command) => {
      const argv = command[0] === "--" ? command.slice(1) : command;
      const child = spawnInSandbox(requireRecord(name), argv);
      const status = await waitForwardingSignals(child);
      if (status !== 0) throw new ExitRequest(status);
    });
}

function adoptCommand(): CommandUnknownOpts {
  return new Command("adopt")
    .description(
      "make a sandbox of a running process's network namespace (S10)",
    )
    .argument("<name>", "sandbox name")
    .requiredOption("--pid <pid>", "the process")
    .option("--json", "print the sandbox as JSON")
    .action((name, opts) => {
      const pid = Number(opts.pid);
      if (!/^\d+$/.test(opts.pid) || pid <= 0) {
        throw new NsnetError(`invalid pid ${JSON.stringify(opts.pid)}`);
      }
      const record = adoptSandbox(name, pid);
      if (opts.json) printJson({ ...summary(record), status: record.status });
      else console.log(record.name);
    });
}

/** The `sandbox` command family. */
export function sandboxCommand(): CommandUnknownOpts {
  return new Command("sandbox")
    .description("sandboxes: anything that gets a network of its own")
    .enablePositionalOptions()
    .addCommand(createCommand())
    .addCommand(rmCommand())
    .addCommand(lsCommand())
    .addCommand(inspectCommand())
    .addCommand(statsCommand())
    .addCommand(execCommand())
    .addCommand(adoptCommand())
    .addCommand(forwardCommand(), { hidden: true });
}

function forwardCommand(): CommandUnknownOpts {
  return new Command("forward")
    .description(
      "forward a rootless bridge sandbox's published ports (started by sandbox create)",
    )
    .argument("<name>", "sandbox name")
    .action(async (name) => {
      await runForwarderProcess(name);
      throw new ExitRequest(EXIT.OK);
    });
}

/** `nsnet run`: a sandbox for one command (or a self-check), torn down when it ends. */
export function runCommand(): CommandUnknownOpts {
  return new Command("run")
    .description(
      "run a command in a new sandbox and tear it down afterwards; without a command, a self-check",
    )
    .argument("[command...]", "the command and its arguments (after --)")
    .option(
      "--network <mode>",
      "none, bridge, slirp4netns, pasta, ns:PATH, sandbox:NAME or a network name",
      "bridge",
    )
    .option(
      "-p, --publish <spec>",
      "publish a port: [HOST_IP:]HOST_PORT:SANDBOX_PORT[/tcp|/udp]",
      collect,
      [],
    )
    .option("--name <name>", "sandbox name (default: random)")
    .option("--dns <ip>", "DNS server for its resolv.conf", collect, [])
    .option(
      "--backend <name>",
      "backend of a named network: builtin, cni or netavark",
    )
    .option(
      "--allow-host-loopback",
      "helper modes: reach the host's 127.0.0.1 at the gateway address",
    )
    .option("--stats", "print the sandbox's network I/O at the end")
    .option("--json", "self-check: print the report as JSON")
    .passThroughOptions()
    .action(async (command, opts) => {
      const status = await runSandbox({
        command: command[0] === "--" ? command.slice(1) : command,
        name: opts.name,
        network: opts.network,
        ports: opts.publish,
        dns: opts.dns,
        backend: opts.backend,
        allowHostLoopback: opts.allowHostLoopback,
        json: Boolean(opts.json),
        onStats: opts.stats
          ? (stats) => {
            if (opts.json) console.error(JSON.stringify(stats, jsonReplacer));
            else printStats(stats, false);
          }
          : undefined,
      });
      if (status !== 0) throw new ExitRequest(status);
      // Forwarder threads may keep the event loop alive: end explicitly.
      throw new ExitRequest(EXIT.OK);
    });
}
