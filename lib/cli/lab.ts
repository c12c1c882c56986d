/**
 * `nsnet lab up|ls|show|exec|impair|down|run`: network labs (nodes joined by
 * links and switches, with rates, loss and partitions) from a JSON spec
 * file, made by one command and used and removed by others.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { waitForwardingSignals } from "../child.ts";
import { InvalidArgumentError } from "../errors.ts";
import { Lab, type LabStatus, type LinkStatus } from "../lab/lab.ts";
import { readLabSpecFile } from "../lab/spec.ts";
import { creatorAlive, type LabRecord } from "../lab/store.ts";
import type { Impairment } from "../lab/types.ts";
import { EXIT, ExitRequest, printJson, printTable } from "./output.ts";
import { forEachName } from "./report.ts";

/** The environment variable `nsnet lab run` gives the command: the lab's name. */
export const LAB_ENV = "NSNET_LAB";

const IMPAIRMENT_OPTIONS = [
  "rate",
  "loss",
  "delay",
  "jitter",
  "duplicate",
  "reorder",
  "corrupt",
] as const satisfies readonly (keyof Impairment)[];

/** The lab name a spec file gives when none is asked for: its base name without `.json`. */
export function labNameOfFile(file: string): string | undefined {
  const base = file.split("/").pop()!.replace(/\.json$/i, "");
  return /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/.test(base) ? base : undefined;
}

/** The impairment as words: `rate 20mbit, loss 5%`, or `-`. */
function describeImpairment(imp: Impairment, from?: string): string {
  const words = IMPAIRMENT_OPTIONS.filter((k) => imp[k] !== undefined).map((
    k,
  ) => `${k} ${imp[k]}`);
  if (words.length === 0) return "-";
  return words.join(", ") + (from === undefined ? "" : ` (from ${from})`);
}

function linkLabel(link: LinkStatus): string {
  return link.kind === "link" ? link.nodes.join("–") : link.id.slice(7);
}

/** A lab in `ls`: remains of a killed `up` show as such. */
function phaseOf(record: LabRecord): string {
  return record.phase === "creating" && !creatorAlive(record)
    ? "remains (creator killed)"
    : record.phase;
}

function printStatus(status: LabStatus, record: LabRecord): void {
  console.log(
    `lab ${status.name}: ${
      phaseOf(record)
    }, ${status.nodes.length} nodes, ${status.links.length} links/switches, created ${status.created}${
      status.rootless ? ", rootless" : ""
    }`,
  );
  console.log();
  printTable(
    ["NODE", "ROUTER", "INTERFACE", "SEGMENT", "ADDRESSES"],
    status.nodes.flatMap((node) =>
      (node.interfaces.length === 0
        ? [{ name: "-", segment: "-", addresses: [] }]
        : node.interfaces).map((iface, i) => [
          i === 0 ? node.name : "",
          i === 0 ? (node.router ? "yes" : "no") : "",
          iface.name,
          iface.segment,
          iface.addresses.join(" ") || "-",
        ])
    ),
  );
  console.log();
  printTable(
    [
      "LINK",
      "ID",
      "STATE",
      "IMPAIRMENT",
      "END",
      "TX PACKETS",
      "TX BYTES",
      "RX PACKETS",
      "RX BYTES",
      "DROPPED",
    ],
    status.links.flatMap((link) => {
      const head = [
        linkLabel(link),
        link.id,
        link.down ? "down" : "up",
        describeImpairment(link.impairment, link.from),
      ];
      const ends = link.ends ?? [];
      if (ends.length === 0) return [[...head, "-"]];
      return ends.map((end, i) => {
        const s = end.stats;
        return [
          ...(i === 0 ? head : ["", "", "", ""]),
          `${end.node}/${end.interface}`,
          s === undefined ? "-" : String(s.txPackets),
          s === undefined ? "-" : String(s.txBytes),
          s === undefined ? "-" : String(s.rxPackets),
          s === undefined ? "-" : String(s.rxBytes),
          s === undefined ? "-" : String(s.txDropped + s.rxDropped),
        ];
      });
    }),
  );
}

function upCommand(): CommandUnknownOpts {
  return new Command("up")
    .description(
      "make a lab from a spec file; it stays up after the command ends, until `lab down`",
    )
    .argument("<file>", "the lab spec, a JSON file")
    .option(
      "--name <name>",
      "the lab's name (default: the file's name without .json)",
    )
    .option("--json", "print the lab's status as JSON")
    .action(async (file, opts) => {
      const spec = await readLabSpecFile(file);
      const lab = await Lab.create(spec, {
        name: opts.name ?? labNameOfFile(file),
      });
      if (opts.json) printJson(lab.status());
      else console.log(lab.name);
    });
}

function lsCommand(): CommandUnknownOpts {
  return new Command("ls")
    .alias("list")
    .description("list labs")
    .option("--json", "print as JSON")
    .action((opts) => {
      const labs = Lab.list();
      const rows = labs.map((lab) => ({
        name: lab.name,
        phase: lab.phase,
        pid: lab.pid,
        created: lab.record().created,
        nodes: lab.plan.nodes.map((n) => n.name),
        links: lab.plan.segments.filter((s) => s.kind === "link").length,
        switches: lab.plan.segments.filter((s) => s.kind === "switch").length,
      }));
      if (opts.json) {
        printJson(rows);
        return;
      }
      printTable(
        ["NAME", "PHASE", "NODES", "LINKS", "SWITCHES", "CREATED"],
        rows.map((r, i) => [
          r.name,
          phaseOf(labs[i]!.record()),
          String(r.nodes.length),
          String(r.links),
          String(r.switches),
          r.created,
        ]),
      );
    });
}

function showCommand(): CommandUnknownOpts {
  return new Command("show")
    .description(
      "show a lab: nodes with their addresses, links with their impairments and live counters",
    )
    .argument("<name>", "lab name")
    .option("--json", "print as JSON")
    .action((name, opts) => {
      const lab = Lab.open(name);
      const status = lab.status();
      if (opts.json) printJson(status);
      else printStatus(status, lab.record());
    });
}

/** Spawns `argv` through `spawn`, passing signals on; 127/126 as a shell would. */
async function runCommandLine(
  argv: readonly string[],
  spawn: (program: string, args: string[]) => Deno.ChildProcess,
): Promise<number> {
  const [program, ...args] = argv[0] === "--" ? argv.slice(1) : argv;
  if (program === undefined) {
    throw new InvalidArgumentError("no command given", {
      hint: "put the command after --",
    });
  }
  let child: Deno.ChildProcess;
  try {
    child = spawn(program, args);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      console.error(`nsnet: ${program}: command not found`);
      return EXIT.NOT_FOUND;
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      console.error(`nsnet: ${program}: permission denied`);
      return EXIT.NOT_EXECUTABLE;
    }
    throw error;
  }
  return await waitForwardingSignals(child);
}

function execCommand(): CommandUnknownOpts {
  return new Command("exec")
    .description(
      "run a command inside a node of a lab; its exit status is passed on",
    )
    .argument("<name>", "lab name")
    .argument("<node>", "node name")
    .argument("<command...>", "the command and its arguments (after --)")
    .passThroughOptions()
    .action(async (name, node, command) => {
      const handle = Lab.open(name).node(node);
      const status = await runCommandLine(
        command,
        (program, args) => handle.spawn(program, { args, stdin: "inherit" }),
      );
      if (status !== 0) throw new ExitRequest(status);
    });
}

function impairCommand(): CommandUnknownOpts {
  const command = new Command("impair")
    .description(
      "change a link's impairment live, or take it down and up (a partition that heals)",
    )
    .argument("<name>", "lab name")
    .argument("<a>", "one end of the link (or a switch's name, without <b>)")
    .argument("[b]", "the other end")
    .option("--rate <rate>", "rate limit in tc's words: 20mbit, 512kbit")
    .option("--loss <percent>", "packet loss: 5%")
    .option("--delay <time>", "one-way delay: 10ms (needs netem)")
    .option("--jitter <time>", "delay variation: 2ms, with --delay (netem)")
    .option("--duplicate <percent>", "duplicated packets: 1% (netem)")
    .option(
      "--reorder <percent>",
      "reordered packets: 25%, with --delay (netem)",
    )
    .option("--corrupt <percent>", "corrupted packets: 0.1% (netem)")
    .option(
      "--from <node>",
      "impair only what this end sends (`both`: both directions again)",
    )
    .option(
      "--clear",
      "remove every impairment (and --from) first; options given with it are then set",
    )
    .option("--down", "take the link down: nothing passes")
    .option("--up", "bring the link up again (addresses and routes restored)")
    .addHelpText(
      "after",
      `
Options not given keep their value; \`--loss none\` removes one.
Without options it prints the link's state.

Example:
  nsnet lab impair demo r b --loss 20% --delay 10ms
  nsnet lab impair demo r b --down    # partition
  nsnet lab impair demo r b --up      # healed
  nsnet lab impair demo r b --clear`,
    )
    .action(async (name, a, b, opts) => {
      if (opts.down && opts.up) {
        throw new InvalidArgumentError("--down and --up together", {
          hint: "give one of them",
        });
      }
      const lab = Lab.open(name);
      const link = b === undefined ? lab.switch(a) : lab.link(a, b);
      const given = IMPAIRMENT_OPTIONS.filter((k) => opts[k] !== undefined);
      const changes = given.length > 0 || opts.clear ||
        opts.from !== undefined;
      if (!changes && !opts.down && !opts.up) {
        const from = lab.status().links.find((l) => l.id === link.id)?.from;
        console.log(
          `${link.id} (${link.nodes.join(", ")}): ${
            link.isDown ? "down" : "up"
          }, ${describeImpairment(link.impairment, from)}`,
        );
        return;
      }
      if (opts.down) await link.down();
      if (changes) {
        const next: Impairment = opts.clear ? {} : { ...link.impairment };
        for (const key of given) {
          const value = opts[key]!;
          if (value === "none") delete next[key];
          else next[key] = value;
        }
        const from = opts.from === "both"
          ? null
          : opts.from ?? (opts.clear ? null : undefined);
        await link.impair(next, { from });
      }
      if (opts.up) await link.up();
    });
  return command;
}

function downCommand(): CommandUnknownOpts {
  return new Command("down")
    .alias("rm")
    .description(
      "remove labs: their namespaces and records, also what a killed `lab up` left (no lab: no error)",
    )
    .argument("<names...>", "lab names")
    .action(async (names) => {
      await forEachName(names, async (name: string) => {
        await Lab.removeByName(name);
      });
    });
}

const INTERRUPTS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;

function runCommand(): CommandUnknownOpts {
  return new Command("run")
    .description(
      "make a lab, run a command on the host side with NSNET_LAB set to its name, remove the lab (also on failure or a signal)",
    )
    .argument("<file>", "the lab spec, a JSON file")
    .argument("<command...>", "the command and its arguments (after --)")
    .option(
      "--name <name>",
      "the lab's name (default: the file's name without .json)",
    )
    // No pass-through: --name may follow FILE; `--` ends nsnet's options.
    .action(async (file, command, opts) => {
      const spec = await readLabSpecFile(file);
      // Until the lab is gone a signal does not end nsnet: while the command
      // runs it is passed on; before, the command is not started.
      let interrupted: number | undefined;
      const listeners = (Object.keys(INTERRUPTS) as (keyof typeof INTERRUPTS)[])
        .map((signal) => {
          const listener = (): void => {
            interrupted ??= 128 + INTERRUPTS[signal];
          };
          Deno.addSignalListener(signal, listener);
          return { signal, listener };
        });
      try {
        const lab = await Lab.create(spec, {
          name: opts.name ?? labNameOfFile(file),
        });
        let status: number;
        try {
          status = interrupted ?? await runCommandLine(
            command,
            (program, args) =>
              new Deno.Command(program, {
                args,
                env: { [LAB_ENV]: lab.name },
                stdin: "inherit",
              }).spawn(),
          );
        } finally {
          await lab.remove();
        }
        if (status !== 0) throw new ExitRequest(status);
      } finally {
        for (const { signal, listener } of listeners) {
          Deno.removeSignalListener(signal, listener);
        }
      }
    });
}

/** The `lab` command family. */
export function labCommand(): CommandUnknownOpts {
  return new Command("lab")
    .description(
      "network labs: nodes (namespaces) joined by links and switches, with rates, loss and partitions",
    )
    .enablePositionalOptions()
    .addCommand(upCommand())
    .addCommand(lsCommand())
    .addCommand(showCommand())
    .addCommand(execCommand())
    .addCommand(impairCommand())
    .addCommand(downCommand())
    .addCommand(runCommand())
    .addHelpText(
      "after",
      `
A spec file (JSON): nodes by name, links between two nodes, switches that
many join; addresses and routes are computed, through nodes marked router.
  {"nodes": {"a": {}, "r": {"router": true}, "b": {}},
   "links": [{"ends": ["a", "r"], "rate": "20mbit"},
             {"ends": ["r", "b"], "loss": "20%"}]}

Example:
  nsnet lab up demo.json                 # prints the lab's name: demo
  nsnet lab exec demo a -- ping -c 3 10.77.1.2
  nsnet lab impair demo r b --down
  nsnet lab show demo
  nsnet lab down demo
  nsnet lab run demo.json -- deno test -A my_test.ts   # NSNET_LAB=demo

Privilege: root, or unprivileged through nsnet's user namespace.`,
    );
}
