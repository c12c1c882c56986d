/**
 * Decoder fuzzing: random bytes and mutated real messages (dumps captured
 * from a fresh namespace, requests nsnet builds) may only ever raise the
 * codec's own NetlinkDecodeError — never another error, a hang, or a read
 * out of bounds (which a DataView reports as RangeError).
 *
 * NSNET_FUZZ_CASES sets the number of cases (default 100,000);
 * NSNET_FUZZ_SEED replays a run.
 */
import { assert } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import { fuzzCases, fuzzDecoder } from "./_fixtures/fuzz.ts";
import { newNS } from "../lib/netns/create.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import {
  addAddress,
  addressRequest,
  addRoute,
  createLink,
  createLinkRequest,
  decodeMessages,
  decodeVethPeer,
  IFLA,
  MessageWriter,
  NetlinkDecodeError,
  NetlinkSocket,
  NLM_F,
  routeRequest,
  RTM,
  SIZE,
} from "../lib/netlink/mod.ts";

const CASES = fuzzCases();

/** Real messages: dumps from a namespace with some of everything, and nsnet's own requests. */
function corpus(): Uint8Array[] {
  const ns = newNS();
  try {
    using sock = NetlinkSocket.open(ns);
    createLink(sock, {
      kind: "veth",
      name: "v0",
      peer: { name: "v1" },
      up: true,
    });
    createLink(sock, { kind: "bridge", name: "br0", up: true });
    createLink(sock, { kind: "ifb", name: "ifb0" });
    addAddress(sock, "v0", "10.1.0.1/24");
    addAddress(sock, "v0", "fd00:1::1/64", { noDad: true });
    addRoute(sock, { destination: "default", gateway: "10.1.0.254" });
    const dump = (type: number, size: number): Uint8Array[] =>
      sock.dumpRaw(
        new MessageWriter(type, NLM_F.REQUEST | NLM_F.DUMP).struct(
          size,
          () => {},
        ),
      );
    const messages: Uint8Array[] = [
      ...dump(RTM.GETLINK, SIZE.IFINFOMSG),
      ...dump(RTM.GETADDR, SIZE.IFADDRMSG),
      ...dump(RTM.GETROUTE, SIZE.RTMSG),
    ];
    const indexOf = (): number => 3;
    messages.push(
      createLinkRequest({
        kind: "veth",
        name: "a",
        peer: { name: "b", netns: { fd: 5 } },
      }, indexOf)
        .finish(1),
      createLinkRequest({
        kind: "vxlan",
        name: "vx",
        vni: 7,
        local: "10.0.0.1",
      }, indexOf)
        .finish(2),
      addressRequest(RTM.NEWADDR, NLM_F.REQUEST, 2, "fd00::1/64", {
        noDad: true,
      }).finish(3),
      routeRequest(RTM.NEWROUTE, NLM_F.REQUEST, {
        destination: "default",
        gateway: "10.0.0.1",
        device: 2,
      }, indexOf).finish(4),
    );
    return messages;
  } finally {
    unmountNS(ns);
  }
}

nsTest(
  `decoders: ${CASES} random and mutated messages raise only NetlinkDecodeError`,
  () => {
    const datagrams = corpus();
    const result = fuzzDecoder({
      seeds: datagrams,
      cases: CASES,
      clean: (bytes) => void decodeMessages(bytes),
      decode: (window) => {
        decodeMessages(window);
        const view = new DataView(
          window.buffer,
          window.byteOffset,
          window.byteLength,
        );
        if (window.length >= 16) {
          decodeVethPeer(window, view, 16, window.length);
        }
      },
    });
    assert(result.messages > 20, `corpus of ${result.messages} messages`);
  },
);

nsTest(
  "decoders: a header or attribute of length 0 cannot stall the decoder",
  () => {
    const zeroHeader = new Uint8Array(64);
    let error: unknown;
    try {
      decodeMessages(zeroHeader);
    } catch (e) {
      error = e;
    }
    assert(error instanceof NetlinkDecodeError);
    const writer = new MessageWriter(RTM.NEWLINK, 0).struct(
      SIZE.IFINFOMSG,
      () => {},
    ).u32(IFLA.MTU, 1);
    const bytes = writer.finish(1);
    new DataView(bytes.buffer).setUint16(32, 0, true); // the MTU attribute now claims length 0
    error = undefined;
    try {
      decodeMessages(bytes);
    } catch (e) {
      error = e;
    }
    assert(error instanceof NetlinkDecodeError);
  },
);
