/**
 * CNI network configuration lists (specification 1.0.0): loading them from a
 * config dir, validating them, and finding their plugins' binaries, so that a
 * missing network or binary is an error before anything is created.
 *
 * As libcni does, files are read in name order, `.conflist` files first and
 * then single-plugin `.conf`/`.json` files (turned into one-plugin lists);
 * the first with a matching name wins.
 *
 * @module
 */

import { getEnv } from "../env.ts";
import { NetworkNotFoundError } from "../errors.ts";
import { isExecutableFile } from "../fs.ts";
import { warn } from "../log.ts";
import { isRootless } from "../rootless/detect.ts";
import { CniConfigError, CniPluginNotFoundError } from "./errors.ts";

/** One plugin's config: its `type` plus whatever the plugin reads. */
export interface CniPluginConfig {
  /** The plugin type: the name of its binary. */
  type: string;
  /** Capabilities the plugin takes through `runtimeConfig`, e.g. `portMappings`. */
  capabilities?: Record<string, boolean>;
  /** The plugin's own fields. */
  [field: string]: unknown;
}

/** A validated network configuration list. */
export interface CniNetworkList {
  /** The specification version its plugins are called with. */
  cniVersion: string;
  /** The network's name. */
  name: string;
  /** Whether CHECK is turned off for it. */
  disableCheck: boolean;
  /** Its plugins, in the order ADD runs them. */
  plugins: CniPluginConfig[];
  /** The file it came from (or another description of its source). */
  source: string;
  /** The config as text, as read (kept in the result cache). */
  bytes: string;
}

/** The versions whose result format nsnet reads (0.3.0 introduced lists of interfaces). */
export const SUPPORTED_CNI_VERSIONS: readonly string[] = [
  "0.3.0",
  "0.3.1",
  "0.4.0",
  "1.0.0",
];

/** Default CNI_PATH: Debian's directory, then the upstream one. */
export const DEFAULT_CNI_PATH: readonly string[] = [
  "/usr/lib/cni",
  "/opt/cni/bin",
];

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;
const LIST_EXTENSIONS = [".conflist"];
const SINGLE_EXTENSIONS = [".conf", ".json"];

/** The config dir: `/etc/cni/net.d` as root, `$XDG_CONFIG_HOME/cni/net.d` (or `~/.config/cni/net.d`) rootless. */
export function defaultCniConfDir(): string {
  const override = getEnv("NSNET_CNI_CONF_DIR");
  if (override !== undefined) return override;
  if (!isRootless()) return "/etc/cni/net.d";
  const config = getEnv("XDG_CONFIG_HOME") ??
    `${getEnv("HOME") ?? "/tmp"}/.config`;
  return `${config}/cni/net.d`;
}

/** CNI_PATH as a list: `value` (a list or colon-separated), else `$CNI_PATH`, else the default. */
export function resolveCniPath(
  value?: string | readonly string[],
): string[] {
  const raw = value ?? getEnv("CNI_PATH");
  const dirs = raw === undefined
    ? [...DEFAULT_CNI_PATH]
    : (typeof raw === "string" ? raw.split(":") : [...raw]);
  return dirs.filter((d) => d !== "");
}

/** Whether `name` is a valid network name (alphanumerics, `_`, `.`, `-`; starting alphanumeric). */
export function isValidNetworkName(name: string): boolean {
  return NAME.test(name);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function validatePlugin(
  source: string,
  plugin: unknown,
  index: number,
): CniPluginConfig {
  const where = `plugin ${index}`;
  if (!isObject(plugin)) {
    throw new CniConfigError(source, `${where} is not an object`);
  }
  const type = plugin.type;
  if (typeof type !== "string" || type === "") {
    throw new CniConfigError(source, `${where} has no type`);
  }
  if (type.includes("/") || type === "." || type === "..") {
    throw new CniConfigError(
      source,
      `${where}: type ${JSON.stringify(type)} is not a plugin name`,
    );
  }
  const capabilities = plugin.capabilities;
  if (capabilities !== undefined) {
    if (
      !isObject(capabilities) ||
      Object.values(capabilities).some((v) => typeof v !== "boolean")
    ) {
      throw new CniConfigError(
        source,
        `${where} (${type}): capabilities must map names to true or false`,
      );
    }
  }
  return plugin as CniPluginConfig;
}

function validateHeader(
  source: string,
  value: Record<string, unknown>,
): { cniVersion: string; name: string } {
  const { cniVersion, name } = value;
  if (typeof cniVersion !== "string" || cniVersion === "") {
    throw new CniConfigError(source, "cniVersion is missing");
  }
  if (!SUPPORTED_CNI_VERSIONS.includes(cniVersion)) {
    throw new CniConfigError(
      source,
      `cniVersion ${JSON.stringify(cniVersion)} is not supported`,
      { hint: `use one of ${SUPPORTED_CNI_VERSIONS.join(", ")}` },
    );
  }
  if (typeof name !== "string" || name === "") {
    throw new CniConfigError(source, "name is missing");
  }
  if (!isValidNetworkName(name)) {
    throw new CniConfigError(
      source,
      `name ${
        JSON.stringify(name)
      } may hold only letters, digits, _, . and -, and must start with a letter or digit`,
    );
  }
  return { cniVersion, name };
}

function parseJSON(source: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CniConfigError(
      source,
      `not JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (!isObject(value)) {
    throw new CniConfigError(source, "not a JSON object");
  }
  return value;
}

/** Parses and validates a network configuration list (`.conflist` text). */
export function parseNetworkList(
  text: string,
  source = "<config>",
): CniNetworkList {
  const value = parseJSON(source, text);
  const { cniVersion, name } = validateHeader(source, value);
  const { disableCheck, plugins } = value;
  if (disableCheck !== undefined && typeof disableCheck !== "boolean") {
    throw new CniConfigError(source, "disableCheck must be true or false");
  }
  if (!Array.isArray(plugins) || plugins.length === 0) {
    throw new CniConfigError(source, "plugins must be a non-empty array");
  }
  return {
    cniVersion,
    name,
    disableCheck: disableCheck ?? false,
    plugins: plugins.map((p, i) => validatePlugin(source, p, i)),
    source,
    bytes: text,
  };
}

/** Parses a single-plugin config (`.conf`) and turns it into a one-plugin list, as libcni does. */
export function parseNetworkConfig(
  text: string,
  source = "<config>",
): CniNetworkList {
  const value = parseJSON(source, text);
  const { cniVersion, name } = validateHeader(source, value);
  const plugin = validatePlugin(source, value, 0);
  const bytes = JSON.stringify({ cniVersion, name, plugins: [value] });
  return {
    cniVersion,
    name,
    disableCheck: false,
    plugins: [plugin],
    source,
    bytes,
  };
}

function configFiles(confDir: string): string[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(confDir)];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const names = entries.filter((e) => !e.isDirectory).map((e) => e.name)
    .sort();
  const lists = names.filter((n) => LIST_EXTENSIONS.some((x) => n.endsWith(x)));
  const singles = names.filter((n) =>
    SINGLE_EXTENSIONS.some((x) => n.endsWith(x))
  );
  return [...lists, ...singles].map((n) => `${confDir}/${n}`);
}

function readConfig(path: string): CniNetworkList {
  const text = Deno.readTextFileSync(path);
  return path.endsWith(".conflist")
    ? parseNetworkList(text, path)
    : parseNetworkConfig(text, path);
}

/** The name a config file claims, without validating the rest (undefined when unreadable). */
function claimedName(path: string): string | undefined {
  try {
    const value = JSON.parse(Deno.readTextFileSync(path));
    return isObject(value) && typeof value.name === "string"
      ? value.name
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every valid network list in `confDir` (first of each name wins), in file
 * order. Invalid files are skipped with a warning; a missing dir has none.
 */
export function listNetworkLists(
  confDir: string = defaultCniConfDir(),
): CniNetworkList[] {
  const found = new Map<string, CniNetworkList>();
  for (const path of configFiles(confDir)) {
    try {
      const list = readConfig(path);
      if (!found.has(list.name)) found.set(list.name, list);
    } catch (error) {
      warn(`skipping ${path}: ${(error as Error).message}`);
    }
  }
  return [...found.values()];
}

/**
 * The network list named `name` in `confDir`. A file claiming that name but
 * failing validation raises its {@linkcode CniConfigError}; no such file
 * raises {@linkcode NetworkNotFoundError} naming the networks there.
 */
export function loadNetworkList(
  name: string,
  confDir: string = defaultCniConfDir(),
): CniNetworkList {
  const files = configFiles(confDir);
  for (const path of files) {
    if (claimedName(path) === name) return readConfig(path);
  }
  const known = [
    ...new Set(files.map(claimedName).filter((n) => n !== undefined)),
  ];
  throw new NetworkNotFoundError(name, {
    backend: "cni",
    dir: confDir,
    message: `no CNI network ${JSON.stringify(name)} in ${confDir}`,
    hint: known.length > 0
      ? `networks there: ${known.join(", ")}`
      : `put a ${name}.conflist in ${confDir}`,
  });
}

/** The binary of plugin `type`: the first executable file of that name in `cniPath`. */
export function findPlugin(type: string, cniPath: readonly string[]): string {
  for (const dir of cniPath) {
    const path = `${dir}/${type}`;
    if (isExecutableFile(path)) return path;
  }
  throw new CniPluginNotFoundError(type, cniPath);
}

/** The binaries of all of `list`'s plugins, in order; throws for the first missing one. */
export function findPlugins(
  list: CniNetworkList,
  cniPath: readonly string[],
): string[] {
  return list.plugins.map((p) => findPlugin(p.type, cniPath));
}
