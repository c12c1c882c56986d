/**
 * Shared test helpers: every nsnet test runs through {@linkcode nsTest}, which
 * checks the invariant the whole project relies on — after any call, normal or
 * failed, the calling thread is in the same network namespace as before.
 */
import { assertEquals } from "./_assert.ts";
import { bindLibcSymbols } from "../ffi/libc.ts";
import { type NetNS, newNS, unmountNS } from "../mod.ts";

// Opened once here: the test sanitizer counts a library loaded inside a test as a leak.
bindLibcSymbols();

/** The calling thread's network namespace, as the kernel names it (`net:[4026531840]`). */
export function threadNetns(): string {
  return Deno.readLinkSync("/proc/thread-self/ns/net");
}

/** The process's mount namespace. */
export function processMountns(): string {
  return Deno.readLinkSync("/proc/self/ns/mnt");
}

/** `Deno.test` plus the namespace invariant checked after the test body. */
export function nsTest(
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
  options: { ignore?: boolean } = {},
): void {
  Deno.test({
    name,
    ignore: options.ignore,
    sanitizeResources: true,
    sanitizeOps: true,
    async fn(t): Promise<void> {
      const netBefore = threadNetns();
      const mntBefore = processMountns();
      await fn(t);
      assertEquals(
        threadNetns(),
        netBefore,
        "thread left in another network namespace",
      );
      assertEquals(
        processMountns(),
        mntBefore,
        "process left in another mount namespace",
      );
    },
  });
}

let counter = 0;

/** A namespace name unique to this test process, easy to spot if one leaks. */
export function uniqueName(tag = "t"): string {
  counter++;
  return `nsnet-test-${Deno.pid}-${tag}-${counter}`;
}

/** Runs a command and returns its trimmed stdout; throws with stderr when it fails. */
export function run(cmd: string, ...args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" })
    .outputSync();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return text.trim();
}

/** Whether a command exits 0, output discarded. */
export function succeeds(cmd: string, ...args: string[]): boolean {
  return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" })
    .outputSync().success;
}

/** Result of running the nsnet CLI. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** Runs `nsnet ARGS…` through `deno run` with the project's Deno. */
export async function nsnet(...args: string[]): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** Runs `fn` with `count` fresh namespaces, always removed afterwards. */
export async function withNamespaces(
  count: number,
  fn: (namespaces: NetNS[]) => void | Promise<void>,
): Promise<void> {
  const namespaces: NetNS[] = [];
  try {
    for (let i = 0; i < count; i++) namespaces.push(newNS());
    await fn(namespaces);
  } finally {
    for (const ns of namespaces) unmountNS(ns);
  }
}

/** The host's nftables tables (`family name`), for tests that run programs which make some. */
export function nftTables(): string[] {
  return run("nft", "list", "tables").split("\n").filter((l) =>
    l.startsWith("table ")
  )
    .map((l) => l.slice("table ".length)).sort();
}

/**
 * Deletes the tables that were not there `before`: what netavark, CNI
 * plugins or Podman leave on the host by design (their shared chains).
 */
export function restoreNftTables(before: readonly string[]): void {
  for (const table of nftTables()) {
    if (!before.includes(table)) {
      succeeds("nft", "delete", "table", ...table.split(" "));
    }
  }
}

/**
 * Connects to 127.0.0.1:`port` and reads until the other side closes; "" when
 * the connection is refused or no end came within `ms` (the connection is
 * closed then), so that a retry loop goes on instead of waiting forever.
 */
export async function readReply(port: number, ms = 3000): Promise<string> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return "";
  }
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* already closed */ }
  }, ms);
  try {
    return new TextDecoder().decode(
      await new Response(conn.readable).arrayBuffer(),
    ).trim();
  } catch {
    return "";
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Kills the processes of user `uid` running exactly `argv` that lost their
 * parent (a command whose nsnet was SIGKILLed lives on, as the user's own):
 * a test that kills nsnet takes its command down too. With `anyParent`, kills
 * them whatever their parent.
 */
export function killOrphans(
  uid: number,
  argv: readonly string[],
  options: { anyParent?: boolean } = {},
): void {
  const wanted = argv.join("\0") + "\0";
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const status = Deno.readTextFileSync(`/proc/${entry.name}/status`);
      if (
        Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid &&
        (options.anyParent || /^PPid:\s+1$/m.test(status)) &&
        Deno.readTextFileSync(`/proc/${entry.name}/cmdline`) === wanted
      ) {
        Deno.kill(Number(entry.name), "SIGKILL");
      }
    } catch { /* gone meanwhile */ }
  }
}
