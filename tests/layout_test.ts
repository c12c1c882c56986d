/**
 * The module layout: no import cycles among nsnet's own modules in `lib/`
 * and `ffi/`, type-only imports included (a type-only cycle still ties the
 * two modules' designs together). Read from `deno info --json`, as a
 * reader of the code would see the graph. Needs no privilege.
 */

import { assertEquals } from "./_assert.ts";

const ROOT = new URL("..", import.meta.url);
const OWN = [new URL("lib/", ROOT).href, new URL("ffi/", ROOT).href];

interface InfoModule {
  specifier: string;
  dependencies?: {
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

/** The import graph of `entries`, as `deno info --json` gives it, joined. */
async function importGraph(entries: string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const entry of entries) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT.pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: InfoModule[];
    };
    for (const module of info.modules) {
      const edges = new Set(graph.get(module.specifier) ?? []);
      for (const dep of module.dependencies ?? []) {
        for (const to of [dep.code?.specifier, dep.type?.specifier]) {
          if (to !== undefined) edges.add(to);
        }
      }
      graph.set(module.specifier, [...edges]);
    }
  }
  return graph;
}

/** Every cycle found by a depth-first search over `graph` restricted to `keep`, each as a path. */
function cycles(
  graph: Map<string, string[]>,
  keep: (specifier: string) => boolean,
): string[][] {
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!keep(next)) continue;
      if (state.get(next) === "open") {
        found.push([...stack.slice(stack.indexOf(next)), next]);
      } else if (state.get(next) === undefined) {
        visit(next);
      }
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) {
    if (keep(node) && state.get(node) === undefined) visit(node);
  }
  return found;
}

Deno.test("no import cycles in lib/ and ffi/", async () => {
  const entries = ["mod.ts", "cli.ts"];
  for (const dir of Deno.readDirSync(new URL("lib/", ROOT))) {
    const barrel = `lib/${dir.name}/mod.ts`;
    try {
      Deno.statSync(new URL(barrel, ROOT));
      entries.push(barrel);
    } catch { /* no barrel */ }
  }
  const graph = await importGraph(entries);
  const own = (specifier: string): boolean =>
    OWN.some((prefix) => specifier.startsWith(prefix));
  const relative = (specifier: string): string =>
    specifier.slice(ROOT.href.length);
  const found = cycles(graph, own).map((cycle) =>
    cycle.map(relative).join(" -> ")
  );
  assertEquals(found, []);
});
