import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { posix } from "node:path";
import { nsTest } from "./_helpers.ts";
import {
  MAX_RESOLV_CONF_LINKS,
  ResolvConfError,
  type ResolvConfErrorReason,
  resolveResolvConfPath,
  traceResolvConfPath,
} from "../lib/resolv_conf/mod.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { build, type Tree } from "./_fixtures/dirs.ts";

async function withTree(tree: Tree, fn: (root: string) => void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nsnet-resolv-path-" });
  try {
    const root = posix.join(dir, "root");
    Deno.mkdirSync(root);
    // Beside the root, where a walk that escaped it would land.
    build(dir, { "outside/resolv.conf": "nameserver 6.6.6.6\n" });
    build(root, tree);
    fn(root);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface Shape {
  name: string;
  tree: Tree;
  /** The expected path, or the error reason. */
  expect: string | { error: ResolvConfErrorReason };
  links?: number;
  stopUnderRun?: boolean;
}

const STUB = "/run/systemd/resolve/stub-resolv.conf";

const SHAPES: Shape[] = [
  {
    name: "a file that is no link at all",
    tree: { "etc/resolv.conf": "nameserver 1.1.1.1\n" },
    expect: "/etc/resolv.conf",
    links: 0,
  },
  {
    name: "a direct link into /run/systemd/resolve/stub-resolv.conf (#10855)",
    tree: {
      "etc/resolv.conf": `-> ${STUB}`,
      [STUB]: "nameserver 127.0.0.53\n",
    },
    expect: STUB,
    links: 1,
  },
  {
    name:
      "a chain stub-resolv.conf → resolv.conf stops at the first under /run (#11222)",
    tree: {
      "etc/resolv.conf": `-> ${STUB}`,
      [STUB]: "-> resolv.conf",
      "run/systemd/resolve/resolv.conf": "nameserver 192.168.1.1\n",
    },
    expect: STUB,
    links: 1,
  },
  {
    name: "the same chain followed to the end when asked",
    tree: {
      "etc/resolv.conf": `-> ${STUB}`,
      [STUB]: "-> resolv.conf",
      "run/systemd/resolve/resolv.conf": "nameserver 192.168.1.1\n",
    },
    stopUnderRun: false,
    expect: "/run/systemd/resolve/resolv.conf",
    links: 2,
  },
  {
    name: "an absolute target outside /run (#11358)",
    tree: {
      "etc/resolv.conf": "-> /var/lib/resolv/resolv.conf",
      "var/lib/resolv/resolv.conf": "nameserver 1.1.1.1\n",
    },
    expect: "/var/lib/resolv/resolv.conf",
    links: 1,
  },
  {
    name: "a relative target in the same directory tree",
    tree: {
      "etc/resolv.conf": "-> resolvconf/run/resolv.conf",
      "etc/resolvconf/run/resolv.conf": "nameserver 1.1.1.1\n",
    },
    expect: "/etc/resolvconf/run/resolv.conf",
    links: 1,
  },
  {
    name: "a relative ../run/… target",
    tree: {
      "etc/resolv.conf": `-> ..${STUB}`,
      [STUB]: "nameserver 127.0.0.53\n",
    },
    expect: STUB,
    links: 1,
  },
  {
    name: "a symlinked directory in the middle: /etc → elsewhere",
    tree: {
      "etc": "-> /private/etc",
      "private/etc/resolv.conf": "nameserver 1.1.1.1\n",
    },
    expect: "/private/etc/resolv.conf",
    links: 1,
  },
  {
    name:
      "a symlinked directory leading under /run: Debian resolvconf (#12461)",
    tree: {
      "etc/resolv.conf": "-> /etc/resolvconf/run/resolv.conf",
      "etc/resolvconf/run": "-> /run/resolvconf",
      "run/resolvconf/resolv.conf": "nameserver 1.1.1.1\n",
    },
    expect: "/run/resolvconf/resolv.conf",
    links: 2,
  },
  {
    name: "through /var/run → /run",
    tree: {
      "etc/resolv.conf": "-> /var/run/NetworkManager/resolv.conf",
      "var/run": "-> ../run",
      "run/NetworkManager/resolv.conf": "nameserver 1.1.1.1\n",
    },
    expect: "/run/NetworkManager/resolv.conf",
    links: 2,
  },
  {
    name: "a NixOS-style multi-layer chain outside /run that lands under /run",
    tree: {
      "etc/resolv.conf": "-> /etc/static/resolv.conf",
      "etc/static": "-> /nix/store/aaaa-etc/etc",
      "nix/store/aaaa-etc/etc/resolv.conf":
        "-> /nix/store/bbbb-resolvconf/resolv.conf",
      "nix/store/bbbb-resolvconf": "-> cccc-resolvconf",
      "nix/store/cccc-resolvconf/resolv.conf":
        "-> ../../../run/systemd/resolve/stub-resolv.conf",
      [STUB]: "-> resolv.conf",
    },
    expect: STUB,
    links: 5,
  },
  {
    name: "a dangling link into /run: /run is fresh in the namespace anyway",
    tree: { "etc/resolv.conf": `-> ${STUB}` },
    expect: STUB,
    links: 1,
  },
  {
    name: "a dangling link outside /run",
    tree: { "etc/resolv.conf": "-> /nowhere/resolv.conf" },
    expect: { error: "not-found" },
  },
  {
    name: "no /etc/resolv.conf at all",
    tree: { "etc/": null },
    expect: { error: "not-found" },
  },
  {
    name: "a loop of two links",
    tree: {
      "etc/resolv.conf": "-> /etc/other.conf",
      "etc/other.conf": "-> resolv.conf",
    },
    expect: { error: "loop" },
  },
  {
    name: "a link to itself",
    tree: { "etc/resolv.conf": "-> resolv.conf" },
    expect: { error: "loop" },
  },
  {
    name: "a directory loop: /etc → /etc",
    tree: { "etc": "-> /etc" },
    expect: { error: "loop" },
  },
  {
    name: "a growing chain that never repeats gives up after 255 links",
    tree: { "etc/resolv.conf": "-> d/resolv.conf", "etc/d": "-> d/e" },
    expect: { error: "too-many-links" },
  },
  {
    name: "a file where a directory is needed",
    tree: {
      "etc/resolv.conf": "-> /etc/hosts/resolv.conf",
      "etc/hosts": "127.0.0.1 localhost\n",
    },
    expect: { error: "not-a-directory" },
  },
  {
    name: "a directory at the end",
    tree: { "etc/resolv.conf/": null },
    expect: { error: "is-a-directory" },
  },
  {
    name: "/run/.. is not under /run",
    tree: {
      "etc/resolv.conf": "-> /run/../etc/real.conf",
      "etc/real.conf": "",
      "run/": null,
    },
    expect: "/etc/real.conf",
    links: 1,
  },
  {
    name:
      ".. after a symlinked directory climbs from the real directory, as the kernel does",
    tree: {
      "etc/resolv.conf": "-> /a/b/../resolv.conf",
      "a/b": "-> /x/y",
      "x/y/": null,
      "x/resolv.conf": "right",
      "a/resolv.conf": "wrong",
    },
    expect: "/x/resolv.conf",
    links: 2,
  },
  {
    name: "relative .. never climbs out of the root",
    tree: {
      "etc/resolv.conf": "-> ../../../../../outside/resolv.conf",
      "outside/resolv.conf": "nameserver 1.1.1.1\n",
    },
    expect: "/outside/resolv.conf",
    links: 1,
  },
  {
    name: "relative .. out of the root with nothing there inside it",
    tree: { "etc/resolv.conf": "-> ../../../../../outside/resolv.conf" },
    expect: { error: "not-found" },
  },
];

for (const shape of SHAPES) {
  nsTest(`resolveResolvConfPath: ${shape.name}`, async () => {
    await withTree(shape.tree, (root) => {
      const options = { root, stopUnderRun: shape.stopUnderRun };
      if (typeof shape.expect === "string") {
        const trace = traceResolvConfPath(options);
        assertEquals(trace.path, shape.expect);
        assertEquals(
          trace.underRun,
          shape.expect.startsWith("/run/") && shape.stopUnderRun !== false,
        );
        if (shape.links !== undefined) {
          assertEquals(trace.links.length, shape.links);
        }
        assertEquals(resolveResolvConfPath(options), shape.expect);
      } else {
        const reason = shape.expect.error;
        const error = assertThrows(
          () => resolveResolvConfPath(options),
          ResolvConfError,
        );
        assertEquals(error.reason, reason, error.message);
        assert(error.message.includes("/etc/resolv.conf"), error.message);
        assert(error.hint !== undefined && error.hint.length > 0);
      }
    });
  });
}

nsTest(
  "resolveResolvConfPath: the trace lists each link and its target",
  async () => {
    await withTree(
      {
        "etc/resolv.conf": "-> /var/run/x/resolv.conf",
        "var/run": "-> /run",
      },
      (root) => {
        assertEquals(traceResolvConfPath({ root }), {
          path: "/run/x/resolv.conf",
          underRun: true,
          links: [
            { link: "/etc/resolv.conf", target: "/var/run/x/resolv.conf" },
            { link: "/var/run", target: "/run" },
          ],
        });
      },
    );
  },
);

nsTest(
  "resolveResolvConfPath: agrees with the kernel when it follows links to the end",
  async () => {
    // Relative links only, so that the kernel's walk stays inside the root too.
    await withTree(
      {
        "etc/resolv.conf": "-> ../nix/a/resolv.conf",
        "nix/a": "-> ../store/b",
        "store/b/resolv.conf": "-> ./c/../d/resolv.conf",
        "store/b/c": "-> ../../deep/er",
        "deep/er/": null,
        "deep/d/resolv.conf": "-> ../../final.conf",
        "final.conf": "nameserver 1.1.1.1\n",
      },
      (root) => {
        const ours = resolveResolvConfPath({ root, stopUnderRun: false });
        const kernel = Deno.realPathSync(posix.join(root, "etc/resolv.conf"));
        assertEquals(posix.join(Deno.realPathSync(root), ours), kernel);
        assertEquals(ours, "/final.conf");
      },
    );
  },
);

nsTest(
  "resolveResolvConfPath: a start path given explicitly, and the link limit",
  async () => {
    const tree: Tree = {};
    const chain = MAX_RESOLV_CONF_LINKS + 1;
    for (let i = 0; i < chain; i++) tree[`l/${i}`] = `-> ${i + 1}`;
    tree[`l/${chain}`] = "end";
    await withTree(tree, (root) => {
      assertEquals(
        resolveResolvConfPath({ root, path: "/l/1" }),
        `/l/${chain}`,
      );
      const error = assertThrows(
        () => resolveResolvConfPath({ root, path: "/l/0" }),
        ResolvConfError,
      );
      assertEquals(error.reason, "too-many-links");
      assertEquals(
        resolveResolvConfPath({ root, path: "/run/x/y" }),
        "/run/x/y",
      );
      assertThrows(
        () => resolveResolvConfPath({ root, path: "etc/resolv.conf" }),
        InvalidArgumentError,
      );
    });
  },
);
