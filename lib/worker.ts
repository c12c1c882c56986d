/**
 * Where nsnet's worker modules are, and the worker side's view of its scope.
 *
 * nsnet runs some code on throwaway threads (a socket made inside a
 * namespace, `RootlessNetNS.run`, the port forwarder): each is a Worker whose
 * code is a real module beside its caller (`lib/…/_*_worker.ts`).
 * {@linkcode workerUrl} finds it however nsnet is run:
 *
 * - from source (`deno run cli.ts`, `deno test`), from JSR (an `https:`
 *   URL), and compiled (`deno compile --include lib/…/_x_worker.ts`: the
 *   binary keeps the modules' relative layout), it is the `.ts` file,
 *   resolved against this module;
 * - bundled (`deno bundle --code-splitting` with the workers as extra entry
 *   points beside an entry at the repository's root), this module is in a
 *   shared chunk at the output's root, since every worker imports it too, and
 *   the worker is the `.js` file at the same relative path below that root
 *   (`out/bundle/lib/netns/_socket_worker.js`).
 *
 * @module
 */

/**
 * The URL of the worker module at `path`, relative to `lib/` and without its
 * extension (`"netns/_socket_worker"`), for `new Worker(url, { type:
 * "module" })`. See the module documentation for how it is found.
 */
export function workerUrl(path: string): URL {
  const here = import.meta.url;
  // Unbundled, this file keeps its name; bundled, it is a chunk (`.js`).
  return here.endsWith("/worker.ts")
    ? new URL(`./${path}.ts`, here)
    : new URL(`./lib/${path}.js`, here);
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
