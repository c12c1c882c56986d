/**
 * IPv6 published ports (issue 15): `-p '[::1]:PORT:8000'` and
 * `-p '[::]:PORT:8000'`, TCP and UDP, root and rootless, answered from the
 * host's IPv6 loopback. The kernel cannot DNAT from ::1, so as root these
 * go through the userspace forwarder (a `nsnet sandbox forward` process
 * for a detached sandbox) while IPv4 ports stay DNAT'ed.
 */
import { assertEquals } from "./_assert.ts";
import { nsnet, nsTest, uniqueName } from "./_helpers.ts";
import { cleanupRootless, nsnetAsUser, spawnNsnetAsUser } from "./_rootless.ts";
import { freePort } from "./_fixtures/tcp.ts";
import { udpAsk } from "./_fixtures/udp.ts";

const SERVER = `
import socket, threading, signal
signal.alarm(60)
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", 8000)); t.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 8001))
def udp():
    while True:
        d, a = u.recvfrom(2000)
        u.sendto(b"udp:" + d, a)
threading.Thread(target=udp, daemon=True).start()
while True:
    c, a = t.accept()
    c.sendall(b"tcp over v6"); c.close()
`;

async function tcpAnswer(hostname: string, port: number): Promise<string> {
  for (let i = 0; i < 50; i++) {
    try {
      const conn = await Deno.connect({ hostname, port });
      const buffer = new Uint8Array(100);
      const n = await conn.read(buffer);
      conn.close();
      if (n !== null) return new TextDecoder().decode(buffer.subarray(0, n));
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return "";
}

function specs(loop: number, any: number): string[] {
  return [
    "-p",
    `[::1]:${loop}:8000`,
    "-p",
    `[::1]:${loop}:8001/udp`,
    "-p",
    `[::]:${any}:8000`,
  ];
}

async function check(loop: number, any: number): Promise<void> {
  assertEquals(await tcpAnswer("::1", loop), "tcp over v6");
  assertEquals(await udpAsk("::1", loop, ["x", "y"]), ["udp:x", "udp:y"]);
  assertEquals(await tcpAnswer("::1", any), "tcp over v6");
}

nsTest("root: [::1] and [::] published ports answer", async () => {
  const name = uniqueName("v6");
  const [loop, any] = [freePort(), freePort()];
  const create = await nsnet("sandbox", "create", name, ...specs(loop, any));
  assertEquals(create.code, 0, create.stderr);
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      new URL("../cli.ts", import.meta.url).pathname,
      "sandbox",
      "exec",
      name,
      "--",
      "python3",
      "-c",
      SERVER,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await check(loop, any);
  } finally {
    server.kill("SIGTERM");
    await server.status;
    assertEquals((await nsnet("sandbox", "rm", name)).code, 0);
  }
  // The forwarder process went with the sandbox: the ports are free.
  Deno.listen({ hostname: "::1", port: loop }).close();
});

nsTest("rootless: [::1] and [::] published ports answer", async () => {
  await cleanupRootless();
  const [loop, any] = [freePort(), freePort()];
  try {
    const create = await nsnetAsUser([
      "sandbox",
      "create",
      "v6",
      ...specs(loop, any),
    ]);
    assertEquals(create.code, 0, create.stderr);
    const server = spawnNsnetAsUser([
      "sandbox",
      "exec",
      "v6",
      "--",
      "python3",
      "-c",
      SERVER,
    ]);
    try {
      await check(loop, any);
    } finally {
      server.kill("SIGTERM");
      await server.status;
      await server.stderr.cancel().catch(() => {});
      assertEquals((await nsnetAsUser(["sandbox", "rm", "v6"])).code, 0);
    }
  } finally {
    await cleanupRootless();
  }
});
