/**
 * Fuzzing the link and address decoders with everything built on them:
 * mutated dumps of a namespace holding every link kind this kernel has,
 * nsnet-encoded random links of every kind table (vlan, bond, ipvlan...
 * included), and random bytes. Decoding may raise only NetlinkDecodeError;
 * what decodes must also turn into ip's JSON and encode back without any
 * error, and re-encoding is stable (encode∘decode is idempotent).
 *
 * NSNET_FUZZ_CASES sets the number of cases (default 100,000);
 * NSNET_FUZZ_SEED replays a run.
 */
import { assert, assertEquals } from "./_assert.ts";
import { nsTest, run } from "./_helpers.ts";
import { fuzzDecoder, prng } from "./_fixtures/fuzz.ts";
import { randomLink } from "./_fixtures/links.ts";
import { nameOf } from "./_fixtures/netns.ts";
import { newNS } from "../lib/netns/create.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import {
  type Address,
  addressesIpJson,
  decodeMessages,
  encodeLink,
  IFLA,
  type Link,
  linkIpJson,
  MessageWriter,
  NetlinkSocket,
  NLM_F,
  RTM,
  SIZE,
} from "../lib/netlink/mod.ts";

function corpus(): Uint8Array[] {
  const ns = newNS();
  try {
    const ip = (line: string): string =>
      run("ip", "-n", nameOf(ns), ...line.split(" "));
    ip("link add v0 type veth peer name v1");
    ip("link add br0 type bridge");
    ip("link set v1 master br0");
    ip("link add mv0 link v0 type macvlan mode vepa");
    ip("link add mvt0 link v0 type macvtap mode bridge");
    ip(
      "link add vx0 type vxlan id 7 dstport 4789 local 10.0.0.1 remote 10.0.0.2 dev v0",
    );
    ip("tuntap add tp0 mode tap vnet_hdr");
    ip("link add ifb0 type ifb");
    ip("addr add 10.1.0.1/24 dev v0");
    ip("addr add fd00::1/64 dev v0 nodad valid_lft 100 preferred_lft 50");
    using sock = NetlinkSocket.open(ns);
    const dump = (type: number, size: number): Uint8Array[] =>
      sock.dumpRaw(
        new MessageWriter(type, NLM_F.REQUEST | NLM_F.DUMP).struct(
          size,
          () => {},
        ).u32(IFLA.EXT_MASK, 1),
      );
    const messages = [
      ...dump(RTM.GETLINK, SIZE.IFINFOMSG),
      ...dump(RTM.GETADDR, SIZE.IFADDRMSG),
    ];
    const random = prng(12);
    for (let i = 0; i < 200; i++) {
      messages.push(encodeLink(randomLink(random)).finish(i));
    }
    return messages;
  } finally {
    unmountNS(ns);
  }
}

/** Decode, then everything built on the decoded objects; throws only NetlinkDecodeError from decoding. */
function decodeAndUse(bytes: Uint8Array): void {
  const links: Link[] = [];
  const addresses: Address[] = [];
  for (const m of decodeMessages(bytes)) {
    if (m.kind === "link") links.push(m.link);
    if (m.kind === "address") addresses.push(m.address);
  }
  for (const link of links) {
    linkIpJson(link, links, { details: true, stats: true });
    const once = encodeLink(link).finish(1);
    const [again] = decodeMessages(once);
    assert(again?.kind === "link");
    assertEquals(encodeLink(again.link).finish(1), once);
  }
  addressesIpJson(links, addresses);
}

nsTest(
  "link and address decoders: mutated dumps of every kind raise only NetlinkDecodeError; what decodes encodes back stably",
  () => {
    const result = fuzzDecoder({
      seeds: corpus(),
      decode: decodeAndUse,
      types: [16, 17, 20, 21, 2, 3],
    });
    assert(result.messages > 30, `corpus of ${result.messages} messages`);
  },
);
