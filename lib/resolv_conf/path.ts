/**
 * Where `/etc/resolv.conf` really lives: a component-by-component walk that
 * stops at the first path under `/run/`.
 *
 * A private mount namespace gets a fresh `/run`, so the namespace's own
 * resolv.conf must be bound onto the first path under `/run` the host's
 * links lead to. Following the links to the end would break DNS: a chain
 * such as `stub-resolv.conf → resolv.conf` ends at a file that does not exist
 * in the fresh `/run`.
 *
 * @module
 */

import { joinPaths } from "../join_paths.ts";
import { InvalidArgumentError } from "../errors.ts";
import { ResolvConfError } from "./errors.ts";

/** The path the walk starts from by default. */
export const RESOLV_CONF_PATH = "/etc/resolv.conf";

/** How many symbolic links the walk follows before giving up. */
export const MAX_RESOLV_CONF_LINKS = 255;

/** Options of {@linkcode resolveResolvConfPath} and {@linkcode traceResolvConfPath}. */
export interface ResolvConfPathOptions {
  /**
   * A directory to treat as `/`: links are resolved inside it and never lead
   * out of it, and the result is the path as seen from inside it.
   * Default `/`.
   */
  root?: string;
  /** The absolute path to resolve (inside `root`). Default `/etc/resolv.conf`. */
  path?: string;
  /**
   * Stop at the first path under `/run/` (default `true`). With `false` the
   * walk follows every link to the end, like `realpath` but kept inside `root`.
   */
  stopUnderRun?: boolean;
}

/** One symbolic link the walk followed. */
export interface ResolvConfLink {
  /** The link, as seen from inside the root. */
  link: string;
  /** Its target, as stored in the link. */
  target: string;
}

/** The outcome of a walk. */
export interface ResolvConfPathTrace {
  /** The resolved path, as seen from inside the root. */
  path: string;
  /** Whether the walk stopped under `/run/` (the file need not exist then). */
  underRun: boolean;
  /** The links followed, in order. */
  links: ResolvConfLink[];
}

function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

function insidePath(parts: readonly string[]): string {
  return "/" + parts.join("/");
}

/**
 * The remaining components as a clean relative path, or `undefined` when
 * `..` would climb out. Lexical cleaning is right here: inside the fresh
 * `/run` of the namespace there are no links yet.
 */
function cleanBelow(parts: readonly string[]): string[] | undefined {
  const out: string[] = [];
  for (const part of parts) {
    if (part !== "..") out.push(part);
    else if (out.pop() === undefined) return undefined;
  }
  return out;
}

/**
 * Walks the path component by component, as the kernel does, and reports
 * where it ends and which links it followed. The first symbolic link met is
 * replaced by its target (absolute targets restart at the root, relative ones
 * at the link's directory) and the walk goes on; `..` climbs the directory
 * actually reached, never past the root.
 *
 * @throws {ResolvConfError} on a missing component, a file used as a
 * directory, a directory at the end, a link loop or more than 255 links.
 */
export function traceResolvConfPath(
  options: ResolvConfPathOptions = {},
): ResolvConfPathTrace {
  const root = options.root ?? "/";
  const start = options.path ?? RESOLV_CONF_PATH;
  const stopUnderRun = options.stopUnderRun ?? true;
  if (!start.startsWith("/")) {
    throw new InvalidArgumentError(
      `resolv.conf path must be absolute: ${JSON.stringify(start)}`,
    );
  }
  const onHost = (inside: string): string => joinPaths(root, inside);
  const links: ResolvConfLink[] = [];
  const seen = new Set<string>();
  // `resolved` holds directories reached so far (none of them a link);
  // `pending` is what is left to walk, reversed so the next name is last.
  let resolved: string[] = [];
  let pending = components(start).reverse();
  if (pending.length === 0) {
    throw new ResolvConfError("is-a-directory", `${start} names a directory`, {
      path: start,
    });
  }
  for (;;) {
    if (
      stopUnderRun && resolved.length === 0 && pending.length > 1 &&
      pending[pending.length - 1] === "run"
    ) {
      const below = cleanBelow(pending.slice(0, -1).reverse());
      if (below !== undefined && below.length > 0) {
        return { path: insidePath(["run", ...below]), underRun: true, links };
      }
    }
    const name = pending.pop();
    if (name === undefined) {
      // Only reachable when `..` consumed the last name: the walk ended on a directory.
      throw new ResolvConfError(
        "is-a-directory",
        `${start} resolves to the directory ${insidePath(resolved)}`,
        { path: insidePath(resolved) },
      );
    }
    if (name === "..") {
      resolved.pop();
      continue;
    }
    const here = insidePath([...resolved, name]);
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(onHost(here));
    } catch (error) {
      throw walkError(error, start, here, links);
    }
    if (info.isSymlink) {
      if (links.length >= MAX_RESOLV_CONF_LINKS) {
        throw new ResolvConfError(
          "too-many-links",
          `cannot resolve ${start}: more than ${MAX_RESOLV_CONF_LINKS} symbolic links`,
          { path: here },
        );
      }
      let target: string;
      try {
        target = Deno.readLinkSync(onHost(here));
      } catch (error) {
        throw walkError(error, start, here, links);
      }
      links.push({ link: here, target });
      if (target.startsWith("/")) resolved = [];
      pending = [...pending, ...components(target).reverse()];
      // The walk is deterministic, so meeting the same state twice means it never ends.
      const state = insidePath(resolved) + "\0" + pending.join("/");
      if (seen.has(state)) {
        throw new ResolvConfError(
          "loop",
          `cannot resolve ${start}: the symbolic link ${here} → ${target} leads back to itself`,
          { path: here },
        );
      }
      seen.add(state);
      continue;
    }
    if (pending.length === 0) {
      if (info.isDirectory) {
        throw new ResolvConfError(
          "is-a-directory",
          `${start} resolves to the directory ${here}`,
          { path: here },
        );
      }
      return { path: here, underRun: false, links };
    }
    if (!info.isDirectory) {
      throw new ResolvConfError(
        "not-a-directory",
        `cannot resolve ${start}: ${here} is not a directory${via(links)}`,
        { path: here },
      );
    }
    resolved.push(name);
  }
}

function via(links: readonly ResolvConfLink[]): string {
  if (links.length === 0) return "";
  const last = links[links.length - 1]!;
  const count = links.length === 1 ? "1 link" : `${links.length} links`;
  return ` (after ${count}, the last ${last.link} → ${last.target})`;
}

function walkError(
  error: unknown,
  start: string,
  here: string,
  links: readonly ResolvConfLink[],
): ResolvConfError {
  if (error instanceof Deno.errors.NotFound) {
    return new ResolvConfError(
      "not-found",
      `cannot resolve ${start}: ${here} does not exist${via(links)}`,
      { path: here, cause: error },
    );
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return new ResolvConfError(
      "not-a-directory",
      `cannot resolve ${start}: a component of ${here} is not a directory${
        via(links)
      }`,
      { path: here, cause: error },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ResolvConfError(
    "io",
    `cannot resolve ${start}: ${here}: ${message}`,
    {
      path: here,
      cause: error,
    },
  );
}

/**
 * Where `/etc/resolv.conf` really lives, as seen from inside `root`: the
 * first path under `/run/` its links lead to, or the plain file at the end.
 *
 * @example
 * ```ts
 * import { resolveResolvConfPath } from "@nsnet/nsnet";
 * // "/run/systemd/resolve/stub-resolv.conf" on a systemd-resolved host
 * console.log(resolveResolvConfPath());
 * ```
 *
 * @throws {ResolvConfError} see {@linkcode traceResolvConfPath}.
 */
export function resolveResolvConfPath(
  options: ResolvConfPathOptions = {},
): string {
  return traceResolvConfPath(options).path;
}
