/**
 * Running the nsnet CNI plugin as a runtime does, for the plugin's tests:
 * installed with `installPlugin()` into a temp bin dir (a launcher of this
 * checkout's source), executed with the `CNI_*` environment and the config
 * on standard input.
 */
import { installPlugin } from "../../lib/cni/plugin/install.ts";

/** What one plugin execution gave. */
export interface PluginRun {
  /** Exit status. */
  code: number;
  /** Standard output, parsed (undefined when empty or not JSON). */
  json: Record<string, unknown> | undefined;
  /** Standard output as text. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** A temp bin dir holding the plugin; remove with {@linkcode PluginBin.remove}. */
export class PluginBin {
  /** The dir. */
  readonly dir: string;
  /** The plugin's path. */
  readonly plugin: string;

  constructor() {
    this.dir = Deno.makeTempDirSync({ prefix: "nsnet-cni-bin-" });
    this.plugin = installPlugin({ binDir: this.dir, source: true }).plugin;
  }

  /** Runs the plugin with `env` (CNI_* variables) and `config` on stdin. */
  async run(
    env: Record<string, string | undefined>,
    config: Record<string, unknown> | string,
  ): Promise<PluginRun> {
    const vars: Record<string, string> = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    };
    for (const [k, v] of Object.entries(env)) if (v !== undefined) vars[k] = v;
    const child = new Deno.Command(this.plugin, {
      env: vars,
      clearEnv: true,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(
      new TextEncoder().encode(
        typeof config === "string" ? config : JSON.stringify(config),
      ),
    );
    await writer.close();
    const out = await child.output();
    const stdout = new TextDecoder().decode(out.stdout);
    let json: Record<string, unknown> | undefined;
    try {
      json = stdout.trim() === "" ? undefined : JSON.parse(stdout);
    } catch {
      json = undefined;
    }
    return {
      code: out.code,
      json,
      stdout,
      stderr: new TextDecoder().decode(out.stderr),
    };
  }

  /** Removes the bin dir. */
  remove(): void {
    Deno.removeSync(this.dir, { recursive: true });
  }
}
