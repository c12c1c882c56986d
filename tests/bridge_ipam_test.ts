/**
 * The bridge IPAM: addresses handed out once, also by parallel processes and
 * after a crash; idempotent allocate and release; no file left when empty.
 */
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  AddressesExhaustedError,
  allocateAddress,
  Ipam,
  networksInUse,
  releaseAddress,
} from "../lib/bridge/ipam.ts";
import type { NetworkConfig } from "../lib/bridge/network.ts";
import { withDir } from "./_fixtures/dirs.ts";

const NET: NetworkConfig = {
  name: "ipamtest",
  bridge: "nsnt-ipam",
  subnet: "10.123.50.0/24",
  gateway: "10.123.50.1",
};

const IPAM_URL = new URL("../lib/bridge/ipam.ts", import.meta.url).href;

nsTest(
  "Ipam: round-robin from the first host, skipping the gateway",
  async () => {
    await withDir((dir) => {
      const net = { ...NET, gateway: "10.123.50.3" };
      assertEquals(allocateAddress(dir, net, "a"), "10.123.50.1");
      assertEquals(allocateAddress(dir, net, "b"), "10.123.50.2");
      assertEquals(allocateAddress(dir, net, "c"), "10.123.50.4");
      // The same sandbox gets its address again.
      assertEquals(allocateAddress(dir, net, "a"), "10.123.50.1");
      // A freed address is not handed out again at once.
      assertEquals(releaseAddress(dir, net, "b"), "10.123.50.2");
      assertEquals(releaseAddress(dir, net, "b"), undefined);
      assertEquals(allocateAddress(dir, net, "d"), "10.123.50.5");
      assertEquals(networksInUse(dir).map((n) => n.name), ["ipamtest"]);
      for (const id of ["a", "c", "d"]) releaseAddress(dir, net, id);
      assertEquals([...Deno.readDirSync(dir)], []);
      assertEquals(networksInUse(dir), []);
    });
  },
);

nsTest("Ipam: a full subnet raises AddressesExhaustedError", async () => {
  await withDir((dir) => {
    const net = {
      ...NET,
      subnet: "10.123.51.0/29",
      gateway: "10.123.51.1",
    };
    using ipam = Ipam.open(dir, net);
    const got = [1, 2, 3, 4, 5].map((i) => ipam.allocate(`s${i}`));
    assertEquals(got, [2, 3, 4, 5, 6].map((i) => `10.123.51.${i}`));
    assertThrows(() => ipam.allocate("s6"), AddressesExhaustedError);
    ipam.release("s3");
    assertEquals(ipam.allocate("s6"), "10.123.51.4");
  });
});

nsTest("Ipam: a table with sandboxes refuses another subnet", async () => {
  await withDir((dir) => {
    allocateAddress(dir, NET, "a");
    assertThrows(
      () =>
        allocateAddress(dir, {
          ...NET,
          subnet: "10.123.52.0/24",
          gateway: "10.123.52.1",
        }, "b"),
      Error,
      "has sandboxes on 10.123.50.0/24",
    );
    releaseAddress(dir, NET, "a");
  });
});

function worker(dir: string, tag: string, count: number): Deno.ChildProcess {
  const code = `
    import { allocateAddress } from ${JSON.stringify(IPAM_URL)};
    const net = ${JSON.stringify(NET)};
    const got = [];
    for (let i = 0; i < ${count}; i++) {
      got.push(allocateAddress(${JSON.stringify(dir)}, net, "${tag}-" + i));
    }
    console.log(JSON.stringify(got));`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

nsTest(
  "Ipam: 8 processes allocating 200 addresses in parallel get 200 distinct ones",
  async () => {
    await withDir(async (dir) => {
      const children = Array.from(
        { length: 8 },
        (_, i) => worker(dir, `p${i}`, 25),
      );
      const outputs = await Promise.all(children.map((c) => c.output()));
      const all: string[] = [];
      for (const out of outputs) {
        assert(out.success, new TextDecoder().decode(out.stderr));
        all.push(...JSON.parse(new TextDecoder().decode(out.stdout)));
      }
      assertEquals(all.length, 200);
      assertEquals(new Set(all).size, 200);
      using ipam = Ipam.open(dir, NET);
      assertEquals(ipam.size, 200);
      assertEquals(new Set(Object.keys(ipam.allocations())), new Set(all));
      for (const id of Object.values(ipam.allocations())) ipam.release(id);
    });
  },
);

nsTest(
  "Ipam: a process killed while holding the lock loses nothing and blocks no one",
  async () => {
    await withDir(async (dir) => {
      const code = `
        import { Ipam } from ${JSON.stringify(IPAM_URL)};
        const ipam = Ipam.open(${JSON.stringify(dir)}, ${JSON.stringify(NET)});
        console.log(ipam.allocate("crashed"));
        Deno.exit(137); // dies with the lock held, nothing closed`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", "--quiet", code],
        stdout: "piped",
      }).output();
      assertEquals(out.code, 137);
      const crashed = new TextDecoder().decode(out.stdout).trim();
      assertEquals(crashed, "10.123.50.2");
      const next = allocateAddress(dir, NET, "after");
      assertEquals(next, "10.123.50.3");
      // The crashed sandbox's address stays taken until it is released.
      assertEquals(allocateAddress(dir, NET, "crashed"), crashed);
      releaseAddress(dir, NET, "crashed");
      releaseAddress(dir, NET, "after");
      assertEquals([...Deno.readDirSync(dir)], []);
    });
  },
);

nsTest(
  "Ipam: a chosen address (--ip) inside the subnet and free, aliases kept until release",
  async () => {
    await withDir((dir) => {
      {
        using ipam = Ipam.open(dir, NET);
        assertEquals(
          ipam.allocate("a", { address: "10.123.50.9", aliases: ["web"] }),
          "10.123.50.9",
        );
        assertThrows(
          () => ipam.allocate("b", { address: "10.123.50.9" }),
          Error,
          "is taken by sandbox a",
        );
        assertThrows(
          () => ipam.allocate("b", { address: "10.123.50.1" }),
          Error,
          "is taken by the gateway",
        );
        assertThrows(
          () => ipam.allocate("b", { address: "10.123.51.9" }),
          Error,
          "is not a host address of 10.123.50.0/24",
        );
        assertThrows(
          () => ipam.allocate("b", { address: "10.123.50.255" }),
          Error,
          "is not a host address",
        );
        assertEquals(ipam.allocate("b"), "10.123.50.2");
      }
      const file = (): { aliases?: Record<string, string[]> } =>
        JSON.parse(Deno.readTextFileSync(`${dir}/${NET.name}.json`));
      assertEquals(file().aliases, { a: ["web"] });
      releaseAddress(dir, NET, "a");
      assertEquals(file().aliases, {});
      releaseAddress(dir, NET, "b");
    });
  },
);
