/**
 * The event monitor against the real kernel: a link, an address added and
 * removed, a route, a neighbour and a rule are reported in the order they
 * happened; the iteration ends on abort and closes its socket (the test
 * sanitizers check that nothing is left running); a full receive buffer is
 * reported as an overrun, not hidden.
 */
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { parseMonitorWords } from "../lib/cli/monitor.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { nsTest, withNamespaces } from "./_helpers.ts";
import { ipJson } from "./_fixtures/netns.ts";
import {
  addAddress,
  addNeighbour,
  addRoute,
  addRule,
  createLink,
  DEFAULT_MONITOR_GROUPS,
  deleteAddress,
  type MonitorEvent,
  NetlinkMonitor,
  NetlinkSocket,
  RTNLGRP,
  setLink,
} from "../lib/netlink/mod.ts";

function describe(e: MonitorEvent): string {
  switch (e.kind) {
    case "link":
      return `${e.action} link ${e.link.name}`;
    case "address":
      return `${e.action} address ${e.address.address}/${e.address.prefixLength}`;
    case "route":
      return `${e.action} route ${e.route.destination}/${e.route.destinationLength}`;
    case "neighbour":
      return `${e.action} neighbour ${e.neighbour.destination}`;
    case "rule":
      return `${e.action} rule ${e.rule.priority}`;
    case "overrun":
      return "overrun";
  }
}

nsTest(
  "monitor: link, address, route, neighbour and rule events arrive in order; abort ends it",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      const controller = new AbortController();
      const monitor = NetlinkMonitor.open(ns, { signal: controller.signal });
      const seen: string[] = [];
      const expected = [
        "new link v0",
        "new address 10.5.0.1/24",
        "new route 10.6.0.0/16",
        "new neighbour 10.5.0.9",
        "new rule 500",
        "del address 10.5.0.1/24",
      ];
      let done: () => void = () => {};
      const all = new Promise<void>((resolve) => (done = resolve));
      const consumer = (async (): Promise<number> => {
        let count = 0;
        for await (const event of monitor) {
          count++;
          seen.push(describe(event));
          if (expected.every((x) => seen.includes(x))) done();
        }
        return count;
      })();
      {
        using sock = NetlinkSocket.open(ns);
        createLink(sock, { kind: "veth", name: "v0", peer: { name: "v1" } });
        setLink(sock, "v0", { up: true });
        addAddress(sock, "v0", "10.5.0.1/24");
        addRoute(sock, { destination: "10.6.0.0/16", device: "v0" });
        addNeighbour(sock, {
          address: "10.5.0.9",
          lladdr: "02:00:00:00:00:09",
          device: "v0",
        });
        addRule(sock, { from: "10.5.0.0/24", table: 100, priority: 500 });
        deleteAddress(sock, "v0", "10.5.0.1/24");
      }
      const timer = setTimeout(done, 5000);
      await all;
      clearTimeout(timer);
      controller.abort();
      const count = await consumer;
      assert(monitor.closed, "the socket is closed when the iteration ends");
      assert(count >= expected.length, seen.join("\n"));
      const positions = expected.map((x) => seen.indexOf(x));
      assert(positions.every((p) => p >= 0), seen.join("\n"));
      assertEquals(
        positions,
        [...positions].sort((a, b) => a - b),
        `out of order:\n${seen.join("\n")}`,
      );
      assert(!seen.includes("overrun"), seen.join("\n"));
    });
  },
);

nsTest(
  "monitor: waiting for events leaves the event loop free; breaking out closes the socket",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      const monitor = NetlinkMonitor.open(ns);
      const consumer = (async (): Promise<string> => {
        for await (const event of monitor) return describe(event);
        return "ended";
      })();
      // Timers keep firing while the monitor waits: its poll runs on another thread.
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 10);
      await new Promise((resolve) => setTimeout(resolve, 200));
      clearInterval(ticker);
      assert(ticks >= 5, `only ${ticks} timer ticks in 200 ms`);
      // An event made by another process while the monitor is waiting.
      const name = ns!.path.slice(ns!.path.lastIndexOf("/") + 1);
      const ip = await new Deno.Command("ip", {
        args: ["-n", name, "link", "add", "ifb7", "type", "ifb"],
      }).output();
      assert(ip.success);
      assertEquals(await consumer, "new link ifb7");
      assert(monitor.closed);
    });
  },
);

nsTest(
  "monitor: a receive buffer the kernel overran is reported as an overrun",
  async () => {
    await withNamespaces(1, ([ns]) => {
      using monitor = NetlinkMonitor.open(ns, { receiveBuffer: 1 });
      {
        using sock = NetlinkSocket.open(ns);
        createLink(sock, { kind: "veth", name: "v0", peer: { name: "v1" } });
        for (let i = 1; i <= 200; i++) addAddress(sock, "v0", `10.8.${i}.1/24`);
      }
      const events = monitor.takeQueued();
      assert(
        events.some((e) => e.kind === "overrun"),
        `no overrun among ${events.length} events`,
      );
      // After the overrun, new events are delivered again.
      {
        using sock = NetlinkSocket.open(ns);
        addAddress(sock, "v0", "10.9.0.1/24");
      }
      assert(
        monitor.takeQueued().some((e) =>
          e.kind === "address" && e.address.address === "10.9.0.1"
        ),
      );
    });
  },
);

nsTest(
  "nsnet monitor --json: one JSON object a line; SIGINT ends it with status 0",
  async () => {
    await withNamespaces(1, async ([ns]) => {
      const name = ns!.path.slice(ns!.path.lastIndexOf("/") + 1);
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          "--quiet",
          new URL("../cli.ts", import.meta.url).pathname,
          "monitor",
          name,
          "--json",
        ],
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let text = "";
      let pending = reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      // The child subscribes some time after it starts: make rules until it reports one.
      for (
        let priority = 100;
        !text.includes("\n") && priority < 150;
        priority++
      ) {
        const made = await new Deno.Command("ip", {
          args: [
            "-n",
            name,
            "rule",
            "add",
            "priority",
            String(priority),
            "table",
            "7",
          ],
        }).output();
        assert(made.success);
        const chunk = await Promise.race([
          pending,
          new Promise<"wait">((resolve) => {
            timer = setTimeout(() => resolve("wait"), 300);
          }),
        ]);
        clearTimeout(timer);
        if (chunk === "wait") continue;
        if (chunk.done) break;
        text += chunk.value;
        pending = reader.read();
      }
      // A link made now is reported too, in ip -j link's shape.
      const ifb = await new Deno.Command("ip", {
        args: ["-n", name, "link", "add", "ifb9", "type", "ifb"],
      }).output();
      assert(ifb.success);
      for (let i = 0; i < 20 && !text.includes('"ifb9"'); i++) {
        const chunk = await Promise.race([
          pending,
          new Promise<"wait">((resolve) => {
            timer = setTimeout(() => resolve("wait"), 250);
          }),
        ]);
        clearTimeout(timer);
        if (chunk === "wait") continue;
        if (chunk.done) break;
        text += chunk.value;
        pending = reader.read();
      }
      child.kill("SIGINT");
      for (;;) {
        const chunk = await pending;
        if (chunk.done) break;
        text += chunk.value;
        pending = reader.read();
      }
      const status = await child.status;
      const stderr = await new Response(child.stderr).text();
      assertEquals(status.code, 0, stderr);
      const events = text.trim().split("\n").map((line) => JSON.parse(line));
      assert(events.length > 0);
      const rules = events.filter((e) => e.kind === "rule");
      assert(rules.length > 0);
      for (const e of rules) {
        assertEquals([e.action, e.rule.table], ["new", "7"]);
      }
      const link = events.find((e) =>
        e.kind === "link" && e.link.ifname === "ifb9"
      );
      assert(link !== undefined, text);
      assertEquals(
        link.link.ifindex,
        ipJson(ns!, "link", "show", "ifb9")[0]!.ifindex,
      );
      assertEquals(link.action, "new");
    });
  },
);

nsTest("nsnet monitor words: a namespace, then ip monitor's objects", () => {
  assertEquals(parseMonitorWords([]), {
    netns: undefined,
    groups: DEFAULT_MONITOR_GROUPS,
  });
  assertEquals(parseMonitorWords(["ns1", "rule", "link"]), {
    netns: "ns1",
    groups: [RTNLGRP.IPV4_RULE, RTNLGRP.IPV6_RULE, RTNLGRP.LINK],
  });
  assertEquals(parseMonitorWords(["neigh"]).netns, undefined);
  assertThrows(() => parseMonitorWords(["ns1", "bogus"]), InvalidArgumentError);
});
