/**
 * The commands that only read state (`list`, `sandbox ls`, `inspect`) and
 * the top-level `--help` and `--version`, run without commander: `cli.ts`
 * tries {@linkcode readCommand} first, so that these start at little more
 * than Deno's own start. Each command loads only the modules it uses (by
 * dynamic import); the commander commands of the full CLI call the same
 * printers, so both paths print the same.
 *
 * Only well-formed invocations take this path: anything else (another
 * option, a missing or extra argument, `--help` of a subcommand) returns
 * undefined and goes to the full CLI, which parses and reports it.
 *
 * @module
 */

import type { NetNS } from "../netns/netns.ts";

/**
 * The read-only command `args` (the CLI's arguments, without the program
 * name) asks for, ready to run and returning the exit status; undefined
 * when `args` is anything else, for the full CLI to handle.
 */
export function readCommand(
  args: readonly string[],
): (() => Promise<number>) | undefined {
  let at = 0;
  let debugFlag = false;
  while (args[at] === "--debug") {
    debugFlag = true;
    at++;
  }
  const rest = args.slice(at);
  const [first, ...tail] = rest;
  if (rest.length === 1 && ["--help", "-h", "help"].includes(first!)) {
    return async () => {
      const { HELP_TEXT } = await import("./help_text.ts");
      writeStdout(HELP_TEXT);
      return 0;
    };
  }
  if (rest.length === 1 && ["--version", "-V"].includes(first!)) {
    return async () => {
      const { VERSION } = await import("../version.ts");
      writeStdout(`${VERSION}\n`);
      return 0;
    };
  }
  let action: (() => Promise<void>) | undefined;
  if (first === "list" || first === "ls") {
    const json = onlyJson(tail);
    if (json !== undefined) action = () => printNamespaces(json);
  } else if (first === "sandbox" && (tail[0] === "ls" || tail[0] === "list")) {
    const json = onlyJson(tail.slice(1));
    if (json !== undefined) action = () => printSandboxes(json);
  } else if (first === "inspect") {
    const parsed = inspectArgs(tail);
    if (parsed !== undefined) {
      action = async () => {
        const { openNamespaceOrPid } = await import("./namespace_arg.ts");
        await printInspect(
          openNamespaceOrPid(parsed.netns, parsed.pid, NO_USAGE_ERRORS),
          parsed.json,
        );
      };
    }
  }
  if (action === undefined) return undefined;
  const run = action;
  return async () => {
    try {
      const { getEnv } = await import("../env.ts");
      if (debugFlag || getEnv("NSNET_DEBUG") === "1") {
        (await import("../log.ts")).setDebug(true);
      }
      await run();
      return 0;
    } catch (error) {
      return (await import("./report.ts")).reportError(error);
    }
  };
}

/** `inspect`'s usage errors are the full CLI's: this path never has one. */
const NO_USAGE_ERRORS = {
  error(message: string): never {
    throw new Error(`internal error: ${message}`);
  },
};

/** Whether `args` is `[]` or `["--json"]` (undefined: anything else). */
function onlyJson(args: readonly string[]): boolean | undefined {
  if (args.length === 0) return false;
  if (args.length === 1 && args[0] === "--json") return true;
  return undefined;
}

/** `inspect`'s arguments: exactly one of `NAME|PATH` and `--pid PID`, and `--json`. */
function inspectArgs(
  args: readonly string[],
): { netns?: string; pid?: string; json: boolean } | undefined {
  let netns: string | undefined;
  let pid: string | undefined;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--json" && !json) {
      json = true;
    } else if (arg === "--pid" && pid === undefined) {
      const value = args[++i];
      if (value === undefined || value.startsWith("-")) return undefined;
      pid = value;
    } else if (arg.startsWith("--pid=") && pid === undefined) {
      pid = arg.slice("--pid=".length);
    } else if (!arg.startsWith("-") && netns === undefined) {
      netns = arg;
    } else {
      return undefined;
    }
  }
  if ((netns === undefined) === (pid === undefined)) return undefined;
  return { netns, pid, json };
}

/** Writes all of `text` to standard output. */
function writeStdout(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let done = 0; done < bytes.length;) {
    done += Deno.stdout.writeSync(bytes.subarray(done));
  }
}

/** `nsnet list [--json]`: the named network namespaces. */
export async function printNamespaces(json: boolean): Promise<void> {
  const [{ listNS }, { printJson, printTable }] = await Promise.all([
    import("../netns/list.ts"),
    import("./output.ts"),
  ]);
  const entries = listNS();
  if (json) {
    printJson(entries);
    return;
  }
  printTable(
    ["NAME", "STATUS", "INODE"],
    entries.map((e) => [e.name, e.status, e.inode?.toString() ?? "-"]),
  );
}

/** `nsnet sandbox ls [--json]`: the sandboxes, from their records. */
export async function printSandboxes(json: boolean): Promise<void> {
  const [{ listRecords }, { formatNetworkMode }, { printJson, printTable }] =
    await Promise.all([
      import("../sandbox/store.ts"),
      import("../sandbox/network_mode.ts"),
      import("./output.ts"),
    ]);
  const records = listRecords();
  if (json) {
    printJson(records.map((record) => ({
      name: record.name,
      network: formatNetworkMode(record.mode),
      phase: record.phase,
      netnsPath: record.netnsPath,
      owner: record.owner ?? record.name,
      rootless: record.rootless,
      ports: record.ports,
      created: record.created,
      helper: record.helper,
    })));
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
}

/**
 * `nsnet inspect`: namespace `ns`'s StatusBlock, as JSON or as a table.
 * Closes `ns` when done.
 */
export async function printInspect(ns: NetNS, json: boolean): Promise<void> {
  using owned = ns;
  const [{ inspectNetNS }, { printJson, printTable }] = await Promise.all([
    import("../inspect.ts"),
    import("./output.ts"),
  ]);
  const status = inspectNetNS(owned);
  if (json) {
    printJson(status);
    return;
  }
  const rows: string[][] = [];
  for (const [name, iface] of Object.entries(status.interfaces ?? {})) {
    const subnets = iface.subnets ?? [];
    if (subnets.length === 0) rows.push([name, iface.mac_address, "", ""]);
    for (const subnet of subnets) {
      rows.push([name, iface.mac_address, subnet.ipnet, subnet.gateway ?? ""]);
    }
  }
  printTable(["INTERFACE", "MAC", "SUBNET", "GATEWAY"], rows);
}
