/**
 * `nsnet add|del|list|exec|pids|identify`: named network namespaces, the
 * way `ip netns` handles them, and interchangeable with it.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { pathExists } from "../fs.ts";
import { adoptProcessNetNS, newNSWithName } from "../netns/create.ts";
import { identifyPID, pidsInNS } from "../netns/list.ts";
import { nsPath } from "../netns/run_dir.ts";
import { unmountNS } from "../netns/teardown.ts";
import { NamespaceNotFoundError, NsnetError } from "../errors.ts";
import { runInNamespace } from "./exec.ts";
import { forEachName } from "./report.ts";
import { ExitRequest, printJson } from "./output.ts";
import { printNamespaces } from "./read_commands.ts";

/** The commands that handle named namespaces. */
export function netnsCommands(): CommandUnknownOpts[] {
  return [
    addCommand(),
    delCommand(),
    listCommand(),
    execCommand(),
    pidsCommand(),
    identifyCommand(),
  ];
}

function addCommand(): CommandUnknownOpts {
  return new Command("add")
    .description("create a named network namespace (visible to `ip netns` too)")
    .argument("<name>", "namespace name")
    .option(
      "--pid <pid>",
      "bind the network namespace of this running process instead",
    )
    .option("--json", "print the new namespace as JSON")
    .action((name, opts) => {
      const ns = opts.pid === undefined
        ? newNSWithName(name)
        : adoptProcessNetNS(parsePid(opts.pid), { name });
      try {
        if (opts.json) printJson({ name, path: ns.path, inode: ns.ino });
      } finally {
        ns.close();
      }
    });
}

function delCommand(): CommandUnknownOpts {
  return new Command("del")
    .alias("delete")
    .description(
      "delete named network namespaces (and stale files left by a crash)",
    )
    .argument("<names...>", "namespace names")
    .action(async (names) => {
      await forEachName(names, (name) => {
        const path = nsPath(name);
        if (!pathExists(path, { followLinks: false })) {
          throw new NamespaceNotFoundError(path);
        }
        unmountNS(path);
      });
    });
}

function listCommand(): CommandUnknownOpts {
  return new Command("list")
    .alias("ls")
    .description("list named network namespaces")
    .option("--json", "print as JSON")
    .action((opts) => printNamespaces(Boolean(opts.json)));
}

function execCommand(): CommandUnknownOpts {
  return new Command("exec")
    .description(
      "run a command inside a network namespace; its exit status is passed on",
    )
    .argument("<name>", "namespace name, or a path such as /proc/PID/ns/net")
    .argument(
      "<command...>",
      "the command and its arguments (put them after --)",
    )
    .passThroughOptions()
    .action(async (name, command) => {
      const status = await runInNamespace(nsPath(name), command);
      if (status !== 0) throw new ExitRequest(status);
    });
}

function pidsCommand(): CommandUnknownOpts {
  return new Command("pids")
    .description("list the processes inside a network namespace")
    .argument("<name>", "namespace name or path")
    .option("--json", "print as JSON")
    .action((name, opts) => {
      const pids = pidsInNS(nsPath(name));
      if (opts.json) printJson(pids);
      else for (const pid of pids) console.log(pid);
    });
}

function identifyCommand(): CommandUnknownOpts {
  return new Command("identify")
    .description("name the network namespace of a process")
    .argument("[pid]", "process id (default: nsnet itself)")
    .option("--json", "print as JSON")
    .action((pid, opts) => {
      const names = identifyPID(pid === undefined ? Deno.pid : parsePid(pid));
      if (opts.json) printJson(names);
      else for (const n of names) console.log(n);
    });
}

function parsePid(text: string): number {
  const pid = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(pid) || pid <= 0) {
    throw new NsnetError(`invalid pid ${JSON.stringify(text)}`, {
      hint: "give a process id such as 1234",
    });
  }
  return pid;
}
