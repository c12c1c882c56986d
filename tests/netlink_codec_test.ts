/**
 * Codec tests: captured kernel dumps decode to what `ip -j` showed at capture
 * time, re-encode to the same bytes, and requests nsnet builds decode back
 * to what was asked. No kernel needed.
 */
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import {
  addressRequest,
  AF,
  align,
  createLinkRequest,
  decodeLinkStats,
  decodeMessages,
  decodeVethPeer,
  forEachAttribute,
  formatIPv6,
  IFA_F,
  IFLA,
  isLinkLocal,
  LINK_STATS_FIELDS,
  linkFlagNames,
  MessageWriter,
  NetlinkDecodeError,
  NLM_F,
  NLMSG,
  parseIP,
  parsePrefix,
  prefixContains,
  readHeader,
  replyStatus,
  routeRequest,
  RTM,
  type RtnetlinkMessage,
  SIZE,
} from "../lib/netlink/mod.ts";
import { nsTest } from "./_helpers.ts";

// Captured on kernel 6.18 from a namespace set up with:
//   ip link add eth0 address 02:00:00:00:00:01 type veth peer name peer0 netns cap2
//   ip link add br0 address 02:00:00:00:00:02 type bridge
//   ip link add ifb0 address 02:00:00:00:00:03 type ifb
//   ip link set eth0 up; ip link set lo up
//   ip addr add 10.88.0.2/16 dev eth0; ip addr add fd00:88::2/64 dev eth0 nodad
//   ip route add default via 10.88.0.1
/** `link` dump of the capture namespace, one string per datagram. */
const LINK_DUMP: readonly string[] = [
  "vAUAABAAAgAgy8dwPy0AAAAABAMBAAAASQABAAAAAAAHAAMAbG8AAAgADQDoAwAABQAQAAAAAAAF" +
  "ABEAAAAAAAUAQwABAAAACAAEAAAAAQAIADIAAAAAAAgAMwAAAAAACAAbAAAAAAAIAB4AAAAAAAgA" +
  "PQAAAAAACAAfAAEAAAAIACgA//8AAAgAKQAAAAEACAA6AAAAAQAIAD8AAAABAAgAQAAAAAEACAA7" +
  "APj/BwAIADwA//8AAAgAQgAAAAAACAAgAAEAAAAFACEAAQAAAAgAIwAAAAAACAAvAAAAAAAIADAA" +
  "AAAAAAYARAAAAAAABgBFAAAAAAAFACcAAAAAAAoAAQAAAAAAAAAAAAoAAgAAAAAAAAAAAMwAFwAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGQABwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAMACsABQACAAAAAAAMAAYAbm9xdWV1ZQAwAxoAjAACAIgAAQAAAAAAAAAA" +
  "AAAAAAABAAAAAQAAAAEAAAABAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAABAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAnAADoAwAAAAAAAAAAAAAA" +
  "AAAAAAAAAAEAAACgAgoACAABAAAAAIAUAAUA//8AAIDgAADcbwAA6AMAAPQAAgAAAAAAQAAAAAAA" +
  "AQABAAAAAQAAAAEAAAABAAAA/////6APAADoAwAA/////4A6CQCAUQEAAwAAAFgCAAAQAAAAAAAA" +
  "AAEAAAABAAAAAQAAAGDqAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD/////AAAAAAAAAAAQJwAA" +
  "6AMAAAEAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAgO42AAAAAAAA" +
  "AAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAAAAAAAD//wAA/////wEAAAAAAAAAAAAAAAAA" +
  "AAA0AQMAJgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADwABgAHAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABQABwAAAAAAAAAAAAAAAAAAAAAABQAIAAAAAAAk" +
  "AA4AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAD6ABABBgOAFAAAQAAIAIMvHcD8t" +
  "AAAAAAEAAgAAAEMQAQAAAAAACQADAGV0aDAAAAAACAANAOgDAAAFABAABgAAAAUAEQAAAAAABQBD" +
  "AAAAAAAIAAQA3AUAAAgAMgBEAAAACAAzAP//AAAIABsAAAAAAAgAHgAAAAAACAA9AAAAAAAIAB8A" +
  "AgAAAAgAKAD//wAACAApAAAAAQAIADoAAAABAAgAPwAAAAEACABAAAAAAQAIADsA+P8HAAgAPAD/" +
  "/wAACABCAAAAAAAIACAAAgAAAAUAIQABAAAACAAjAAIAAAAIAC8AAQAAAAgAMAABAAAABgBEAAAA" +
  "AAAGAEUAAAAAAAUAJwAAAAAACgABAAIAAAAAAQAACgACAP///////wAAzAAXAAAAAAAAAAAAAQAA" +
  "AAAAAAAAAAAAAAAAAG4AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAZAAHAAAAAAABAAAAAAAAAG4AAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAwAKwAFAAIAAAAAABAAEgAJAAEAdmV0aAAAAAAIACUAAAAAAAgABQACAAAADAAGAG5vcXVl" +
  "dWUAMAMaAIwAAgCIAAEAAAAAAAAAAAAAAAAAAQAAAAEAAAABAAAAAQAAAAAAAAABAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAQJwAA6AMAAAAAAAAAAAAAAAAAAAAAAAABAAAAoAIKAAgAAQAAAACAFAAFAP//AACA4AAA" +
  "TKQAAOgDAAD0AAIAAAAAAEAAAADcBQAAAQAAAAEAAAABAAAAAQAAAP////+gDwAA6AMAAAAAAACA" +
  "OgkAgFEBAAMAAABYAgAAEAAAAAAAAAABAAAAAQAAAAEAAABg6gAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAQAAAAAAAAAAAAAAECcAAOgDAAABAAAAAAAAAAAAAAABAAAAAAAAAAAAAAABAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAIDuNgAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAA" +
  "//8AAP////8BAAAAAAAAAAAAAAAAAAAANAEDACYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAEAAAAAAAAAYAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAGAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA8AAYABwAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAUAAcAAAAA" +
  "AAAAAAAAAAAAAAAAAAUACAAAAAAAJAAOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "BAA+gAQAQYA=",
  "WAcAABAAAgAgy8dwPy0AAAAAAQADAAAAAhAAAAAAAAAIAAMAYnIwAAgADQDoAwAABQAQAAIAAAAF" +
  "ABEAAAAAAAUAQwABAAAACAAEANwFAAAIADIARAAAAAgAMwD//wAACAAbAAAAAAAIAB4AAAAAAAgA" +
  "PQAAAAAACAAfAAEAAAAIACgA//8AAAgAKQAAAAEACAA6AAAAAQAIAD8AAAABAAgAQAAAAAEACAA7" +
  "AAAAAQAIADwA//8AAAgAQgAAAAAACAAgAAEAAAAFACEAAAAAAAgAIwABAAAACAAvAAAAAAAIADAA" +
  "AQAAAAYARAAAAAAABgBFAAAAAAAFACcAAAAAAAoAAQACAAAAAAIAAAoAAgD///////8AAMwAFwAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGQABwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAMACsABQACAAAAAACcARIACwABAGJyaWRnZQAAjAECAAwAEAAAAAAAAAAA" +
  "AAwAEQAAAAAAAAAAAAwAEgAAAAAAAAAAAAwAEwAAAAAAAAAAAAgAAQDcBQAACAACAMgAAAAIAAMA" +
  "0AcAAAgABAAwdQAACAAFAAAAAAAGAAYAAIAAAAUABwAAAAAABgAJAAAAAAAMAAsAgAACAAAAAAIM" +
  "AAoAgAACAAAAAAIGAAwAAAAAAAgADQAAAAAABQAOAAAAAAAFAA8AAAAAAAoAFAABgMIAAAAAAAwA" +
  "LgAAAAAAHwAAAAgAMAAAAAAACAAxAAAAAAAFABYAAQAAAAUAFwABAAAABQAYAAAAAAAFABkAAAAA" +
  "AAUAKgAAAAAACAAaABAAAAAIABsAABAAAAgAHAACAAAACAAdAAIAAAAFACsAAgAAAAUALAABAAAA" +
  "DAAeAGQAAAAAAAAADAAfAJBlAAAAAAAADAAgAJxjAAAAAAAADAAhANQwAAAAAAAADAAiAOgDAAAA" +
  "AAAADAAjADQMAAAAAAAABQAkAAAAAAAFACUAAAAAAAUAJgAAAAAACQAGAG5vb3AAAAAAMAMaAIwA" +
  "AgCIAAEAAAAAAAAAAAAAAAAAAQAAAAEAAAABAAAAAQAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQJwAA" +
  "6AMAAAAAAAAAAAAAAAAAAAAAAAABAAAAoAIKAAgAAQAAAAAAFAAFAP//AAB/4AAA0GcAAOgDAAD0" +
  "AAIAAAAAAEAAAADcBQAAAQAAAAEAAAABAAAAAQAAAP////+gDwAA6AMAAAAAAACAOgkAgFEBAAMA" +
  "AABYAgAAEAAAAAAAAAABAAAAAQAAAAEAAABg6gAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAA" +
  "AAAAAAAAAAAAECcAAOgDAAABAAAAAAAAAAAAAAABAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAIDuNgAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAAAAAAAA//8AAP////8B" +
  "AAAAAAAAAAAAAAAAAAAANAEDACYAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA8AAYABwAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAUAAcAAAAAAAAAAAAAAAAA" +
  "AAAAAAUACAAAAAAAJAAOAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAA+gAQAQYDM" +
  "BQAAEAACACDLx3A/LQAAAAABAAQAAACCAAAAAAAAAAkAAwBpZmIwAAAAAAgADQAgAAAABQAQAAIA" +
  "AAAFABEAAAAAAAUAQwAAAAAACAAEANwFAAAIADIAAAAAAAgAMwAAAAAACAAbAAAAAAAIAB4AAAAA" +
  "AAgAPQAAAAAACAAfAAEAAAAIACgA//8AAAgAKQAAAAEACAA6AAAAAQAIAD8AAAABAAgAQAAAAAEA" +
  "CAA7APj/BwAIADwA//8AAAgAQgAAAAAACAAgAAEAAAAFACEAAQAAAAgAIwAAAAAACAAvAAAAAAAI" +
  "ADAAAAAAAAYARAAAAAAABgBFAAAAAAAFACcAAAAAAAoAAQACAAAAAAMAAAoAAgD///////8AAMwA" +
  "FwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAGQABwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAMACsABQACAAAAAAAMABIACAABAGlmYgAJAAYAbm9vcAAAAAAwAxoA" +
  "jAACAIgAAQAAAAAAAAAAAAAAAAABAAAAAQAAAAEAAAABAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAn" +
  "AADoAwAAAAAAAAAAAAAAAAAAAAAAAAEAAACgAgoACAABAAAAAAAUAAUA//8AAH/gAACAWgAA6AMA" +
  "APQAAgAAAAAAQAAAANwFAAABAAAAAQAAAAEAAAABAAAA/////6APAADoAwAAAAAAAIA6CQCAUQEA" +
  "AwAAAFgCAAAQAAAAAAAAAAEAAAABAAAAAQAAAGDqAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAD/" +
  "////AAAAAAAAAAAQJwAA6AMAAAEAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAgO42AAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAAAAAAAD//wAA////" +
  "/wEAAAAAAAAAAAAAAAAAAAA0AQMAJgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADwABgAHAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABQABwAAAAAAAAAAAAAA" +
  "AAAAAAAABQAIAAAAAAAkAA4AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEAD6ABABB" +
  "gA==",
  "FAAAAAMAAgAgy8dwPy0AAAAAAAA=",
];

/** `addr` dump of the capture namespace, one string per datagram. */
const ADDR_DUMP: readonly string[] = [
  "TAAAABQAAgAhy8dwPy0AAAIIgP4BAAAACAABAH8AAAEIAAIAfwAAAQcAAwBsbwAACAAIAIAAAAAU" +
  "AAYA//////////+A4AAAgOAAAFAAAAAUAAIAIcvHcD8tAAACEIAAAgAAAAgAAQAKWAACCAACAApY" +
  "AAIJAAMAZXRoMAAAAAAIAAgAgAAAABQABgD//////////4DgAACA4AAAUAAAABQAAgAhy8dwPy0A" +
  "AAqAgP4BAAAAFAABAAAAAAAAAAAAAAAAAAAAAAEUAAYA//////////+A4AAAgOAAAAgACACAAAAA" +
  "BQALAAEAAABIAAAAFAACACHLx3A/LQAACkCCAAIAAAAUAAEA/QAAiAAAAAAAAAAAAAAAAhQABgD/" +
  "/////////4DgAACA4AAACAAIAIIAAABQAAAAFAACACHLx3A/LQAACkDA/QIAAAAUAAEA/oAAAAAA" +
  "AAAAAAD//gAAARQABgD//////////4DgAACA4AAACAAIAMAAAAAFAAsAAwAAAA==",
  "FAAAAAMAAgAhy8dwPy0AAAAAAAA=",
];

/** `route` dump of the capture namespace, one string per datagram. */
const ROUTE_DUMP: readonly string[] = [
  "NAAAABgAIgAiy8dwPy0AAAIAAAD+AwABAAAAAAgADwD+AAAACAAFAApYAAEIAAQAAgAAADwAAAAY" +
  "ACIAIsvHcD8tAAACEAAA/gL9AQAAAAAIAA8A/gAAAAgAAQAKWAAACAAHAApYAAIIAAQAAgAAADwA" +
  "AAAYACIAIsvHcD8tAAACIAAA/wL+AgAAAAAIAA8A/wAAAAgAAQAKWAACCAAHAApYAAIIAAQAAgAA" +
  "ADwAAAAYACIAIsvHcD8tAAACIAAA/wL9AwAAAAAIAA8A/wAAAAgAAQAKWP//CAAHAApYAAIIAAQA" +
  "AgAAADwAAAAYACIAIsvHcD8tAAACCAAA/wL+AgAAAAAIAA8A/wAAAAgAAQB/AAAACAAHAH8AAAEI" +
  "AAQAAQAAADwAAAAYACIAIsvHcD8tAAACIAAA/wL+AgAAAAAIAA8A/wAAAAgAAQB/AAABCAAHAH8A" +
  "AAEIAAQAAQAAADwAAAAYACIAIsvHcD8tAAACIAAA/wL9AwAAAAAIAA8A/wAAAAgAAQB/////CAAH" +
  "AH8AAAEIAAQAAQAAAHQAAAAYACIAIsvHcD8tAAAKQAAA/gIAAQAAAAAIAA8A/gAAABQAAQD9AACI" +
  "AAAAAAAAAAAAAAAACAAGAAABAAAIAAQAAgAAACQADAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAUAFAAAAAAAdAAAABgAIgAiy8dwPy0AAApAAAD+AgABAAAAAAgADwD+AAAAFAABAP6A" +
  "AAAAAAAAAAAAAAAAAAAIAAYAAAEAAAgABAACAAAAJAAMAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAABQAUAAAAAAB0AAAAGAAiACLLx3A/LQAACoAAAP8CAAIAAAAACAAPAP8AAAAUAAEA" +
  "AAAAAAAAAAAAAAAAAAAAAQgABgAAAAAACAAEAAEAAAAkAAwAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAFABQAAAAAAHQAAAAYACIAIsvHcD8tAAAKgAAA/wIAAgAAAAAIAA8A/wAAABQA" +
  "AQD9AACIAAAAAAAAAAAAAAACCAAGAAAAAAAIAAQAAgAAACQADAAAAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAUAFAAAAAAAdAAAABgAIgAiy8dwPy0AAAoIAAD/AgAFAAAAAAgADwD/AAAA" +
  "FAABAP8AAAAAAAAAAAAAAAAAAAAIAAYAAAEAAAgABAACAAAAJAAMAAAAAAAAAAAAAAAAAAAAAAAA" +
  "AAAAAAAAAAAAAAAAAAAABQAUAAAAAAA=",
  "FAAAAAMAAgAiy8dwPy0AAAAAAAA=",
];

type Kind = RtnetlinkMessage["kind"];

function only<K extends Kind>(
  message: RtnetlinkMessage | undefined,
  kind: K,
): Extract<RtnetlinkMessage, { kind: K }> {
  if (message?.kind !== kind) {
    throw new Error(`expected ${kind}, got ${message?.kind}`);
  }
  return message as Extract<RtnetlinkMessage, { kind: K }>;
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function decodeDump(dump: readonly string[]): RtnetlinkMessage[] {
  return dump.flatMap((datagram) => decodeMessages(fromBase64(datagram)));
}

nsTest("decodeMessages: captured link dump matches ip -j", () => {
  const messages = decodeDump(LINK_DUMP);
  assertEquals(messages.at(-1)?.kind, "done");
  const links = messages.flatMap((m) => m.kind === "link" ? [m.link] : []);
  assertEquals(
    links.map((
      l,
    ) => [
      l.index,
      l.name,
      l.mac,
      l.mtu,
      linkFlagNames(l.flags),
      l.operstate,
      l.kind,
    ]),
    [
      [
        1,
        "lo",
        "00:00:00:00:00:00",
        65536,
        ["LOOPBACK", "UP", "LOWER_UP"],
        "UNKNOWN",
        undefined,
      ],
      [
        2,
        "eth0",
        "02:00:00:00:00:01",
        1500,
        ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
        "UP",
        "veth",
      ],
      [
        3,
        "br0",
        "02:00:00:00:00:02",
        1500,
        ["BROADCAST", "MULTICAST"],
        "DOWN",
        "bridge",
      ],
      [
        4,
        "ifb0",
        "02:00:00:00:00:03",
        1500,
        ["BROADCAST", "NOARP"],
        "DOWN",
        "ifb",
      ],
    ],
  );
  const eth0 = links[1]!;
  assertEquals([eth0.link, eth0.linkNetnsId, eth0.minMtu, eth0.maxMtu], [
    2,
    0,
    68,
    65535,
  ]);
  assertEquals(eth0.broadcast, "ff:ff:ff:ff:ff:ff");
  for (const link of links) {
    assert(link.stats !== undefined, `${link.name} has stats64`);
    assertEquals(Object.keys(link.stats ?? {}), [...LINK_STATS_FIELDS]);
  }
});

nsTest("decodeMessages: captured address dump matches ip -j", () => {
  const addresses = decodeDump(ADDR_DUMP).flatMap((m) =>
    m.kind === "address" ? [m.address] : []
  );
  assertEquals(
    addresses.map((
      a,
    ) => [a.family, a.index, `${a.address}/${a.prefixLength}`, a.scope]),
    [
      [AF.INET, 1, "127.0.0.1/8", 254],
      [AF.INET, 2, "10.88.0.2/16", 0],
      [AF.INET6, 1, "::1/128", 254],
      [AF.INET6, 2, "fd00:88::2/64", 0],
      [AF.INET6, 2, "fe80::ff:fe00:1/64", 253],
    ],
  );
  assertEquals(addresses[1]!.label, "eth0");
  assert(
    (addresses[3]!.flags & IFA_F.NODAD) !== 0,
    "nodad flag from IFA_FLAGS",
  );
});

nsTest("decodeMessages: captured route dump matches ip -j", () => {
  const routes = decodeDump(ROUTE_DUMP).flatMap((m) =>
    m.kind === "route" ? [m.route] : []
  );
  const seen = routes.map((r) => [
    r.table,
    r.destination === undefined
      ? "default"
      : `${r.destination}/${r.destinationLength}`,
    r.gateway,
    r.outputIndex,
    r.type,
  ]);
  assertEquals(seen.slice(0, 4), [
    [254, "default", "10.88.0.1", 2, 1],
    [254, "10.88.0.0/16", undefined, 2, 1],
    [255, "10.88.0.2/32", undefined, 2, 2],
    [255, "10.88.255.255/32", undefined, 2, 3],
  ]);
  const v6 = routes.filter((r) => r.family === AF.INET6);
  assert(
    v6.some((r) =>
      r.destination === "fd00:88::" && r.priority === 256 && r.table === 254
    ),
  );
  assert(
    v6.some((r) =>
      r.destination === "ff00::" && r.destinationLength === 8 && r.type === 5
    ),
  );
});

/** Re-encodes a message from its header, fixed struct and raw attributes. */
function reencode(
  bytes: Uint8Array,
  offset: number,
  structSize: number,
): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = readHeader(view, offset, bytes.length);
  const writer = new MessageWriter(header.type, header.flags);
  const body = offset + SIZE.NLMSGHDR;
  writer.struct(structSize, (out, at) => {
    for (let i = 0; i < structSize; i++) out.setUint8(at + i, bytes[body + i]!);
  });
  let p = body + structSize;
  while (p + 4 <= offset + header.length) {
    const length = view.getUint16(p, true);
    writer.bytes(
      view.getUint16(p + 2, true),
      bytes.subarray(p + 4, p + length),
    );
    p += align(length);
  }
  return writer.finish(header.seq, header.pid);
}

nsTest(
  "MessageWriter: every captured message re-encodes to the same bytes",
  () => {
    const sizes: Record<number, number> = {
      [RTM.NEWLINK]: SIZE.IFINFOMSG,
      [RTM.NEWADDR]: SIZE.IFADDRMSG,
      [RTM.NEWROUTE]: SIZE.RTMSG,
    };
    let count = 0;
    for (
      const datagram of [...LINK_DUMP, ...ADDR_DUMP, ...ROUTE_DUMP].map(
        fromBase64,
      )
    ) {
      const view = new DataView(datagram.buffer);
      for (let offset = 0; offset < datagram.length;) {
        const header = readHeader(view, offset, datagram.length);
        const size = sizes[header.type];
        if (size !== undefined) {
          assertEquals(
            reencode(datagram, offset, size),
            datagram.subarray(offset, offset + header.length),
          );
          count++;
        }
        offset += align(header.length);
      }
    }
    assertEquals(count, 4 + 5 + 12);
  },
);

nsTest(
  "createLinkRequest: a veth request carries its peer, nested by schema",
  () => {
    const writer = createLinkRequest(
      {
        kind: "veth",
        name: "a0",
        mtu: 1400,
        peer: { name: "b0", netns: { fd: 7 } },
      },
      () => 0,
    );
    const bytes = writer.finish(1);
    const view = new DataView(bytes.buffer);
    const header = readHeader(view, 0, bytes.length);
    assertEquals(header.type, RTM.NEWLINK);
    assertEquals(
      header.flags,
      NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL,
    );
    assertEquals(decodeVethPeer(bytes, view, SIZE.NLMSGHDR, bytes.length), {
      name: "b0",
      netnsFd: 7,
    });
    const message = only(decodeMessages(bytes)[0], "link");
    assertEquals([message.link.name, message.link.kind, message.link.mtu], [
      "a0",
      "veth",
      1400,
    ]);
  },
);

nsTest(
  "createLinkRequest: macvlan resolves its parent and sets the mode",
  () => {
    const bytes = createLinkRequest(
      { kind: "macvlan", name: "mv0", parent: "eth0", mode: "bridge" },
      (link) => link === "eth0" ? 5 : -1,
    ).finish(2);
    const message = only(decodeMessages(bytes)[0], "link");
    assertEquals([message.link.kind, message.link.link], ["macvlan", 5]);
  },
);

nsTest("addressRequest: round-trips through the address decoder", () => {
  for (const cidr of ["10.1.2.3/24", "fd00::5/64"]) {
    const prefix = parsePrefix(cidr);
    const bytes = addressRequest(RTM.NEWADDR, NLM_F.REQUEST, 9, cidr, {
      noDad: true,
    }).finish(3);
    const message = only(decodeMessages(bytes)[0], "address");
    assertEquals(
      [message.address.family, message.address.index, message.address.address],
      [prefix.family, 9, cidr.split("/")[0]],
    );
    assertEquals(message.address.prefixLength, prefix.prefixLength);
    assertEquals(message.address.flags, IFA_F.NODAD);
  }
});

nsTest("routeRequest: a default route and a table above 255 round-trip", () => {
  const def = routeRequest(
    RTM.NEWROUTE,
    NLM_F.REQUEST,
    { destination: "default", gateway: "10.0.0.1", device: "eth0" },
    () => 4,
  ).finish(4);
  const a = only(decodeMessages(def)[0], "route");
  assertEquals(
    [
      a.route.destination,
      a.route.destinationLength,
      a.route.gateway,
      a.route.outputIndex,
      a.route.table,
    ],
    [undefined, 0, "10.0.0.1", 4, 254],
  );
  const big = routeRequest(
    RTM.NEWROUTE,
    NLM_F.REQUEST,
    { destination: "2001:db8::/32", device: 3, table: 1000, priority: 7 },
    (l) => l as number,
  ).finish(5);
  const b = only(decodeMessages(big)[0], "route");
  assertEquals(
    [
      b.route.family,
      b.route.destination,
      b.route.table,
      b.route.priority,
      b.route.scope,
    ],
    [AF.INET6, "2001:db8::", 1000, 7, 253],
  );
  assertEquals(
    new DataView(big.buffer).getUint8(SIZE.NLMSGHDR + 4),
    0,
    "rtm_table 0 above 255",
  );
});

nsTest("decodeLinkStats: accepts the shorter payloads of older kernels", () => {
  const full = new Uint8Array(200);
  const view = new DataView(full.buffer);
  for (let i = 0; i < 25; i++) view.setUint32(i * 8, i + 1, true);
  view.setUint32(2 * 8 + 4, 1, true); // rxBytes above 2^32
  const stats = decodeLinkStats(view, 0, 200);
  assertEquals(stats.rxPackets, 1);
  assertEquals(stats.rxBytes, 3 + 4294967296);
  assertEquals(stats.rxOtherhostDropped, 25);
  const old = decodeLinkStats(view, 0, 184);
  assertEquals([old.txCompressed, old.rxNohandler, old.rxOtherhostDropped], [
    23,
    0,
    0,
  ]);
  assertEquals(decodeLinkStats(view, 0, 0).rxPackets, 0);
});

function errorReply(
  flags: number,
  error: number,
  tlvs: Uint8Array,
  echoed = 16,
): Uint8Array {
  const length = SIZE.NLMSGHDR + 4 + echoed + tlvs.length;
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, length, true);
  view.setUint16(4, NLMSG.ERROR, true);
  view.setUint16(6, flags, true);
  view.setInt32(16, error, true);
  view.setUint32(20, echoed, true);
  bytes.set(tlvs, SIZE.NLMSGHDR + 4 + echoed);
  return bytes;
}

function msgTlv(text: string): Uint8Array {
  const payload = new TextEncoder().encode(text + "\0");
  const out = new Uint8Array(align(4 + payload.length));
  new DataView(out.buffer).setUint16(0, 4 + payload.length, true);
  new DataView(out.buffer).setUint16(2, 1, true);
  out.set(payload, 4);
  return out;
}

nsTest("replyStatus: errors carry the kernel's extended-ACK text", () => {
  const capped = errorReply(
    NLM_F.CAPPED | NLM_F.ACK_TLVS,
    -17,
    msgTlv("ipv4: Address already assigned"),
  );
  const view = new DataView(capped.buffer);
  assertEquals(
    replyStatus(capped, view, 0, readHeader(view, 0, capped.length)),
    {
      kind: "error",
      error: -17,
      message: "ipv4: Address already assigned",
    },
  );
  // Not capped: the whole echoed request sits between the int and the TLVs.
  const full = errorReply(NLM_F.ACK_TLVS, -22, msgTlv("bad"), 24);
  const fullView = new DataView(full.buffer);
  assertEquals(
    replyStatus(full, fullView, 0, readHeader(fullView, 0, full.length)).kind,
    "error",
  );
  const decoded = only(decodeMessages(full)[0], "error");
  assertEquals([decoded.error, decoded.message], [-22, "bad"]);
  const ack = errorReply(NLM_F.CAPPED, 0, new Uint8Array());
  const ok = only(decodeMessages(ack)[0], "error");
  assertEquals(ok.error, 0);
});

nsTest("replyStatus: NLMSG_DONE with an error is reported as such", () => {
  const tlv = msgTlv("Invalid header for route dump request");
  const bytes = new Uint8Array(SIZE.NLMSGHDR + 4 + tlv.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, bytes.length, true);
  view.setUint16(4, NLMSG.DONE, true);
  view.setUint16(6, NLM_F.MULTI | NLM_F.ACK_TLVS, true);
  view.setInt32(16, -22, true);
  bytes.set(tlv, 20);
  const done = only(decodeMessages(bytes)[0], "done");
  assertEquals([done.error, done.message], [
    -22,
    "Invalid header for route dump request",
  ]);
});

nsTest(
  "decoders: truncated and overlong inputs raise NetlinkDecodeError",
  () => {
    const datagram = fromBase64(LINK_DUMP[0]!);
    for (const cut of [3, 15, 17, 40, 100, 1000]) {
      const bytes = datagram.slice(0, cut);
      // As received: the header claims more than there is.
      assertThrows(() => decodeMessages(bytes), NetlinkDecodeError);
      // Header patched to the cut: decodes what fits, or reports what overruns.
      if (cut >= 16) {
        new DataView(bytes.buffer).setUint32(0, cut, true);
        try {
          decodeMessages(bytes);
        } catch (error) {
          assert(
            error instanceof NetlinkDecodeError,
            `cut at ${cut}: ${error}`,
          );
        }
      }
    }
    const zeroAttr = new Uint8Array(8); // an attribute claiming length 0
    assertThrows(
      () => forEachAttribute(new DataView(zeroAttr.buffer), 0, 8, () => {}),
      NetlinkDecodeError,
    );
    const shortU32 = new MessageWriter(RTM.NEWLINK, 0).struct(
      SIZE.IFINFOMSG,
      () => {},
    )
      .u16(IFLA.MTU, 1500).finish(1);
    assertThrows(
      () => decodeMessages(shortU32),
      NetlinkDecodeError,
      "u32 attribute",
    );
  },
);

nsTest("formatIPv6/parseIP: RFC 5952 text and back", () => {
  const cases = [
    "::",
    "::1",
    "fd00::1",
    "fe80::ff:fe00:1",
    "2001:db8:0:1:1:1:1:1",
    "2001:db8::1:0:0:1",
    "::ffff:10.0.0.1",
    "1:0:0:2::3",
  ];
  for (const text of cases) {
    const ip = parseIP(text);
    assertEquals(ip.family, AF.INET6);
    assertEquals(formatIPv6(ip.bytes), text);
  }
  assertThrows(() => parseIP("1::2::3"));
  assertThrows(() => parseIP("10.0.0.256"));
  assertThrows(() => parsePrefix("10.0.0.1/33"));
});

nsTest("prefixContains/isLinkLocal: the checks inspect relies on", () => {
  assert(prefixContains(parsePrefix("10.88.0.2/16"), parseIP("10.88.255.1")));
  assert(!prefixContains(parsePrefix("10.88.0.2/16"), parseIP("10.89.0.1")));
  assert(prefixContains(parsePrefix("fd00::2/64"), parseIP("fd00::1")));
  assert(!prefixContains(parsePrefix("fd00::2/64"), parseIP("10.0.0.1")));
  assert(prefixContains(parsePrefix("0.0.0.0/0"), parseIP("1.2.3.4")));
  assert(isLinkLocal(parseIP("fe80::1")));
  assert(isLinkLocal(parseIP("169.254.3.4")));
  assert(!isLinkLocal(parseIP("fd00::1")));
  assert(!isLinkLocal(parseIP("10.0.0.1")));
});

nsTest(
  "MessageWriter: nests close with the right lengths, attributes are padded",
  () => {
    const bytes = new MessageWriter(RTM.NEWLINK, NLM_F.REQUEST)
      .struct(SIZE.IFINFOMSG, () => {})
      .begin(IFLA.LINKINFO).string(1, "abc").begin(2).u8(1, 9).end().end()
      .finish(1);
    const view = new DataView(bytes.buffer);
    assertEquals(bytes.length, 16 + 16 + 4 + 8 + 4 + 8);
    assertEquals(view.getUint16(32, true), 4 + 8 + 4 + 8); // LINKINFO covers both children
    assertEquals(view.getUint16(32 + 2, true), IFLA.LINKINFO | 0x8000);
    assertEquals(view.getUint16(32 + 12, true), 12); // inner nest: header + u8 attr (5, padded to 8)
  },
);
