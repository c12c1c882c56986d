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
import { newNS } from "../lib/netns/create.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import {
  addAddress,
  addressRequest,
  addRoute,
  align,
  createLink,
  createLinkRequest,
  decodeMessages,
  decodeVethPeer,
  IFLA,
  MessageWriter,
  NetlinkDecodeError,
  NetlinkSocket,
  NLM_F,
  NLMSG,
  routeRequest,
  RTM,
  SIZE,
} from "../lib/netlink/mod.ts";

const CASES = Number(Deno.env.get("NSNET_FUZZ_CASES") ?? 100_000);
const SEED = Number(Deno.env.get("NSNET_FUZZ_SEED") ?? Date.now() % 1_000_000);

/** A small, seedable PRNG (mulberry32), so a failing case can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

/** Splits datagrams into single messages, so mutations often hit one message's fields. */
function singles(datagrams: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const d of datagrams) {
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    for (let p = 0; p + 16 <= d.length;) {
      const length = view.getUint32(p, true);
      if (length < 16 || p + length > d.length) break;
      out.push(d.slice(p, p + length));
      p += align(length);
    }
  }
  return out;
}

function mutate(input: Uint8Array, random: () => number): Uint8Array {
  let bytes = input.slice();
  const pick = (n: number): number => Math.floor(random() * n);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds && bytes.length > 0; r++) {
    const view = new DataView(bytes.buffer);
    switch (pick(8)) {
      case 0: // flip a bit
        bytes[pick(bytes.length)]! ^= 1 << pick(8);
        break;
      case 1: // set a byte to an edge value
        bytes[pick(bytes.length)] = [0, 1, 0x7f, 0x80, 0xff][pick(5)]!;
        break;
      case 2: // corrupt an attribute or header length (u16 at an aligned offset)
        if (bytes.length >= 4) {
          view.setUint16(
            pick(bytes.length >> 2) * 4,
            [0, 1, 3, 4, 5, 8, 0xffff, pick(0x10000)][pick(8)]!,
            true,
          );
        }
        break;
      case 3: // truncate, keeping or fixing the header length
        bytes = bytes.slice(0, pick(bytes.length + 1));
        if (bytes.length >= 4 && random() < 0.5) {
          new DataView(bytes.buffer).setUint32(0, bytes.length, true);
        }
        break;
      case 4: // turn it into an error or done message
        if (bytes.length >= 6) {
          view.setUint16(4, [NLMSG.ERROR, NLMSG.DONE][pick(2)]!, true);
        }
        if (bytes.length >= 8) view.setUint16(6, pick(0x10000), true);
        break;
      case 5: // change the message type to another rtnetlink object
        if (bytes.length >= 6) {
          view.setUint16(4, [16, 17, 20, 21, 24, 25, 2, 3, 1][pick(9)]!, true);
        }
        break;
      case 6: { // append garbage
        const extra = new Uint8Array(pick(64));
        for (let i = 0; i < extra.length; i++) extra[i] = pick(256);
        const grown = new Uint8Array(bytes.length + extra.length);
        grown.set(bytes);
        grown.set(extra, bytes.length);
        bytes = grown;
        break;
      }
      case 7: // set the outer length to something else
        if (bytes.length >= 4) {
          view.setUint32(
            0,
            [0, 15, 16, bytes.length + 4, pick(1 << 20)][pick(5)]!,
            true,
          );
        }
        break;
    }
  }
  return bytes;
}

function randomMessage(random: () => number): Uint8Array {
  const length = Math.floor(random() * 300);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  const view = new DataView(bytes.buffer);
  if (length >= 16 && random() < 0.8) {
    view.setUint32(0, length, true);
    view.setUint16(4, [16, 20, 24, 2, 3][Math.floor(random() * 5)]!, true);
  }
  return bytes;
}

/** Decodes `bytes` inside a larger buffer, so a read past its end would not silently succeed. */
function decodeChecked(bytes: Uint8Array): void {
  const padded = new Uint8Array(bytes.length + 64).fill(0xaa);
  padded.set(bytes, 32);
  const window = padded.subarray(32, 32 + bytes.length);
  try {
    decodeMessages(window);
    const view = new DataView(
      window.buffer,
      window.byteOffset,
      window.byteLength,
    );
    if (window.length >= 16) decodeVethPeer(window, view, 16, window.length);
  } catch (error) {
    if (error instanceof NetlinkDecodeError) return;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(
      "",
    );
    throw new Error(`decoder raised ${error} on ${hex} (seed ${SEED})`, {
      cause: error,
    });
  }
}

nsTest(
  `decoders: ${CASES} random and mutated messages raise only NetlinkDecodeError`,
  () => {
    const random = prng(SEED);
    const datagrams = corpus();
    const messages = singles(datagrams);
    const seeds = [...datagrams, ...messages];
    assert(messages.length > 20, `corpus of ${messages.length} messages`);
    for (const seed of seeds) decodeMessages(seed); // the unmutated corpus decodes cleanly
    const started = performance.now();
    for (let i = 0; i < CASES; i++) {
      const r = random();
      const bytes = r < 0.15 ? randomMessage(random) : mutate(
        r < 0.3
          ? seeds[Math.floor(random() * datagrams.length)]!
          : messages[Math.floor(random() * messages.length)]!,
        random,
      );
      decodeChecked(bytes);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`  ${CASES} cases in ${seconds.toFixed(1)} s (seed ${SEED})`);
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
