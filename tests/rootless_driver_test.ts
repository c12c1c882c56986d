/**
 * The helper driver's conformance: every helper (slirp4netns, pasta) that is
 * installed starts for a namespace made here, records its pid in its pid
 * file, publishes a port on the host's loopback, refuses or takes ports
 * later as it can, and stops; a start that fails leaves nothing running.
 * As root; only 127.0.0.1.
 */
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { nsTest, succeeds, withNamespaces } from "./_helpers.ts";
import { ask, tagServer } from "./_fixtures/tcp.ts";
import { NsnetError } from "../lib/errors.ts";
import { probeHostPorts } from "../lib/ports/probe.ts";
import type { PortMapping } from "../lib/ports/spec.ts";
import { HELPER_KINDS, resolveHelperOptions } from "../lib/rootless/mod.ts";
import { helperDriver } from "../lib/rootless/helpers/driver.ts";
import {
  isHelperProcess,
  readPidFile,
} from "../lib/rootless/helper_process.ts";

/** Host ports free now on 127.0.0.1, forwarded to `sandboxPort`. */
function freePorts(sandboxPort: number, count = 1): PortMapping[] {
  return probeHostPorts(
    Array.from({ length: count }, () => ({
      protocol: "tcp" as const,
      hostIp: "127.0.0.1",
      hostPort: 0,
      sandboxPort,
    })),
  );
}

/** Processes whose command line names `path`: what a helper left would be. */
function processesFor(path: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      const status = Deno.readTextFileSync(`/proc/${entry.name}/status`);
      if (cmdline.includes(path) && !/^State:\s+Z/m.test(status)) {
        pids.push(Number(entry.name));
      }
    } catch { /* exited */ }
  }
  return pids;
}

for (const kind of HELPER_KINDS) {
  const installed = succeeds(kind, "--version");

  nsTest(
    `${kind} through the helper driver: ready, pid file, a published port, stopped`,
    async () => {
      await withNamespaces(1, async ([ns]) => {
        const dir = Deno.makeTempDirSync({ prefix: "nsnet-driver-" });
        const server = tagServer(ns!, kind);
        try {
          const [mapping] = freePorts(server.port);
          const helper = await helperDriver(kind).start({
            netnsPath: ns!.path,
            dir,
            options: resolveHelperOptions({ helper: kind }),
            ports: [mapping!],
          });
          try {
            assertEquals(helper.kind, kind);
            assertEquals(helper.pidFile, `${dir}/${kind}.pid`);
            assertEquals(readPidFile(helper.pidFile), helper.pid);
            assert(
              isHelperProcess(helper.pid, {
                program: kind,
                netnsPath: ns!.path,
              }),
            );
            assertEquals(await ask(mapping!.hostPort, "hi"), `${kind}:hi`);
            const [later] = freePorts(server.port);
            if (kind === "slirp4netns") {
              await helper.forwardPorts([later!]);
              assertEquals(
                await ask(later!.hostPort, "again"),
                `${kind}:again`,
              );
            } else {
              await assertRejects(
                () => helper.forwardPorts([later!]),
                NsnetError,
                "a running pasta takes no new ports",
              );
            }
          } finally {
            assertEquals(await helper.stop(), "stopped");
          }
          assertEquals(processesFor(ns!.path), []);
        } finally {
          await server.close();
          Deno.removeSync(dir, { recursive: true });
        }
      });
    },
    { ignore: !installed },
  );

  nsTest(
    `${kind} through the helper driver: a port it cannot publish fails the start and leaves nothing running`,
    async () => {
      await withNamespaces(1, async ([ns]) => {
        const dir = Deno.makeTempDirSync({ prefix: "nsnet-driver-" });
        const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        try {
          await assertRejects(() =>
            helperDriver(kind).start({
              netnsPath: ns!.path,
              dir,
              options: resolveHelperOptions({ helper: kind }),
              ports: [{
                protocol: "tcp",
                hostIp: "127.0.0.1",
                hostPort: taken.addr.port,
                sandboxPort: 80,
              }],
            })
          );
          // Stopping is asynchronous in the kernel: give an exiting helper a moment.
          for (let i = 0; i < 100 && processesFor(ns!.path).length > 0; i++) {
            await new Promise((r) => setTimeout(r, 20));
          }
          assertEquals(processesFor(ns!.path), []);
        } finally {
          taken.close();
          Deno.removeSync(dir, { recursive: true });
        }
      });
    },
    { ignore: !installed },
  );
}
