/**
 * `nsnet cni install`: puts nsnet into a CNI bin dir as plugin `nsnet` —
 * the compiled binary itself where nsnet runs as one, else a launcher
 * script that runs this checkout's bundle (`deno task bundle`, under
 * `out/bundle/`) or, without one, its source, with the Deno running now —
 * and optionally writes a network config list that uses it.
 *
 * @module
 */

import { writeFileAtomicSync } from "../../fs.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { DEFAULT_BRIDGE } from "./config.ts";
import { parseIPNet } from "./ip.ts";

/** The CNI bin dir most runtimes search. */
export const DEFAULT_BIN_DIR = "/opt/cni/bin";

/** The CNI conf dir most runtimes read. */
export const DEFAULT_CONF_DIR = "/etc/cni/net.d";

/** What {@linkcode installPlugin} is asked to do. */
export interface InstallOptions {
  /** Where the plugin goes (default {@linkcode DEFAULT_BIN_DIR}). */
  binDir?: string;
  /** Where a conflist goes (default {@linkcode DEFAULT_CONF_DIR}). */
  confDir?: string;
  /** Write a conflist for this network. */
  network?: string;
  /** Its subnets (IPv4 and/or IPv6); needed with `network`. */
  subnets?: string[];
  /** Its bridge (default `nscni0`). */
  bridge?: string;
  /** Run the source even where a bundle exists. */
  source?: boolean;
}

/** What {@linkcode installPlugin} did. */
export interface InstallResult {
  /** The plugin's path (`BIN_DIR/nsnet`). */
  plugin: string;
  /** `binary` (a copy of the compiled nsnet), `bundle` or `source` (a launcher). */
  kind: "binary" | "bundle" | "source";
  /** What the launcher runs, or the binary copied. */
  target: string;
  /** The conflist written, if any. */
  conflist?: string;
}

/** The checkout this module is in (lib/cni/plugin → the root). */
function checkoutRoot(): string | undefined {
  const url = new URL("../../../", import.meta.url);
  return url.protocol === "file:"
    ? decodeURIComponent(url.pathname).replace(/\/$/, "")
    : undefined;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** The Deno dir the launcher points Deno at (runtimes may start plugins without HOME). */
function denoDir(): string {
  const set = Deno.env.get("DENO_DIR");
  if (set) return set;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/deno`;
  return `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;
}

/** The launcher script for `target` (a bundle's cli.js or the source's cli.ts). */
export function launcherScript(
  deno: string,
  target: string,
  kind: "bundle" | "source",
  root: string,
  dir: string = denoDir(),
): string {
  // The bundle needs no config; the source needs the config and its lock
  // (without the lock Deno would resolve npm versions over the network).
  const config = kind === "bundle"
    ? "--no-config --no-lock"
    : `--config=${quote(`${root}/deno.json`)}`;
  return [
    "#!/bin/sh",
    "# The nsnet CNI plugin, written by `nsnet cni install`: it runs",
    `# ${target} with the Deno that installed it.`,
    `DENO_DIR=${quote(dir)}`,
    "DENO_NO_UPDATE_CHECK=1",
    "export DENO_DIR DENO_NO_UPDATE_CHECK",
    `exec ${quote(deno)} run --allow-all --quiet --no-prompt ${config} ${
      quote(target)
    } "$@"`,
    "",
  ].join("\n");
}

/** The conflist of a network run by the nsnet plugin. */
export function pluginConflist(
  network: string,
  subnets: readonly string[],
  bridge: string = DEFAULT_BRIDGE,
): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    cniVersions: ["0.4.0", "1.0.0", "1.1.0"],
    name: network,
    plugins: [{
      type: "nsnet",
      bridge,
      subnets: [...subnets],
      isGateway: true,
      ipMasq: true,
      capabilities: {
        portMappings: true,
        bandwidth: true,
        ips: true,
        mac: true,
      },
    }],
  };
}

/**
 * Installs the plugin (and a conflist when `network` is given); replaces
 * files atomically, so a runtime never runs half a plugin.
 */
export function installPlugin(options: InstallOptions = {}): InstallResult {
  const binDir = options.binDir ?? DEFAULT_BIN_DIR;
  if (options.network !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(options.network)) {
      throw new InvalidArgumentError(
        `invalid network name ${JSON.stringify(options.network)}`,
      );
    }
    if ((options.subnets ?? []).length === 0) {
      throw new InvalidArgumentError(
        `network ${options.network} needs --subnet CIDR`,
        {
          hint: "e.g. --subnet 10.88.0.0/16 --subnet fd00:88::/64",
        },
      );
    }
    for (const subnet of options.subnets!) {
      try {
        parseIPNet(subnet);
      } catch (error) {
        throw new InvalidArgumentError(
          `invalid subnet ${JSON.stringify(subnet)}: ${
            (error as Error).message
          }`,
        );
      }
    }
  }
  Deno.mkdirSync(binDir, { recursive: true, mode: 0o755 });
  const plugin = `${binDir}/nsnet`;
  const exe = Deno.execPath();
  const root = checkoutRoot();
  let result: InstallResult;
  if (!/\/deno$/.test(exe) || root === undefined) {
    // A compiled nsnet: the binary is the plugin.
    writeFileAtomicSync(plugin, Deno.readFileSync(exe), 0o755);
    result = { plugin, kind: "binary", target: exe };
  } else {
    const bundle = `${root}/out/bundle/cli.js`;
    const kind = !options.source && exists(bundle) ? "bundle" : "source";
    const target = kind === "bundle" ? bundle : `${root}/cli.ts`;
    writeFileAtomicSync(plugin, launcherScript(exe, target, kind, root), 0o755);
    result = { plugin, kind, target };
  }
  if (options.network !== undefined) {
    const confDir = options.confDir ?? DEFAULT_CONF_DIR;
    Deno.mkdirSync(confDir, { recursive: true, mode: 0o755 });
    const conflist = `${confDir}/10-nsnet-${options.network}.conflist`;
    writeFileAtomicSync(
      conflist,
      JSON.stringify(
        pluginConflist(options.network, options.subnets!, options.bridge),
        null,
        2,
      ) + "\n",
      0o644,
    );
    result.conflist = conflist;
  }
  return result;
}
