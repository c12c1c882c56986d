/**
 * Run by the sandbox handle tests as the unprivileged test user: with
 * `inside`, under `nsnet unshare -- deno run …` (nsnet's user namespace),
 * creates sandboxes the way a library user would, runs commands inside,
 * removes them, and prints what it saw as JSON; with `outside`, run directly
 * (no user namespace), reports the error `Sandbox.create` raises.
 */
import { Sandbox } from "../lib/sandbox/sandbox.ts";
import { NeedsUserNamespaceError } from "../lib/errors.ts";

const report: Record<string, unknown> = {};
if (Deno.args[0] === "outside") {
  try {
    await using sb = await Sandbox.create({ network: "none" });
    report.created = sb.name;
  } catch (error) {
    report.error = {
      name: (error as Error).name,
      isNeedsUserNamespace: error instanceof NeedsUserNamespaceError,
      message: (error as Error).message,
      hint: (error as { hint?: string }).hint,
    };
  }
  report.list = Sandbox.list().map((s) => s.name);
} else {
  const decoder = new TextDecoder();
  let path: string;
  {
    await using none = await Sandbox.create({
      name: "handle-none",
      network: "none",
    });
    path = none.path;
    const links = await none.output("ip", { args: ["-o", "link"] });
    report.none = {
      code: links.code,
      links: decoder.decode(links.stdout).split("\n").filter((l) => l)
        .map((l) => l.split(":")[1]!.trim()),
      listed: Sandbox.list().map((s) => s.name),
      opened: Sandbox.open("handle-none").path === path,
    };
  }
  report.noneGone = (() => {
    try {
      Deno.statSync(path);
      return false;
    } catch {
      return true;
    }
  })();
  {
    await using a = await Sandbox.create({ name: "handle-a" });
    await using b = await Sandbox.create({ name: "handle-b" });
    const address = a.addresses[0]!.split("/")[0]!;
    // A server in one, a client in the other: over the rootless bridge.
    const server = a.spawn(Deno.execPath(), {
      args: [
        "eval",
        `const l = Deno.listen({ port: 7000 });
         const c = await l.accept();
         await c.write(new TextEncoder().encode("hello-from-a\\n"));
         c.close(); l.close();`,
      ],
      stdout: "null",
      stderr: "null",
    });
    let answer = "";
    for (let i = 0; i < 50 && answer === ""; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const out = await b.output("bash", {
        args: ["-c", `exec 3<>/dev/tcp/${address}/7000 && cat <&3`],
      });
      answer = decoder.decode(out.stdout).trim();
    }
    await server.status;
    // listen()/connect() from this very process, sockets made inside.
    const listener = a.listen({ port: 0 });
    const [accepted, conn] = await Promise.all([
      listener.accept(),
      b.connect({ hostname: address, port: listener.addr.port }),
    ]);
    await conn.write(new TextEncoder().encode("ping"));
    await conn.closeWrite();
    const got = new Uint8Array(16);
    const n = await accepted.read(got);
    await accepted.write(new TextEncoder().encode("pong"));
    accepted.close();
    const back = new Uint8Array(16);
    const m = await conn.read(back);
    conn.close();
    listener.close();
    let refused = "";
    try {
      (await b.connect({ hostname: address, port: listener.addr.port }))
        .close();
    } catch (error) {
      refused = (error as { code?: string }).code ?? String(error);
    }
    report.sockets = {
      server: decoder.decode(got.subarray(0, n ?? 0)),
      client: decoder.decode(back.subarray(0, m ?? 0)),
      peer: accepted.remoteAddr.hostname === b.addresses[0]!.split("/")[0],
      refused,
    };
    report.bridge = {
      addresses: [a.addresses, b.addresses],
      gateway: a.gateway,
      answer,
      rx: a.stats().rxBytes > 0,
    };
  }
  {
    // Published rootless: this process forwards the host port into the sandbox.
    await using web = await Sandbox.create({
      name: "handle-web",
      ports: ["127.0.0.1:18932:7000"],
    });
    const listener = web.listen({ port: 7000 });
    const [accepted, conn] = await Promise.all([
      listener.accept(),
      Deno.connect({ hostname: "127.0.0.1", port: 18932 }),
    ]);
    await accepted.write(new TextEncoder().encode("published"));
    accepted.close();
    const buffer = new Uint8Array(16);
    const n = await conn.read(buffer);
    conn.close();
    listener.close();
    report.published = decoder.decode(buffer.subarray(0, n ?? 0));
  }
  report.listAfter = Sandbox.list().map((s) => s.name);
}
console.log(JSON.stringify(report));
