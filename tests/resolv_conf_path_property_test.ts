/**
 * Property test: for random trees of directories, files and links (loops
 * included), the walk terminates, stays inside the root, and agrees with a
 * simple reference walk over an in-memory model of the same tree.
 *
 * Set NSNET_PROPERTY_SEED to replay a reported failure.
 */
import { assert, assertEquals } from "./_assert.ts";
import { posix } from "node:path";
import { nsTest } from "./_helpers.ts";
import {
  MAX_RESOLV_CONF_LINKS,
  ResolvConfError,
  traceResolvConfPath,
} from "../lib/resolv_conf/mod.ts";

type Node = { kind: "dir" } | { kind: "file" } | {
  kind: "link";
  target: string;
};
type Model = Map<string, Node>;
type Outcome = { path: string; underRun: boolean } | { error: true };

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ["etc", "run", "a", "b", "resolv.conf", "outside", "root"];
const TARGET_PARTS = [...NAMES, "..", "..", ".", "resolv.conf", "run"];

function randomTree(random: () => number): Model {
  const pick = <T>(items: readonly T[]): T =>
    items[Math.floor(random() * items.length)]!;
  const model: Model = new Map([["/", { kind: "dir" }]]);
  const randomTarget = (from: string): string => {
    if (random() < 0.7) {
      // Aim at something that exists, so that chains get long and land somewhere.
      const leaves = [...model].filter(([, n]) => n.kind !== "dir").map(([p]) =>
        p
      );
      const existing = pick(
        leaves.length > 0 && random() < 0.8 ? leaves : [...model.keys()],
      );
      if (random() < 0.5) return existing;
      return posix.relative(posix.dirname(from), existing) || ".";
    }
    const parts = Array.from(
      { length: 1 + Math.floor(random() * 4) },
      () => pick(TARGET_PARTS),
    );
    const lead = random() < 0.15 ? "/run/" : random() < 0.5 ? "/" : "";
    return lead + parts.join("/");
  };
  const add = (path: string, node: Node): void => {
    const parts = path.split("/").filter((p) => p !== "");
    for (let i = 1; i < parts.length; i++) {
      const parent = "/" + parts.slice(0, i).join("/");
      const existing = model.get(parent);
      if (existing === undefined) model.set(parent, { kind: "dir" });
      else if (existing.kind !== "dir") return;
    }
    if (!model.has(path)) model.set(path, node);
  };
  const count = 3 + Math.floor(random() * 12);
  for (let i = 0; i < count; i++) {
    const depth = 1 + Math.floor(random() * 3);
    const path = "/" +
      Array.from({ length: depth }, () => pick(NAMES)).join("/");
    const roll = random();
    add(
      path,
      roll < 0.25
        ? { kind: "dir" }
        : roll < 0.55
        ? { kind: "file" }
        : { kind: "link", target: randomTarget(path) },
    );
  }
  const etc = random();
  if (etc < 0.8) {
    add("/etc/resolv.conf", {
      kind: "link",
      target: randomTarget("/etc/resolv.conf"),
    });
  } else if (etc < 0.9) {
    add("/etc", { kind: "link", target: randomTarget("/etc") });
  }
  return model;
}

function materialize(root: string, model: Model): void {
  const paths = [...model.keys()].sort((x, y) =>
    x.split("/").length - y.split("/").length
  );
  for (const path of paths) {
    const node = model.get(path)!;
    const onHost = posix.join(root, path);
    if (node.kind === "dir") Deno.mkdirSync(onHost, { recursive: true });
    else if (node.kind === "file") Deno.writeTextFileSync(onHost, path);
    else Deno.symlinkSync(node.target, onHost);
  }
}

/**
 * The reference: rescan the whole path from the root after every link, the
 * way the issue describes it, with the same rules for `..` and `/run`.
 */
function referenceWalk(model: Model, start: string): Outcome {
  let path = start;
  let links = 0;
  restart: for (;;) {
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    const dir: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (dir.length === 0 && part === "run" && i < parts.length - 1) {
        const below: string[] = [];
        let escaped = false;
        for (const p of parts.slice(i + 1)) {
          if (p !== "..") below.push(p);
          else if (below.pop() === undefined) {
            escaped = true;
            break;
          }
        }
        if (!escaped && below.length > 0) {
          return { path: "/run/" + below.join("/"), underRun: true };
        }
      }
      if (part === "..") {
        dir.pop();
        continue;
      }
      const here = "/" + [...dir, part].join("/");
      const node = model.get(here);
      if (node === undefined) return { error: true };
      if (node.kind === "link") {
        if (++links > MAX_RESOLV_CONF_LINKS) return { error: true };
        const base = node.target.startsWith("/") ? "" : "/" + dir.join("/");
        path = `${base}/${node.target}/${parts.slice(i + 1).join("/")}`;
        continue restart;
      }
      if (i === parts.length - 1) {
        return node.kind === "dir"
          ? { error: true }
          : { path: here, underRun: false };
      }
      if (node.kind !== "dir") return { error: true };
      dir.push(part);
    }
    return { error: true };
  }
}

function actualWalk(root: string): Outcome & { reason?: string } {
  try {
    const trace = traceResolvConfPath({ root });
    return { path: trace.path, underRun: trace.underRun };
  } catch (error) {
    if (error instanceof ResolvConfError) {
      return { error: true, reason: error.reason };
    }
    throw error;
  }
}

const CASES = 400;

nsTest(
  "resolveResolvConfPath: random trees of links agree with a reference walk",
  async () => {
    const seed = Number(Deno.env.get("NSNET_PROPERTY_SEED") ?? 0x5eed);
    const random = rng(seed);
    const dir = await Deno.makeTempDir({ prefix: "nsnet-resolv-prop-" });
    const started = performance.now();
    let errors = 0;
    let underRun = 0;
    let loops = 0;
    try {
      // Beside every root, so that a walk escaping its root would find something.
      Deno.mkdirSync(posix.join(dir, "outside/etc"), { recursive: true });
      Deno.writeTextFileSync(
        posix.join(dir, "outside/etc/resolv.conf"),
        "escaped",
      );
      Deno.writeTextFileSync(posix.join(dir, "resolv.conf"), "escaped");
      for (let i = 0; i < CASES; i++) {
        const model = randomTree(random);
        const root = posix.join(dir, `root${i}`);
        Deno.mkdirSync(root);
        materialize(root, model);
        const context =
          `seed ${seed} (NSNET_PROPERTY_SEED=${seed}), case ${i}, tree ${
            JSON.stringify([...model])
          }`;
        const { reason, ...actual } = actualWalk(root);
        assertEquals(actual, referenceWalk(model, "/etc/resolv.conf"), context);
        if (reason === "loop" || reason === "too-many-links") loops++;
        if ("error" in actual) errors++;
        else {
          if (actual.underRun) underRun++;
          assert(actual.path.startsWith("/"), context);
          assert(!actual.path.split("/").includes(".."), context);
          assert(actual.underRun || model.has(actual.path), context);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    // The generator must keep producing every kind of outcome to be worth anything.
    const files = CASES - errors - underRun;
    const spread =
      `${errors} errors (${loops} loops), ${underRun} under /run, ${files} files`;
    assert(errors >= CASES / 40 && loops > 0, `${spread} (seed ${seed})`);
    assert(underRun >= CASES / 40, `${spread} (seed ${seed})`);
    assert(files >= CASES / 40, `${spread} (seed ${seed})`);
    assert(
      performance.now() - started < 10_000,
      "the property test should take seconds",
    );
  },
);
