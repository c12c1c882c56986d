/**
 * UDP for the port tests without `--unstable-net`: an echo server (python3)
 * started inside a namespace, which answers `udp:TEXT from PEER` so a test
 * sees both that each answer reached its own client and the peer address
 * the server saw, and clients made with `node:dgram` on the host.
 */
import * as dgram from "node:dgram";

/** A UDP echo server running inside a namespace. */
export interface UdpEcho {
  /** Its port. */
  port: number;
  /** Stops it. */
  close(): Promise<void>;
}

const ECHO = `
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
u = socket.socket(family, socket.SOCK_DGRAM)
u.bind((sys.argv[1], int(sys.argv[2])))
print(u.getsockname()[1], flush=True)
while True:
    d, a = u.recvfrom(65536)
    u.sendto(b"udp:" + d + b" from " + a[0].encode(), a)
`;

/**
 * Starts the echo server on `address`:`port` (0: any) with `prefix` before
 * python3 (e.g. `["ip", "netns", "exec", NAME]` or a spawn inside through
 * `spawn`).
 */
export async function udpEcho(
  spawn: (command: Deno.Command) => Deno.ChildProcess,
  prefix: string[],
  address = "0.0.0.0",
  port = 0,
): Promise<UdpEcho> {
  const [program, ...args] = [
    ...prefix,
    "python3",
    "-c",
    ECHO,
    address,
    String(port),
  ];
  const child = spawn(
    new Deno.Command(program!, { args, stdout: "piped", stderr: "inherit" }),
  );
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the UDP echo server did not start");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return {
    port: Number(text.trim()),
    async close(): Promise<void> {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

/**
 * Sends `texts` one by one from one client socket (bound to `from`, any
 * port) to `host`:`port` and returns the answers, "" for one that did not
 * come within `ms`.
 */
export async function udpAsk(
  host: string,
  port: number,
  texts: string[],
  from?: string,
  ms = 3000,
): Promise<string[]> {
  const v6 = host.includes(":");
  const socket = dgram.createSocket(v6 ? "udp6" : "udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(
      { port: 0, address: from ?? (v6 ? "::" : "0.0.0.0") },
      () => resolve(),
    );
  });
  const answers: string[] = [];
  try {
    for (const text of texts) {
      const reply = new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve(""), ms);
        socket.once("message", (data: Uint8Array) => {
          clearTimeout(timer);
          resolve(new TextDecoder().decode(data));
        });
      });
      socket.send(new TextEncoder().encode(text), port, host);
      answers.push(await reply);
    }
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
  return answers;
}
