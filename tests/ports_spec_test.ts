/** Parsing, expanding and checking `-p` port specs, and probing host ports. */
import { assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import { PortConflictError, PortSpecError } from "../lib/ports/errors.ts";
import { preparePortMappings, probeHostPorts } from "../lib/ports/probe.ts";
import {
  assertNoDuplicatePorts,
  expandPortSpecs,
  formatPortMapping,
  parsePortSpec,
  parsePortSpecs,
  type PortMapping,
} from "../lib/ports/spec.ts";

nsTest("parsePortSpec reads every form Podman accepts", () => {
  const cases: [string, ReturnType<typeof parsePortSpec>][] = [
    ["80", {
      hostIp: undefined,
      hostPort: 0,
      sandboxPort: 80,
      count: 1,
      protocols: ["tcp"],
    }],
    ["8080:80", {
      hostIp: undefined,
      hostPort: 8080,
      sandboxPort: 80,
      count: 1,
      protocols: ["tcp"],
    }],
    ["127.0.0.1:8080:80", {
      hostIp: "127.0.0.1",
      hostPort: 8080,
      sandboxPort: 80,
      count: 1,
      protocols: ["tcp"],
    }],
    ["127.0.0.1::80", {
      hostIp: "127.0.0.1",
      hostPort: 0,
      sandboxPort: 80,
      count: 1,
      protocols: ["tcp"],
    }],
    ["0.0.0.0:8080:80", {
      hostIp: undefined,
      hostPort: 8080,
      sandboxPort: 80,
      count: 1,
      protocols: ["tcp"],
    }],
    ["8080:80/udp", {
      hostIp: undefined,
      hostPort: 8080,
      sandboxPort: 80,
      count: 1,
      protocols: ["udp"],
    }],
    ["53:53/tcp,udp", {
      hostIp: undefined,
      hostPort: 53,
      sandboxPort: 53,
      count: 1,
      protocols: ["tcp", "udp"],
    }],
    ["8080-8082:80-82", {
      hostIp: undefined,
      hostPort: 8080,
      sandboxPort: 80,
      count: 3,
      protocols: ["tcp"],
    }],
    ["80-82", {
      hostIp: undefined,
      hostPort: 0,
      sandboxPort: 80,
      count: 3,
      protocols: ["tcp"],
    }],
    ["[::1]:8080:80/TCP", {
      hostIp: "::1",
      hostPort: 8080,
      sandboxPort: 80,
      count: 1,
      protocols: ["tcp"],
    }],
    ["[::]::80", {
      hostIp: "::",
      hostPort: 0,
      sandboxPort: 80,
      count: 1,
      protocols: ["tcp"],
    }],
  ];
  for (const [spec, expected] of cases) {
    assertEquals(parsePortSpec(spec), expected, spec);
  }
});

nsTest("parsePortSpec rejects bad specs, saying why", () => {
  const cases: [string, string][] = [
    ["", "empty"],
    ["abc", 'sandbox port "abc"'],
    ["0", 'sandbox port "0"'],
    ["70000", "from 1 to 65535"],
    ["8080:80/sctp", "sctp is not supported"],
    ["8080:80/icmp", "unknown protocol"],
    ["8080-8081:80-82", "2 port(s) but the sandbox range has 3"],
    ["8082-8080:80-82", "ends before it starts"],
    ["1.2.3:8080:80", "not an IP address"],
    ["::1:8080:80", "too many ':'"],
    ["[::1]8080:80", "[ADDRESS]:HOST_PORT"],
    ["[::1]:80", "HOST_PORT:SANDBOX_PORT"],
    ["[1.2.3.4]:8080:80", "not an IP address"],
    ["host.example:8080:80", "not an IP address"],
    ["-1:80", "host port"],
  ];
  for (const [spec, reason] of cases) {
    const error = assertThrows(
      () => parsePortSpec(spec),
      PortSpecError,
      reason,
    );
    assertEquals(error.spec, spec);
    assertNotEquals(error.hint, undefined);
  }
});

nsTest("expandPortSpecs makes one mapping per port and protocol", () => {
  assertEquals(
    expandPortSpecs([parsePortSpec("127.0.0.1:8080-8081:80-81/tcp,udp")])
      .map(formatPortMapping),
    [
      "127.0.0.1:8080->80/tcp",
      "127.0.0.1:8081->81/tcp",
      "127.0.0.1:8080->80/udp",
      "127.0.0.1:8081->81/udp",
    ],
  );
  assertEquals(
    expandPortSpecs([parsePortSpec("80-81")]).map((m) => m.hostPort),
    [0, 0],
  );
  assertEquals(
    formatPortMapping({
      protocol: "tcp",
      hostIp: "::1",
      hostPort: 1,
      sandboxPort: 2,
    }),
    "[::1]:1->2/tcp",
  );
});

nsTest("parsePortSpecs refuses a host port published twice, naming it", () => {
  const error = assertThrows(
    () => parsePortSpecs(["8080:80", "127.0.0.1:8079-8081:90-92"]),
    PortConflictError,
    "host port 8080/tcp is published twice: 0.0.0.0:8080->80/tcp and 127.0.0.1:8080->91/tcp",
  );
  assertEquals([error.reason, error.port, error.protocol], [
    "duplicate",
    8080,
    "tcp",
  ]);
  assertThrows(
    () => parsePortSpecs(["[::]:53:53", "127.0.0.1:53:54"]),
    PortConflictError,
  );
  assertThrows(
    () => parsePortSpecs(["53:53/udp", "53:54/udp"]),
    PortConflictError,
    "53/udp",
  );
});

nsTest("assertNoDuplicatePorts allows what does not clash", () => {
  // Other protocol, other address, same sandbox port twice, random host ports.
  parsePortSpecs(["8080:80/tcp", "8080:80/udp"]);
  parsePortSpecs(["127.0.0.1:8080:80", "127.0.0.2:8080:80"]);
  parsePortSpecs(["8080:80", "8081:80"]);
  parsePortSpecs(["80", "80", "127.0.0.1::80"]);
  parsePortSpecs(["[::1]:8080:80", "127.0.0.1:8080:80"]);
  const v6AndAll: PortMapping[] = [
    { protocol: "tcp", hostIp: undefined, hostPort: 1, sandboxPort: 1 },
    { protocol: "tcp", hostIp: "::1", hostPort: 1, sandboxPort: 1 },
  ];
  assertNoDuplicatePorts(v6AndAll);
});

function freeMapping(protocol: "tcp" | "udp"): PortMapping {
  return { protocol, hostIp: "127.0.0.1", hostPort: 0, sandboxPort: 80 };
}

nsTest(
  "probeHostPorts picks free ports for host port 0 and leaves them free",
  () => {
    const probed = probeHostPorts([freeMapping("tcp"), freeMapping("udp")]);
    for (const mapping of probed) {
      assertNotEquals(mapping.hostPort, 0);
      assertEquals(mapping.sandboxPort, 80);
    }
    // Released: the port binds again.
    Deno.listen({ hostname: "127.0.0.1", port: probed[0]!.hostPort }).close();
    assertEquals(probeHostPorts(probed), probed);
  },
);

nsTest("probeHostPorts names a TCP host port already in use", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = taken.addr.port;
    const error = assertThrows(
      () => probeHostPorts([{ ...freeMapping("tcp"), hostPort: port }]),
      PortConflictError,
      `host port ${port}/tcp on 127.0.0.1 is already in use`,
    );
    assertEquals([error.reason, error.port], ["in-use", port]);
    // All addresses include 127.0.0.1.
    assertThrows(
      () =>
        probeHostPorts([{
          ...freeMapping("tcp"),
          hostIp: undefined,
          hostPort: port,
        }]),
      PortConflictError,
      `host port ${port}/tcp on 0.0.0.0 is already in use`,
    );
  } finally {
    taken.close();
  }
});

nsTest("probeHostPorts names a UDP host port already in use", async () => {
  const [first] = probeHostPorts([freeMapping("udp")]);
  const port = first!.hostPort;
  // Deno binds UDP only with --unstable-net: a child process holds the port.
  const holder = new Deno.Command("python3", {
    args: [
      "-c",
      `import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", ${port}))
print("bound", flush=True)
sys.stdin.read()`,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  try {
    const reader = holder.stdout.getReader();
    await reader.read();
    reader.releaseLock();
    const error = assertThrows(
      () => probeHostPorts([first!]),
      PortConflictError,
      `host port ${port}/udp on 127.0.0.1 is already in use`,
    );
    assertEquals(error.protocol, "udp");
  } finally {
    await holder.stdin.close();
    await holder.stdout.cancel();
    await holder.status;
  }
});

nsTest("probeHostPorts explains an address the host does not have", () => {
  assertThrows(
    () => probeHostPorts([{ ...freeMapping("tcp"), hostIp: "192.0.2.1" }]),
    PortConflictError,
    "cannot publish host port 0/tcp on 192.0.2.1",
  );
  assertThrows(
    () => probeHostPorts([{ ...freeMapping("udp"), hostIp: "192.0.2.1" }]),
    PortConflictError,
    "the host has no such address",
  );
});

nsTest(
  "preparePortMappings parses, refuses duplicates and fills in distinct free ports",
  () => {
    const mappings = preparePortMappings([
      "127.0.0.1::80-89",
      "127.0.0.1::53/udp",
    ]);
    assertEquals(mappings.length, 11);
    const tcpPorts = new Set(
      mappings.filter((m) => m.protocol === "tcp").map((m) => m.hostPort),
    );
    assertEquals(tcpPorts.size, 10);
    assertEquals(mappings.every((m) => m.hostPort > 0), true);
    assertThrows(
      () => preparePortMappings(["8080:80", "8080:81"]),
      PortConflictError,
      "published twice",
    );
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      assertThrows(
        () => preparePortMappings([`127.0.0.1:${taken.addr.port}:80`]),
        PortConflictError,
        `${taken.addr.port}/tcp on 127.0.0.1 is already in use`,
      );
    } finally {
      taken.close();
    }
  },
);
