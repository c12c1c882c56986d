/**
 * `nsnet stats NAME|PATH` (or `--pid PID`): a namespace's network I/O with every
 * counter per interface, once or as rates every few seconds.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { InvalidArgumentError } from "../errors.ts";
import { NetlinkSocket } from "../netlink/socket.ts";
import { type NetIO, readNetIO } from "../stats.ts";
import { openNamespaceOrPid, PID_HELP } from "./inspect.ts";
import { NAMESPACE_ARG_HELP } from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";

/** The `stats` command. */
export function statsCommand(): CommandUnknownOpts {
  return new Command("stats")
    .description(
      "show a namespace's network I/O: bytes summed, and every counter per interface",
    )
    .argument("[netns]", NAMESPACE_ARG_HELP)
    .option("--pid <pid>", PID_HELP)
    .option("--json", "print JSON: rxBytes, txBytes and interfaces → counters")
    .option(
      "-i, --interface <name...>",
      "only these interfaces (default: all but loopback)",
    )
    .option(
      "--watch <seconds>",
      "print rates per interface every SECONDS until interrupted",
    )
    .action(async (netns, opts, command) => {
      using ns = openNamespaceOrPid(netns, opts.pid, command);
      using sock = NetlinkSocket.open(ns);
      const read = (): NetIO => readNetIO(sock, opts.interface);
      if (opts.watch === undefined) {
        const io = read();
        if (opts.json) printJson(io);
        else printTotals(io);
        return;
      }
      await watch(read, parseSeconds(opts.watch), opts.json === true);
    });
}

function parseSeconds(text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new InvalidArgumentError(`invalid interval ${JSON.stringify(text)}`, {
      hint: "give the number of seconds between samples, e.g. --watch 1",
    });
  }
  return seconds;
}

function printTotals(io: NetIO): void {
  const rows = Object.entries(io.interfaces).map(([name, s]) => [
    name,
    String(s.rxBytes),
    String(s.txBytes),
    String(s.rxPackets),
    String(s.txPackets),
    String(s.rxErrors),
    String(s.txErrors),
    String(s.rxDropped),
    String(s.txDropped),
  ]);
  rows.push(["total", String(io.rxBytes), String(io.txBytes)]);
  printTable(
    [
      "INTERFACE",
      "RX BYTES",
      "TX BYTES",
      "RX PACKETS",
      "TX PACKETS",
      "RX ERRORS",
      "TX ERRORS",
      "RX DROPPED",
      "TX DROPPED",
    ],
    rows,
  );
}

/** Rates of one interface over one interval, per second. */
interface Rates {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
}

function rates(
  before: NetIO,
  after: NetIO,
  seconds: number,
): Record<string, Rates> {
  const out: Record<string, Rates> = {};
  for (const [name, now] of Object.entries(after.interfaces)) {
    const then = before.interfaces[name];
    if (then === undefined) continue;
    const per = (a: number, b: number): number =>
      Math.max(0, (a - b) / seconds);
    out[name] = {
      rxBytes: per(now.rxBytes, then.rxBytes),
      txBytes: per(now.txBytes, then.txBytes),
      rxPackets: per(now.rxPackets, then.rxPackets),
      txPackets: per(now.txPackets, then.txPackets),
    };
  }
  return out;
}

async function watch(
  read: () => NetIO,
  seconds: number,
  json: boolean,
): Promise<void> {
  let stop: () => void = () => {};
  const interrupted = new Promise<void>((resolve) => stop = resolve);
  let running = true;
  const onSignal = (): void => {
    running = false;
    stop();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    let before = read();
    let start = performance.now();
    while (running) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        interrupted,
        new Promise<void>((resolve) =>
          timer = setTimeout(resolve, seconds * 1000)
        ),
      ]);
      clearTimeout(timer);
      if (!running) break;
      const after = read();
      const now = performance.now();
      const perSecond = rates(before, after, (now - start) / 1000);
      if (json) {
        console.log(
          JSON.stringify({
            time: new Date().toISOString(),
            interfaces: perSecond,
          }),
        );
      } else {
        printTable(
          ["INTERFACE", "RX B/s", "TX B/s", "RX pkt/s", "TX pkt/s"],
          Object.entries(perSecond).map(([name, r]) => [
            name,
            r.rxBytes.toFixed(0),
            r.txBytes.toFixed(0),
            r.rxPackets.toFixed(1),
            r.txPackets.toFixed(1),
          ]),
        );
      }
      before = after;
      start = now;
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}
