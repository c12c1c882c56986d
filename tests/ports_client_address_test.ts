/**
 * Published ports keep the client's address (issue 15): a client in a
 * namespace of the test's own, on a veth to the host (10.128.0.2), reaches a
 * sandbox's published TCP and UDP ports on the host's address 10.128.0.1,
 * and the server inside reports 10.128.0.2 as its peer. Root through DNAT;
 * rootless (a bridge sandbox in the shared rootless namespace) through the
 * forwarder, which connects from the client's own address. Two UDP clients
 * each get their own answers. Everything runs from the bundled CLI, without
 * --unstable-net.
 */
import { assertEquals } from "./_assert.ts";
import { nsnet, nsTest, run, succeeds, uniqueName } from "./_helpers.ts";
import {
  cleanupRootless,
  nsnetAsUser,
  rootlessEnv,
  spawnNsnetAsUser,
} from "./_rootless.ts";
import { freePort } from "./_fixtures/tcp.ts";

/** Inside the sandbox: TCP on 8000 answers the peer's address, UDP on 8001 echoes with it. */
const SERVER = `
import socket, threading, signal
signal.alarm(60)
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", 8000)); t.listen()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 8001))
def udp():
    while True:
        d, a = u.recvfrom(2000)
        u.sendto(b"udp:" + d + b" from " + a[0].encode(), a)
threading.Thread(target=udp, daemon=True).start()
while True:
    c, a = t.accept()
    c.sendall(("tcp from " + a[0]).encode()); c.close()
`;

/** In the client's namespace: one TCP answer, then two UDP clients interleaved. */
const CLIENT = `
import socket, sys, json
h, p = sys.argv[1], int(sys.argv[2])
out = []
s = socket.create_connection((h, p), timeout=2); out.append(s.recv(100).decode()); s.close()
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.settimeout(2)
b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); b.settimeout(2)
a.sendto(b"a", (h, p)); b.sendto(b"b", (h, p))
out.append(b.recv(100).decode()); out.append(a.recv(100).decode())
print(json.dumps(out))
`;

const HOST = "10.128.0.1";
const CLIENT_ADDRESS = "10.128.0.2";

/** A client namespace on a veth to the host; removes it after `fn`. */
async function withClient(
  fn: (ask: (port: number) => Promise<string[]>) => Promise<void>,
): Promise<void> {
  const ns = uniqueName("client");
  const hostEnd = `nc${Deno.pid % 100000}`;
  run("ip", "netns", "add", ns);
  try {
    run(
      "ip",
      "link",
      "add",
      hostEnd,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      ns,
    );
    run("ip", "addr", "add", `${HOST}/24`, "dev", hostEnd);
    run("ip", "link", "set", hostEnd, "up");
    run("ip", "-n", ns, "addr", "add", `${CLIENT_ADDRESS}/24`, "dev", "eth0");
    run("ip", "-n", ns, "link", "set", "eth0", "up");
    run("ip", "-n", ns, "link", "set", "lo", "up");
    run("ip", "-n", ns, "route", "add", "default", "via", HOST);
    const ask = async (port: number): Promise<string[]> => {
      // The server inside may still be starting: try for a while.
      let last = "";
      for (let i = 0; i < 30; i++) {
        const out = await new Deno.Command("ip", {
          args: [
            "netns",
            "exec",
            ns,
            "python3",
            "-c",
            CLIENT,
            HOST,
            String(port),
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        if (out.success) {
          return JSON.parse(new TextDecoder().decode(out.stdout));
        }
        last = new TextDecoder().decode(out.stderr);
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`the client got no answer: ${last}`);
    };
    await fn(ask);
  } finally {
    succeeds("ip", "link", "del", hostEnd);
    succeeds("ip", "netns", "del", ns);
  }
}

const EXPECTED = [
  `tcp from ${CLIENT_ADDRESS}`,
  `udp:b from ${CLIENT_ADDRESS}`,
  `udp:a from ${CLIENT_ADDRESS}`,
];

nsTest(
  "root: a published TCP and UDP port sees the client's own address (DNAT)",
  async () => {
    const name = uniqueName("keep");
    const port = freePort();
    const create = await nsnet(
      "sandbox",
      "create",
      name,
      "-p",
      `${port}:8000`,
      "-p",
      `${port}:8001/udp`,
    );
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
      await withClient(async (ask) => {
        assertEquals(await ask(port), EXPECTED);
      });
    } finally {
      server.kill("SIGTERM");
      await server.status;
      assertEquals((await nsnet("sandbox", "rm", name)).code, 0);
    }
  },
);

nsTest(
  "rootless bridge: a published TCP and UDP port sees the client's own address, from the bundle",
  async () => {
    await cleanupRootless();
    const env = rootlessEnv();
    const port = freePort();
    try {
      const create = await nsnetAsUser([
        "sandbox",
        "create",
        "keep",
        "-p",
        `0.0.0.0:${port}:8000`,
        "-p",
        `0.0.0.0:${port}:8001/udp`,
      ]);
      assertEquals(create.code, 0, create.stderr);
      const server = spawnNsnetAsUser([
        "sandbox",
        "exec",
        "keep",
        "--",
        "python3",
        "-c",
        SERVER,
      ]);
      try {
        await withClient(async (ask) => {
          assertEquals(await ask(port), EXPECTED);
        });
      } finally {
        server.kill("SIGTERM");
        await server.status;
        assertEquals((await nsnetAsUser(["sandbox", "rm", "keep"])).code, 0);
        await server.stderr.cancel().catch(() => {});
      }
      void env;
    } finally {
      await cleanupRootless();
    }
  },
);
