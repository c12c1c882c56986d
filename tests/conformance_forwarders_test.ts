/**
 * Every port forwarder passes the same conformance cases
 * (`_fixtures/forwarder_conformance.ts`): as root, nftables DNAT, the
 * userspace forwarder, slirp4netns add_hostfwd and pasta -t driven through
 * the library in namespaces made for the test; rootless, the same
 * forwarders as the test user's sandboxes use them (`nsnet sandbox create
 * -p` on the bridge, slirp4netns and pasta). Each leaves no table, link,
 * helper or namespace behind.
 */
import { killOrphans, run, succeeds } from "./_helpers.ts";
import {
  forwarderConformance,
  type ForwarderUnderTest,
  type Prepared,
  type Published,
  SANDBOX_PORT,
} from "./_fixtures/forwarder_conformance.ts";
import { tagServer, type TestServer } from "./_fixtures/tcp.ts";
import { loopbackUp, unwire, wire } from "./_fixtures/veth.ts";
import {
  cleanupRootless,
  nsnetAsUser,
  rootlessEnv,
  spawnNsnetAsUser,
} from "./_rootless.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { newNS } from "../lib/netns/create.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import {
  publishPortsDnat,
  unpublishPortsDnat,
} from "../lib/ports/nftables_dnat.ts";
import { startForwarder } from "../lib/ports/forwarder.ts";
import {
  slirp4netnsAddHostFwd,
  slirp4netnsRemoveHostFwd,
} from "../lib/ports/helper_forwarding.ts";
import { probeHostPorts } from "../lib/ports/probe.ts";
import {
  spawnPasta,
  startSlirp4netns,
  stop,
} from "./_fixtures/helper_processes.ts";

const HAVE_NFT = succeeds("nft", "--version");
const HAVE_SLIRP = succeeds("slirp4netns", "--version");
const HAVE_PASTA = succeeds("pasta", "--version");

/**
 * A forwarder driven through the library into a fresh namespace:
 * `setup` wires it and says where the server listens.
 */
function inProcess(
  name: string,
  available: boolean,
  setup: (ns: NetNS) => Promise<{
    serverHost: string;
    publish(mapping: Parameters<Prepared["publish"]>[0]): Promise<Published>;
    cleanup(): Promise<void>;
  }>,
): ForwarderUnderTest {
  return {
    name,
    available,
    typedErrors: true,
    async prepare(): Promise<Prepared> {
      const ns = newNS();
      let wired;
      try {
        wired = await setup(ns);
      } catch (error) {
        unmountNS(ns);
        throw error;
      }
      return {
        publish: (mapping) => wired.publish(mapping),
        serve: (tag: string): Promise<TestServer> =>
          Promise.resolve(
            tagServer(ns, tag, wired.serverHost, SANDBOX_PORT),
          ),
        async cleanup(): Promise<void> {
          try {
            await wired.cleanup();
          } finally {
            unmountNS(ns);
          }
        },
      };
    },
  };
}

let wires = 0;

const dnat = inProcess("nftables DNAT (root)", HAVE_NFT, (ns) => {
  const net = wire(ns, 100 + ++wires);
  const table = `nsnet_conf_t${Deno.pid}_${wires}`;
  return Promise.resolve({
    serverHost: net.sandbox,
    async publish(mapping): Promise<Published> {
      // As a root bridge sandbox: the host port is probed, then published.
      const mappings = probeHostPorts([mapping]);
      await publishPortsDnat("conformance", net.sandbox, mappings, { table });
      return { close: () => unpublishPortsDnat("conformance", { table }) };
    },
    cleanup(): Promise<void> {
      if (succeeds("nft", "list", "table", "ip", table)) {
        run("nft", "delete", "table", "ip", table);
      }
      unwire(net.iface);
      return Promise.resolve();
    },
  });
});

const userspace = inProcess("userspace forwarder (root)", true, (ns) => {
  loopbackUp(ns);
  return Promise.resolve({
    serverHost: "127.0.0.1",
    async publish(mapping): Promise<Published> {
      const forwarder = await startForwarder({
        ns,
        sandboxAddress: "127.0.0.1",
        mappings: [mapping],
      });
      return { close: () => forwarder.close() };
    },
    cleanup: () => Promise.resolve(),
  });
});

const slirp4netns = inProcess(
  "slirp4netns add_hostfwd (root)",
  HAVE_SLIRP,
  async (ns) => {
    const dir = Deno.makeTempDirSync({ prefix: "nsnet-conformance-" });
    const api = `${dir}/api.sock`;
    const helper = await startSlirp4netns(ns.path, api).catch((error) => {
      Deno.removeSync(dir, { recursive: true });
      throw error;
    });
    const cleanup = async (): Promise<void> => {
      await stop(helper);
      Deno.removeSync(dir, { recursive: true });
    };
    return {
      serverHost: "0.0.0.0",
      async publish(mapping): Promise<Published> {
        const id = await slirp4netnsAddHostFwd(api, mapping);
        return { close: () => slirp4netnsRemoveHostFwd(api, id) };
      },
      cleanup,
    };
  },
);

const pasta = inProcess("pasta -t (root)", HAVE_PASTA, (ns) =>
  Promise.resolve({
    serverHost: "0.0.0.0",
    publish(mapping): Promise<Published> {
      // As a pasta sandbox: the host port is probed before pasta starts.
      const mappings = probeHostPorts([mapping]);
      const helper = spawnPasta(ns.path, mappings);
      return Promise.resolve({ close: () => stop(helper) });
    },
    cleanup: () => Promise.resolve(),
  }));

let sandboxes = 0;

/**
 * A forwarder as the test user's sandboxes use it: `nsnet sandbox create -p`
 * on `network` (the rootless bridge publishes through the userspace
 * forwarder, slirp4netns through add_hostfwd, pasta through -t).
 */
function rootless(
  name: string,
  available: boolean,
  network: string,
): ForwarderUnderTest {
  return {
    name,
    available: available && Deno.uid() === 0,
    typedErrors: false,
    async prepare(): Promise<Prepared> {
      await cleanupRootless();
      const user = rootlessEnv();
      const sandbox = `nsntc-fwd-${Deno.pid % 10000}-${++sandboxes}`;
      return {
        async publish(mapping): Promise<Published> {
          const made = await nsnetAsUser([
            "sandbox",
            "create",
            sandbox,
            "--network",
            network,
            "-p",
            `${mapping.hostIp}:${mapping.hostPort}:${mapping.sandboxPort}`,
          ]);
          if (made.code !== 0) throw new Error(made.stderr.trim());
          return {
            async close(): Promise<void> {
              const rm = await nsnetAsUser(["sandbox", "rm", sandbox]);
              if (rm.code !== 0) throw new Error(rm.stderr.trim());
            },
          };
        },
        serve(tag: string): Promise<TestServer> {
          const command = [
            user.deno,
            "eval",
            `Deno.unrefTimer(setTimeout(() => Deno.exit(1), 30000));
             for await (const c of Deno.listen({ hostname: "0.0.0.0", port: ${SANDBOX_PORT} })) {
               const buf = new Uint8Array(1024); const n = await c.read(buf);
               await c.write(new TextEncoder().encode(${
              JSON.stringify(`${tag}:`)
            } + new TextDecoder().decode(buf.subarray(0, n ?? 0))));
               c.close();
             }`,
          ];
          const child = spawnNsnetAsUser([
            "sandbox",
            "exec",
            sandbox,
            "--",
            ...command,
          ]);
          return Promise.resolve({
            port: SANDBOX_PORT,
            async close(): Promise<void> {
              // The server runs until killed: nsnet passes SIGTERM on; if
              // not, the server (the user's process) goes by its command line.
              try {
                child.kill("SIGTERM");
              } catch { /* exited */ }
              const timer = setTimeout(() => {
                try {
                  child.kill("SIGKILL");
                } catch { /* exited */ }
                killOrphans(user.uid, command, { anyParent: true });
              }, 2000);
              try {
                await child.output();
              } finally {
                clearTimeout(timer);
              }
            },
          });
        },
        async cleanup(): Promise<void> {
          await nsnetAsUser(["sandbox", "rm", "--force", sandbox]);
          await cleanupRootless();
        },
      };
    },
  };
}

for (
  const forwarder of [
    dnat,
    userspace,
    slirp4netns,
    pasta,
    rootless("userspace forwarder (rootless bridge)", true, "bridge"),
    rootless("slirp4netns add_hostfwd (rootless)", HAVE_SLIRP, "slirp4netns"),
    rootless("pasta -t (rootless)", HAVE_PASTA, "pasta"),
  ]
) {
  forwarderConformance(forwarder);
}
