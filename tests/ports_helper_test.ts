/**
 * Port publishing by the rootless helpers: slirp4netns's API socket (a fake
 * server, then the real binary) and pasta's `-t`/`-u` arguments (checked,
 * then used with the real binary). Only 127.0.0.1 and namespaces made here.
 */
import { assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { nsTest, succeeds, withNamespaces } from "./_helpers.ts";
import { InvalidArgumentError, NsnetError } from "../lib/errors.ts";
import {
  pastaPortArgs,
  slirp4netnsAddHostFwd,
  slirp4netnsListHostFwd,
  slirp4netnsRemoveHostFwd,
} from "../lib/ports/helper_forwarding.ts";
import { probeHostPorts } from "../lib/ports/probe.ts";
import { parsePortSpecs, type PortMapping } from "../lib/ports/spec.ts";
import { ask, tagServer } from "./_fixtures/tcp.ts";
import {
  spawnPasta,
  startSlirp4netns,
  stop,
  waitFor,
} from "./_fixtures/helper_processes.ts";

const HAVE_SLIRP = succeeds("slirp4netns", "--version");
const HAVE_PASTA = succeeds("pasta", "--version");

/** A one-shot fake slirp4netns API server: records the request, sends `reply`. */
async function withFakeApi(
  reply: string,
  fn: (path: string) => Promise<void>,
): Promise<string> {
  const dir = Deno.makeTempDirSync({ prefix: "nsnet-ports-" });
  const path = `${dir}/api.sock`;
  const listener = Deno.listen({ transport: "unix", path });
  let request = "";
  const served = (async () => {
    const conn = await listener.accept();
    try {
      const buffer = new Uint8Array(4096);
      // Reads to EOF: the client must shut down its write side first.
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        request += new TextDecoder().decode(buffer.subarray(0, n));
      }
      await conn.write(new TextEncoder().encode(reply));
    } finally {
      conn.close();
    }
  })();
  try {
    await fn(path);
    await served;
  } finally {
    listener.close();
    Deno.removeSync(dir, { recursive: true });
  }
  return request;
}

const MAPPING: PortMapping = {
  protocol: "tcp",
  hostIp: "127.0.0.1",
  hostPort: 8080,
  sandboxPort: 80,
};

nsTest(
  "slirp4netnsAddHostFwd sends add_hostfwd and returns the id",
  async () => {
    let id = 0;
    const request = await withFakeApi('{"return":{"id":7}}', async (path) => {
      id = await slirp4netnsAddHostFwd(path, MAPPING);
    });
    assertEquals(id, 7);
    assertEquals(JSON.parse(request), {
      execute: "add_hostfwd",
      arguments: {
        proto: "tcp",
        host_addr: "127.0.0.1",
        host_port: 8080,
        guest_port: 80,
      },
    });
    const udp = await withFakeApi('{"return":{"id":8}}', async (path) => {
      await slirp4netnsAddHostFwd(
        path,
        { protocol: "udp", hostIp: undefined, hostPort: 53, sandboxPort: 5353 },
        { guestAddr: "10.0.2.100" },
      );
    });
    assertEquals(JSON.parse(udp).arguments, {
      proto: "udp",
      host_addr: "0.0.0.0",
      host_port: 53,
      guest_port: 5353,
      guest_addr: "10.0.2.100",
    });
  },
);

nsTest(
  "slirp4netnsAddHostFwd turns an error answer into an error naming the port",
  async () => {
    await withFakeApi(
      '{"error":{"desc":"bad request: add_hostfwd: slirp_add_hostfwd failed"}}',
      async (path) => {
        await assertRejects(
          () => slirp4netnsAddHostFwd(path, MAPPING),
          NsnetError,
          "cannot publish 127.0.0.1:8080->80/tcp through slirp4netns: slirp4netns add_hostfwd failed: bad request",
        );
      },
    );
    await withFakeApi("not json", async (path) => {
      await assertRejects(
        () => slirp4netnsAddHostFwd(path, MAPPING),
        NsnetError,
        "unreadable answer",
      );
    });
    await assertRejects(
      () => slirp4netnsAddHostFwd("/nonexistent/api.sock", MAPPING),
      NsnetError,
      "cannot reach slirp4netns's API socket /nonexistent/api.sock",
    );
    await assertRejects(
      () => slirp4netnsAddHostFwd("/x", { ...MAPPING, hostPort: 0 }),
      InvalidArgumentError,
      "no host port chosen",
    );
  },
);

nsTest("pastaPortArgs writes -t/-u specs, joining consecutive ports", () => {
  assertEquals(
    pastaPortArgs(parsePortSpecs(["127.0.0.1:8080-8082:80-82", "9000:90"])),
    ["-t", "127.0.0.1/8080-8082:80-82", "-t", "9000:90", "-u", "none"],
  );
  assertEquals(
    pastaPortArgs(parsePortSpecs(["[::1]:5353:53/udp", "5354:54/udp"])),
    ["-t", "none", "-u", "::1/5353:53", "-u", "5354:54"],
  );
  assertEquals(
    pastaPortArgs(parsePortSpecs(["53:53/tcp,udp", "8080:80", "8081:82"])),
    ["-t", "53:53", "-t", "8080:80", "-t", "8081:82", "-u", "53:53"],
  );
  assertEquals(pastaPortArgs([]), ["-t", "none", "-u", "none"]);
  assertThrows(
    () => pastaPortArgs(parsePortSpecs(["80"])),
    InvalidArgumentError,
    "no host port chosen",
  );
});

nsTest(
  "slirp4netns publishes a port on the host's loopback via add_hostfwd",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      const dir = Deno.makeTempDirSync({ prefix: "nsnet-ports-" });
      const api = `${dir}/api.sock`;
      const slirp = await startSlirp4netns(ns!.path, api);
      let server: { port: number; close: () => Promise<void> } | undefined;
      try {
        server = tagServer(ns!, "slirp");
        const [mapping] = probeHostPorts([
          {
            protocol: "tcp",
            hostIp: "127.0.0.1",
            hostPort: 0,
            sandboxPort: server.port,
          },
        ]);
        const id = await slirp4netnsAddHostFwd(api, mapping!);
        assertEquals(await ask(mapping!.hostPort, "hi"), "slirp:hi");
        assertEquals(await slirp4netnsListHostFwd(api), [{
          id,
          protocol: "tcp",
          hostAddr: "127.0.0.1",
          hostPort: mapping!.hostPort,
          guestAddr: "10.0.2.100",
          guestPort: server.port,
        }]);
        // slirp4netns cannot bind the same port twice.
        await assertRejects(
          () => slirp4netnsAddHostFwd(api, mapping!),
          NsnetError,
          `cannot publish 127.0.0.1:${mapping!.hostPort}->${server.port}/tcp`,
        );
        await slirp4netnsRemoveHostFwd(api, id);
        assertEquals(await slirp4netnsListHostFwd(api), []);
      } finally {
        await server?.close();
        await stop(slirp);
        Deno.removeSync(dir, { recursive: true });
      }
    });
  },
  { ignore: !HAVE_SLIRP },
);

nsTest(
  "pasta publishes a port on the host's loopback from pastaPortArgs",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      const server = tagServer(ns!, "pasta");
      const mappings = probeHostPorts([
        {
          protocol: "tcp",
          hostIp: "127.0.0.1",
          hostPort: 0,
          sandboxPort: server.port,
        },
      ]);
      const pasta = spawnPasta(ns!.path, mappings);
      try {
        const port = mappings[0]!.hostPort;
        await waitFor(() =>
          Deno.connect({ hostname: "127.0.0.1", port }).then(
            (conn) => (conn.close(), true),
            () => false,
          )
        );
        assertEquals(await ask(port, "hi"), "pasta:hi");
      } finally {
        await stop(pasta);
        await server.close();
      }
    });
  },
  { ignore: !HAVE_PASTA },
);
