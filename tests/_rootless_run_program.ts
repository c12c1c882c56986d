/**
 * Run by the rootless tests as the test user inside nsnet's user namespace
 * (`nsnet unshare -- deno run …`): uses `RootlessNetNS.run()` the way a
 * library user would, and prints what it saw as JSON.
 */
import { getRootlessNetNS, ThreadRunError } from "../mod.ts";

function namespaces(): { net: string; mnt: string } {
  return {
    net: Deno.readLinkSync("/proc/thread-self/ns/net"),
    mnt: Deno.readLinkSync("/proc/thread-self/ns/mnt"),
  };
}

const report: Record<string, unknown> = { before: namespaces() };
const rootless = await getRootlessNetNS({ create: true });
if (rootless === undefined) throw new Error("not rootless");
try {
  report.inside = await rootless.run((greeting: string) => {
    // 10.0.2.100 exists only inside: binding it proves where sockets are made.
    const listener = Deno.listen({ hostname: "10.0.2.100", port: 0 });
    listener.close();
    return {
      greeting,
      net: Deno.readLinkSync("/proc/thread-self/ns/net"),
      mnt: Deno.readLinkSync("/proc/thread-self/ns/mnt"),
      resolvConf: Deno.readTextFileSync("/etc/resolv.conf"),
      interfaces: [...Deno.readDirSync("/sys/class/net")].map((e) => e.name)
        .sort(),
    };
  }, "hello");
  try {
    await rootless.run(() => {
      throw new TypeError("thrown inside");
    });
    report.thrown = "nothing";
  } catch (error) {
    report.thrown = error instanceof ThreadRunError
      ? [error.thrownName, error.message]
      : String(error);
  }
  report.exec = [
    await rootless.exec(["sh", "-c", "test -e /sys/class/net/tap0"]),
    await rootless.exec(["sh", "-c", "exit 7"]),
  ];
  report.after = namespaces();
} finally {
  await rootless.release();
}
console.log(JSON.stringify(report));
