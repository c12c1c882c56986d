/**
 * The socket's exchanges against the kernel: interrupted dumps retried then
 * reported, stale replies skipped by sequence number, strict checking on,
 * a rejected dump reported with the kernel's text.
 */
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { nsTest, run } from "./_helpers.ts";
import { newNS } from "../lib/netns/create.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import {
  AF,
  createLink,
  decodeLink,
  decodeRoute,
  listAddresses,
  listLinks,
  MessageWriter,
  NetlinkDumpInterruptedError,
  NetlinkError,
  NetlinkSocket,
  NLM_F,
  RTM,
  SIZE,
} from "../lib/netlink/mod.ts";
import { nameOf } from "./_fixtures/netns.ts";

async function withNamespace(
  fn: (ns: NetNS) => void | Promise<void>,
): Promise<void> {
  const ns = newNS();
  try {
    await fn(ns);
  } finally {
    unmountNS(ns);
  }
}

/** Adds and removes one address in a loop in `ns` until the returned function is called. */
function churn(ns: NetNS): () => Promise<void> {
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      nameOf(ns),
      "sh",
      "-c",
      "while :; do ip addr add 10.250.0.1/32 dev i0; ip addr del 10.250.0.1/32 dev i0; done",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  return async () => {
    child.kill("SIGKILL");
    await child.status;
  };
}

function manyAddresses(ns: NetNS, count: number): void {
  const lines = ["link add i0 type ifb"];
  for (let i = 0; i < count; i++) {
    lines.push(`addr add 10.${i >> 8}.${i & 255}.1/32 dev i0`);
  }
  const file = Deno.makeTempFileSync();
  try {
    Deno.writeTextFileSync(file, lines.join("\n") + "\n");
    run("ip", "-n", nameOf(ns), "-batch", file);
  } finally {
    Deno.removeSync(file);
  }
}

nsTest(
  "dump: interrupted dumps are retried, and reported once retries run out",
  async () => {
    await withNamespace(async (ns) => {
      manyAddresses(ns, 4000);
      // Patient enough for a loaded machine: the churn never pauses, and on a
      // busy 2-core VM a hundred dumps in a row were seen interrupted.
      using patient = NetlinkSocket.open(ns, { dumpRetries: 2000 });
      using impatient = NetlinkSocket.open(ns, { dumpRetries: 0 });
      const stop = churn(ns);
      let reported = 0;
      try {
        await new Promise((resolve) => setTimeout(resolve, 100));
        for (let i = 0; i < 30; i++) {
          const v4 = listAddresses(patient, { family: AF.INET }).filter((a) =>
            a.index > 1
          );
          assert(
            v4.length === 4000 || v4.length === 4001,
            `consistent dump: ${v4.length}`,
          );
        }
        for (let i = 0; i < 200 && reported === 0; i++) {
          try {
            listAddresses(impatient);
          } catch (error) {
            if (!(error instanceof NetlinkDumpInterruptedError)) throw error;
            assertEquals(error.attempts, 1);
            reported++;
          }
        }
      } finally {
        await stop();
      }
      assert(
        patient.retriedDumps > 0,
        "the churn interrupted some dumps, which were run again",
      );
      assert(reported > 0, "without retries, an interrupted dump is an error");
    });
  },
);

nsTest(
  "dump: replies left over from an abandoned dump are skipped by sequence number",
  async () => {
    await withNamespace((ns) => {
      using sock = NetlinkSocket.open(ns);
      for (let i = 0; i < 300; i++) {
        createLink(sock, { kind: "ifb", name: `s${i}` });
      }
      const writer = new MessageWriter(RTM.GETLINK, NLM_F.REQUEST | NLM_F.DUMP)
        .struct(SIZE.IFINFOMSG, () => {});
      let seen = 0;
      assertThrows(
        () =>
          sock.dump(writer, "abandoned dump", (bytes, view, body, end) => {
            if (++seen === 3) throw new Error("stop here");
            return decodeLink(bytes, view, body, end);
          }),
        Error,
        "stop here",
      );
      // The rest of that dump is still queued; the next exchange must skip it.
      const links = listLinks(sock, { stats: false });
      assertEquals(links.length, 301);
      assertEquals(new Set(links.map((l) => l.name)).size, 301);
    });
  },
);

nsTest(
  "dump: a request the kernel rejects under strict checking fails with its text",
  async () => {
    await withNamespace((ns) => {
      using sock = NetlinkSocket.open(ns);
      // rtm_dst_len is not a valid filter of a route dump: strict checking refuses it.
      const writer = new MessageWriter(RTM.GETROUTE, NLM_F.REQUEST | NLM_F.DUMP)
        .struct(SIZE.RTMSG, (view, at) => {
          view.setUint8(at, AF.INET);
          view.setUint8(at + 1, 24);
        });
      const error = assertThrows(
        () => sock.dump(writer, "list routes", decodeRoute),
        NetlinkError,
      );
      assertEquals(error.code, "EINVAL");
      assert(
        error.kernelMessage !== undefined && error.kernelMessage.length > 0,
        error.message,
      );
    });
  },
);

nsTest(
  "NetlinkSocket.open: made inside the namespace, usable from outside it",
  async () => {
    await withNamespace((ns) => {
      using inside = NetlinkSocket.open(ns);
      using here = NetlinkSocket.open();
      createLink(inside, { kind: "ifb", name: "only-in-ns" });
      assert(listLinks(inside).some((l) => l.name === "only-in-ns"));
      assert(!listLinks(here).some((l) => l.name === "only-in-ns"));
      // Port ids are per namespace: both may well be this process's pid.
      assert(inside.portId > 0 && here.portId > 0);
    });
  },
);
