/**
 * The port forwarder of a detached rootless bridge sandbox: a process of its
 * own (`nsnet sandbox forward NAME`, as Podman's rootlessport), because a
 * forwarder thread dies with the process that made it. It records itself in
 * the sandbox once its ports are bound, and is stopped by the sandbox's
 * teardown (identity checked: pid and start time).
 *
 * @module
 */

import { NsnetError, SandboxNotFoundError } from "../errors.ts";
import {
  forwardedInUserspace,
  type Forwarder,
  startForwarder,
} from "../ports/forwarder.ts";
import { processAlive, processStartTime } from "../process_identity.ts";
import { selfCommand } from "../rootless/userns.ts";
import { debug } from "../log.ts";
import { prepareClientAddressRouting } from "../ports/client_address.ts";
import { rootlessAccess } from "./rootless_ref.ts";
import { sandboxAddress, statusAddresses } from "./status.ts";
import { lockSandbox, readRecord, writeRecord } from "./store.ts";
import type { SandboxRecord } from "./types.ts";

/**
 * Starts the forwarder of the sandbox in `record` for its published ports.
 * A rootless bridge sandbox is reached from the shared rootless namespace,
 * where its gateway is, and from each client's own address, so the server
 * inside sees its real peer (`keepClientAddress`); should that namespace
 * not take the routing it needs, the forwarder enters the sandbox's
 * namespace instead and the peer is the sandbox's own address, as before.
 */
export async function startForwarderFor(
  record: SandboxRecord,
): Promise<Forwarder> {
  const addresses = record.status ? statusAddresses(record.status) : [];
  const address = record.status ? sandboxAddress(record.status) : undefined;
  if (address === undefined || record.netnsPath === undefined) {
    throw new NsnetError(
      `sandbox ${record.name} has no IPv4 address to forward its ports to`,
    );
  }
  const address6 = addresses.map((a) => a.split("/")[0]!).find((a) =>
    a.includes(":") && !a.toLowerCase().startsWith("fe80:")
  );
  // As root only IPv6 host addresses are forwarded here; DNAT does the rest.
  const mappings = (record.published ?? []).filter((m) =>
    record.rootless || forwardedInUserspace(m)
  );
  let nsPath = record.netnsPath;
  let keepClientAddress = false;
  if (record.rootless && record.mode.kind === "bridge") {
    try {
      const access = await rootlessAccess(record, false);
      if (access !== undefined) {
        await prepareClientAddressRouting(access.path);
        nsPath = access.path;
        keepClientAddress = true;
      }
    } catch (error) {
      debug(
        `forwarder of ${record.name}: clients' addresses not kept: ${error}`,
      );
    }
  }
  return await startForwarder({
    nsPath,
    sandboxAddress: address,
    sandboxAddress6: address6,
    keepClientAddress,
    mappings,
  });
}

/**
 * Starts `nsnet sandbox forward NAME` detached, and waits (at most
 * `timeoutMs`) until it has recorded itself, its ports bound.
 */
export async function spawnForwarderProcess(
  name: string,
  timeoutMs = 10_000,
): Promise<void> {
  const [program, ...args] = [...selfCommand(), "sandbox", "forward", name];
  const child = new Deno.Command("setsid", {
    args: [program!, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exited: Deno.CommandStatus | undefined;
  child.status.then((s) => exited = s);
  const deadline = Date.now() + timeoutMs;
  while (readRecord(name)?.forwarder === undefined) {
    if (exited !== undefined) {
      const text = new TextDecoder().decode(
        await new Response(child.stderr).arrayBuffer(),
      ).trim();
      throw new NsnetError(
        `the port forwarder of sandbox ${name} failed: ${
          text || `exit ${exited.code}`
        }`,
      );
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new NsnetError(
        `the port forwarder of sandbox ${name} did not start within ${timeoutMs} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  child.stderr.cancel().catch(() => {});
  child.unref();
}

/**
 * Runs as the forwarder process: forwards the sandbox's ports, records
 * itself, and forwards until SIGTERM (sent by the sandbox's teardown).
 */
export async function runForwarderProcess(name: string): Promise<void> {
  const record = readRecord(name);
  if (record === undefined) throw new SandboxNotFoundError(name);
  const forwarder = await startForwarderFor(record);
  {
    using lock = await lockSandbox(name);
    void lock;
    const current = readRecord(name);
    if (current === undefined) {
      await forwarder.close();
      return;
    }
    current.forwarder = { pid: Deno.pid, start: processStartTime(Deno.pid) };
    writeRecord(current);
  }
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      Deno.addSignalListener(signal, () => resolve());
    }
  });
  await forwarder.close();
}

/** Stops the forwarder process of `record`, if it still runs; waits until it is gone. */
export async function stopForwarderProcess(
  record: SandboxRecord,
): Promise<void> {
  const forwarder = record.forwarder;
  if (
    forwarder === undefined || !processAlive(forwarder.pid, forwarder.start)
  ) return;
  Deno.kill(forwarder.pid, "SIGTERM");
  for (
    let i = 0;
    i < 500 && processAlive(forwarder.pid, forwarder.start);
    i++
  ) {
    await new Promise((r) => setTimeout(r, 10));
  }
  if (processAlive(forwarder.pid, forwarder.start)) {
    Deno.kill(forwarder.pid, "SIGKILL");
  }
}
