import { assertEquals, assertStringIncludes } from "./_assert.ts";
import { nsnet, nsTest, readReply } from "./_helpers.ts";
import { findInPath } from "../lib/rootless/helper_options.ts";
import { serveInSandbox } from "./_fixtures/sandbox_server.ts";
import { freePort } from "./_fixtures/tcp.ts";

for (
  const helper of ["slirp4netns", "pasta"].filter((h) =>
    findInPath(h) !== undefined
  )
) {
  nsTest(
    `a port published with ${helper}'s own forwarding answers on the host's loopback`,
    async () => {
      const port = freePort();
      const name = `ports-${helper}`;
      const create = await nsnet(
        "sandbox",
        "create",
        name,
        "--network",
        helper,
        "-p",
        `127.0.0.1:${port}:8080`,
      );
      assertEquals(create.code, 0, create.stderr);
      try {
        const server = await serveInSandbox(name, `hello from ${name}`);
        // The helper may need a moment to connect into the sandbox's listener.
        let answer = "";
        for (let i = 0; i < 20 && answer === ""; i++) {
          answer = await readReply(port);
          if (answer === "") await new Promise((r) => setTimeout(r, 50));
        }
        assertEquals(answer, `hello from ${name}`);
        await server.stdout.cancel();
        await server.status;
      } finally {
        assertEquals((await nsnet("sandbox", "rm", name)).code, 0);
      }
      // Gone with the sandbox: the host port is free again.
      const again = Deno.listen({ hostname: "127.0.0.1", port });
      again.close();
    },
  );
}

nsTest(
  "a host port already in use is a clear error before anything is created",
  async () => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = (taken.addr as Deno.NetAddr).port;
      const out = await nsnet(
        "sandbox",
        "create",
        "clash",
        "--network",
        "slirp4netns",
        "-p",
        `127.0.0.1:${port}:80`,
      );
      assertEquals(out.code, 1);
      assertStringIncludes(
        out.stderr,
        `host port ${port}/tcp on 127.0.0.1 is already in use`,
      );
      assertEquals(
        (await nsnet("sandbox", "ls", "--json")).stdout.trim(),
        "[]",
      );
      const bad = await nsnet(
        "sandbox",
        "create",
        "clash",
        "--network",
        "none",
        "-p",
        "8080:80",
      );
      assertEquals(bad.code, 1);
      assertStringIncludes(
        bad.stderr,
        "port mappings need a network of the sandbox's own",
      );
      const malformed = await nsnet(
        "sandbox",
        "create",
        "clash",
        "--network",
        "slirp4netns",
        "-p",
        "80:80:80:80",
      );
      assertEquals(malformed.code, 1);
    } finally {
      taken.close();
    }
  },
);
