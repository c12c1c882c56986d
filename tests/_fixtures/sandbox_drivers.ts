/**
 * The two ways the backend conformance suite reaches nsnet: as root through
 * the library in this process, and as the unprivileged test user through
 * the bundled CLI (as the existing rootless tests do).
 *
 * @module
 */

import { run, succeeds } from "../_helpers.ts";
import { createSandbox, removeSandbox } from "../../lib/sandbox/lifecycle.ts";
import { getNS } from "../../lib/netns/netns.ts";
import { rootlessNetNSName } from "../../lib/rootless/state.ts";
import {
  type BackendUnderTest,
  type DriverSession,
  parseAddresses,
  parseGateway,
  parseVeths,
  type SandboxDriver,
  type SandboxState,
} from "./backend_conformance.ts";
import { tagServer } from "./tcp.ts";
import {
  cleanupRootless,
  nsnetAsUser,
  rootlessEnv,
  spawnNsnetAsUser,
  type UserResult,
} from "../_rootless.ts";

function names(dir: string, keep: (name: string) => boolean): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).filter(keep).sort();
  } catch {
    return [];
  }
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Sets `env` in this process; returns what puts the old values back. */
function setEnv(env: Record<string, string>): () => void {
  const saved = Object.keys(env).map((k) => [k, Deno.env.get(k)] as const);
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  };
}

/** Root, in-process: `createSandbox`/`removeSandbox` with `backend:`, observed with `ip -n`. */
export const rootDriver: SandboxDriver = {
  label: "root",
  available: Deno.uid() === 0,
  typedErrors: true,
  begin(b: BackendUnderTest, dir: string): Promise<DriverSession> {
    const restore = setEnv(b.configure(dir));
    const paths = new Map<string, string>();
    const path = (name: string): string => {
      const found = paths.get(name);
      if (found === undefined) throw new Error(`no sandbox ${name} made`);
      return found;
    };
    const ipIn = (name: string, ...args: string[]): string =>
      run("ip", "-n", baseName(path(name)), "-j", ...args);
    return Promise.resolve({
      async create(name: string, network: string): Promise<void> {
        const record = await createSandbox({
          name,
          network,
          backend: b.backend,
        });
        paths.set(name, record.netnsPath!);
      },
      remove: (name: string): Promise<void> => removeSandbox(name),
      addresses: (name: string): Promise<string[]> =>
        Promise.resolve(parseAddresses(ipIn(name, "-4", "addr", "show"))),
      gateway: (name: string): Promise<string | undefined> =>
        Promise.resolve(
          parseGateway(ipIn(name, "-4", "route", "show", "default")),
        ),
      async exchange(from, to, address, tag, text): Promise<string> {
        using ns = getNS(path(to));
        const server = tagServer(ns, tag, address);
        try {
          const out = await new Deno.Command("ip", {
            args: [
              "netns",
              "exec",
              baseName(path(from)),
              "timeout",
              "5",
              "bash",
              "-c",
              `exec 3<>/dev/tcp/${address}/${server.port} && printf %s "$1" >&3 && cat <&3`,
              "bash",
              text,
            ],
            stdout: "piped",
            stderr: "piped",
          }).output();
          return new TextDecoder().decode(out.stdout);
        } finally {
          await server.close();
        }
      },
      state(): Promise<SandboxState> {
        return Promise.resolve({
          veths: parseVeths(run("ip", "-j", "link", "show", "type", "veth")),
          namespaces: names("/run/netns", (n) => n.startsWith("netns-")),
          records: names("/run/nsnet/sandboxes", (n) => n.endsWith(".json")),
        });
      },
      async end(): Promise<void> {
        try {
          for (const name of paths.keys()) {
            await removeSandbox(name).catch(() => {});
          }
        } finally {
          restore();
        }
      },
    });
  },
};

function ok(result: UserResult): UserResult {
  if (result.code !== 0) {
    throw new Error(result.stderr.trim() || `exit status ${result.code}`);
  }
  return result;
}

/** Rootless: the bundled CLI as the test user (`nsnet sandbox …`), observed with `sandbox exec`. */
export const rootlessDriver: SandboxDriver = {
  label: "rootless",
  available: Deno.uid() === 0,
  typedErrors: false,
  async begin(b: BackendUnderTest, dir: string): Promise<DriverSession> {
    const env = b.configure(dir);
    for (const entry of Deno.readDirSync(dir)) {
      Deno.chmodSync(`${dir}/${entry.name}`, 0o644);
    }
    await cleanupRootless();
    const user = rootlessEnv();
    const made = new Set<string>();
    const nsnet = (...args: string[]): Promise<UserResult> =>
      nsnetAsUser(args, env);
    const inside = async (name: string, ...cmd: string[]): Promise<string> =>
      ok(await nsnet("sandbox", "exec", name, "--", ...cmd)).stdout;
    /** veths in the rootless namespace, seen as root through the pause process's mounts. */
    const rootlessVeths = (): string[] => {
      const netns = `${user.runtimeDir}/netns/${
        rootlessNetNSName(`${user.home}/.local/share/nsnet`)
      }`;
      let pause: number;
      try {
        pause = Number(
          Deno.readTextFileSync(`${user.runtimeDir}/nsnet/pause.pid`).trim(),
        );
      } catch {
        return [];
      }
      if (!succeeds("kill", "-0", String(pause))) return [];
      const out = new Deno.Command("nsenter", {
        args: [
          "-t",
          String(pause),
          "-m",
          "nsenter",
          `--net=${netns}`,
          "ip",
          "-j",
          "link",
          "show",
          "type",
          "veth",
        ],
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      return out.success
        ? parseVeths(new TextDecoder().decode(out.stdout))
        : [];
    };
    return {
      async create(name: string, network: string): Promise<void> {
        made.add(name);
        ok(
          await nsnet(
            "sandbox",
            "create",
            name,
            "--backend",
            b.backend,
            "--network",
            network,
          ),
        );
      },
      async remove(name: string): Promise<void> {
        ok(await nsnet("sandbox", "rm", name));
      },
      async addresses(name: string): Promise<string[]> {
        return parseAddresses(
          await inside(name, "ip", "-j", "-4", "addr", "show"),
        );
      },
      async gateway(name: string): Promise<string | undefined> {
        return parseGateway(
          await inside(name, "ip", "-j", "-4", "route", "show", "default"),
        );
      },
      async exchange(from, to, address, tag, text): Promise<string> {
        const server = spawnNsnetAsUser([
          "sandbox",
          "exec",
          to,
          "--",
          user.deno,
          "eval",
          `Deno.unrefTimer(setTimeout(() => Deno.exit(1), 20000));
           const l = Deno.listen({ hostname: ${
            JSON.stringify(address)
          }, port: 8080 });
           const c = await l.accept(); const buf = new Uint8Array(1024); const n = await c.read(buf);
           await c.write(new TextEncoder().encode(${
            JSON.stringify(`${tag}:`)
          } + new TextDecoder().decode(buf.subarray(0, n ?? 0))));
           c.close(); l.close();`,
        ], env);
        try {
          let reply = "";
          for (let i = 0; i < 40 && reply === ""; i++) {
            const out = await nsnet(
              "sandbox",
              "exec",
              from,
              "--",
              "timeout",
              "3",
              "bash",
              "-c",
              `exec 3<>/dev/tcp/${address}/8080 && printf %s "$1" >&3 && cat <&3`,
              "bash",
              text,
            );
            reply = out.stdout;
            if (reply === "") await new Promise((r) => setTimeout(r, 150));
          }
          return reply;
        } finally {
          try {
            server.kill("SIGKILL");
          } catch { /* done */ }
          await server.output();
        }
      },
      state(): Promise<SandboxState> {
        return Promise.resolve({
          veths: rootlessVeths(),
          namespaces: names(
            `${user.runtimeDir}/netns`,
            (n) => !n.startsWith("rootless-netns-"),
          ),
          records: names(
            `${user.runtimeDir}/nsnet/sandboxes`,
            (n) => n.endsWith(".json"),
          ),
        });
      },
      async end(): Promise<void> {
        if (made.size > 0) await nsnet("sandbox", "rm", "--force", ...made);
        await cleanupRootless();
      },
    };
  },
};
