/**
 * Where nsnet's worker modules are, and the worker side's view of its scope.
 *
 * nsnet runs some code on throwaway threads (a socket made inside a
 * namespace, `RootlessNetNS.run`, the port forwarder): each is a Worker whose
 * code is a real module beside its caller, listed in
 * {@linkcode WORKER_MODULES}. {@linkcode workerUrl} finds it however nsnet
 * is run:
 *
 * - from source (`deno run cli.ts`, `deno test`), from JSR (an `https:`
 *   URL), and compiled (`deno compile --include lib/…/_x_worker.ts` for each
 *   one: the binary keeps the modules' layout), it is the `.ts` file,
 *   resolved against this module;
 * - bundled, it is `<name>.js` in the directory of the bundle file that
 *   holds this module (with `--code-splitting`, the output directory):
 *   bundle each worker on its own into that directory, as `deno task
 *   bundle` does (`deno bundle --platform deno --outdir DIR
 *   lib/netns/_socket_worker.ts` yields `DIR/_socket_worker.js`).
 *
 * @module
 */

import { NsnetError } from "./errors.ts";
import { pathExists } from "./fs.ts";

/**
 * Every worker module, relative to `lib/` and without its extension. Their
 * file names are unique, so that bundled they can sit side by side.
 */
export const WORKER_MODULES = [
  "netns/_socket_worker",
  "ports/_forwarder_worker",
  "rootless/_thread_run_worker",
] as const;

/** One of {@linkcode WORKER_MODULES}. */
export type WorkerModule = typeof WORKER_MODULES[number];

/**
 * The URL of the worker module `path` for `new Worker(url, { type:
 * "module" })`. See the module documentation for how it is found. A local
 * file that is not there (a bundle made without its workers) is an error
 * here, not a thread that never answers.
 */
export function workerUrl(path: WorkerModule): URL {
  const here = import.meta.url;
  // Unbundled, this file keeps its name; bundled, it is part of a `.js` file.
  const url = here.endsWith("/worker.ts")
    ? new URL(`./${path}.ts`, here)
    : new URL(`./${path.slice(path.lastIndexOf("/") + 1)}.js`, here);
  if (
    url.protocol === "file:" && !pathExists(decodeURIComponent(url.pathname))
  ) {
    throw new NsnetError(`nsnet's worker module ${url.pathname} is missing`, {
      hint:
        `bundle it beside the program: deno bundle --platform deno --outdir DIR lib/${path}.ts`,
    });
  }
  return url;
}

/** What a worker module sees of its global scope: messages in and out. */
export interface WorkerScope<In, Out> {
  /** Called with each message the creating thread posts. */
  onmessage: ((event: MessageEvent<In>) => void | Promise<void>) | null;
  /** Sends `message` (structured-cloned) to the creating thread. */
  postMessage(message: Out): void;
}

/**
 * The worker's global scope, typed by the messages it takes (`In`) and sends
 * (`Out`). Only for code running as a worker. (A cast, not `self`: the
 * repository is type-checked as one program, with the main thread's types.)
 */
export function workerScope<In, Out>(): WorkerScope<In, Out> {
  return globalThis as unknown as WorkerScope<In, Out>;
}
