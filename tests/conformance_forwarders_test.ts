/**
 * Every port forwarder passes the same conformance cases
 * (`_fixtures/forwarder_conformance.ts`): root nftables DNAT, the userspace
 * forwarder rootless bridge sandboxes use, slirp4netns add_hostfwd and
 * pasta -t. Each leaves no table, link, helper or namespace behind.
 */
import { run, succeeds } from "./_helpers.ts";
import {
  forwarderConformance,
  type ForwarderUnderTest,
  type Prepared,
  type Published,
} from "./_fixtures/forwarder_conformance.ts";
import { loopbackUp, unwire, wire } from "./_fixtures/veth.ts";
import {
  publishPortsDnat,
  unpublishPortsDnat,
} from "../lib/ports/nftables_dnat.ts";
import { startForwarder } from "../lib/ports/forwarder.ts";
import {
  pastaPortArgs,
  slirp4netnsAddHostFwd,
  slirp4netnsRemoveHostFwd,
} from "../lib/ports/helper_forwarding.ts";
import { probeHostPorts } from "../lib/ports/probe.ts";

async function waitFor(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 30));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* exited */ }
  await child.status;
}

let wires = 0;

const dnat: ForwarderUnderTest = {
  name: "nftables DNAT",
  available: succeeds("nft", "--version"),
  prepare(ns): Promise<Prepared> {
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
  },
};

const userspace: ForwarderUnderTest = {
  name: "userspace forwarder",
  available: true,
  prepare(ns): Promise<Prepared> {
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
  },
};

const slirp4netns: ForwarderUnderTest = {
  name: "slirp4netns add_hostfwd",
  available: succeeds("slirp4netns", "--version"),
  async prepare(ns): Promise<Prepared> {
    const dir = Deno.makeTempDirSync({ prefix: "nsnet-conformance-" });
    const api = `${dir}/api.sock`;
    const helper = new Deno.Command("slirp4netns", {
      args: [
        "-c",
        "--disable-host-loopback",
        `--api-socket=${api}`,
        "--netns-type=path",
        ns.path,
        "tap0",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitFor(
        "slirp4netns's API socket",
        () => succeeds("test", "-S", api),
      );
    } catch (error) {
      await stop(helper);
      Deno.removeSync(dir, { recursive: true });
      throw error;
    }
    return {
      serverHost: "0.0.0.0",
      async publish(mapping): Promise<Published> {
        const id = await slirp4netnsAddHostFwd(api, mapping);
        return { close: () => slirp4netnsRemoveHostFwd(api, id) };
      },
      async cleanup(): Promise<void> {
        await stop(helper);
        Deno.removeSync(dir, { recursive: true });
      },
    };
  },
};

const pasta: ForwarderUnderTest = {
  name: "pasta -t",
  available: succeeds("pasta", "--version"),
  prepare(ns): Promise<Prepared> {
    return Promise.resolve({
      serverHost: "0.0.0.0",
      publish(mapping): Promise<Published> {
        // As a pasta sandbox: the host port is probed before pasta starts.
        const mappings = probeHostPorts([mapping]);
        // As root pasta would switch to nobody and lose access to the namespace.
        const helper = new Deno.Command("pasta", {
          args: [
            "-f",
            "--runas",
            "0",
            ...pastaPortArgs(mappings),
            "-T",
            "none",
            "-U",
            "none",
            "--netns",
            ns.path,
          ],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        return Promise.resolve({ close: () => stop(helper) });
      },
      cleanup: () => Promise.resolve(),
    });
  },
};

for (const forwarder of [dnat, userspace, slirp4netns, pasta]) {
  forwarderConformance(forwarder);
}
