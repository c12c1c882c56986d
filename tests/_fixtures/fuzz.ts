/**
 * The reusable part of decoder fuzzing: a seedable PRNG, mutation of real
 * (captured or built) netlink messages, random messages, and the one check
 * every fuzz file makes — a decoder may only ever raise the codec's own
 * NetlinkDecodeError, never another error or a read out of bounds (which a
 * DataView reports as RangeError).
 *
 * A fuzz file builds its corpus (dumps from a namespace, its own requests,
 * handmade bytes for kinds the kernel lacks) and calls {@link fuzzDecoder}:
 *
 * ```ts
 * nsTest("neighbours: fuzz", () => {
 *   const seeds = captureMyDumps();
 *   fuzzDecoder({ seeds, decode: (bytes) => decodeMessages(bytes) });
 * });
 * ```
 *
 * NSNET_FUZZ_CASES sets the number of cases (default 100,000);
 * NSNET_FUZZ_SEED replays a run.
 *
 * @module
 */

import { align, NetlinkDecodeError, NLMSG } from "../../lib/netlink/mod.ts";

/** The number of cases a fuzz run makes: NSNET_FUZZ_CASES, else 100,000. */
export function fuzzCases(fallback = 100_000): number {
  return Number(Deno.env.get("NSNET_FUZZ_CASES") ?? fallback);
}

/** The seed of this run: NSNET_FUZZ_SEED, else one derived from the clock (printed on failure). */
export function fuzzSeed(): number {
  return Number(
    Deno.env.get("NSNET_FUZZ_SEED") ?? Date.now() % 1_000_000,
  );
}

/** A small, seedable PRNG (mulberry32), so a failing case can be replayed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits datagrams into single messages, so mutations often hit one message's fields. */
export function singles(datagrams: Uint8Array[]): Uint8Array[] {
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

/** The rtnetlink message types a mutation may switch a message to (link, addr, route, neigh, rule, tc). */
export const FUZZ_MESSAGE_TYPES: readonly number[] = [
  16,
  17,
  20,
  21,
  24,
  25,
  28,
  29,
  32,
  33,
  36,
  37,
  40,
  41,
  44,
  45,
  2,
  3,
  1,
];

/**
 * One to four mutations of a copy of `input`: bit flips, edge bytes,
 * corrupted lengths, truncation, a changed type, appended garbage.
 */
export function mutate(
  input: Uint8Array,
  random: () => number,
  types: readonly number[] = FUZZ_MESSAGE_TYPES,
): Uint8Array {
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
          view.setUint16(4, types[pick(types.length)]!, true);
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

/** Random bytes, usually with a plausible header (length and one of `types`). */
export function randomMessage(
  random: () => number,
  types: readonly number[] = [16, 20, 24, 2, 3],
): Uint8Array {
  const length = Math.floor(random() * 300);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  const view = new DataView(bytes.buffer);
  if (length >= 16 && random() < 0.8) {
    view.setUint32(0, length, true);
    view.setUint16(4, types[Math.floor(random() * types.length)]!, true);
  }
  return bytes;
}

/**
 * Runs `decode` on `bytes` placed inside a larger buffer (so a read past
 * its end would not silently succeed) and throws, with the bytes in hex
 * and the seed, if it raises anything but NetlinkDecodeError.
 */
export function decodeChecked(
  bytes: Uint8Array,
  decode: (window: Uint8Array) => void,
  seed: number,
): void {
  const padded = new Uint8Array(bytes.length + 64).fill(0xaa);
  padded.set(bytes, 32);
  const window = padded.subarray(32, 32 + bytes.length);
  try {
    decode(window);
  } catch (error) {
    if (error instanceof NetlinkDecodeError) return;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(
      "",
    );
    throw new Error(`decoder raised ${error} on ${hex} (seed ${seed})`, {
      cause: error,
    });
  }
}

/** What {@link fuzzDecoder} needs. */
export interface FuzzOptions {
  /** Real messages or datagrams; each must decode cleanly unmutated. */
  seeds: Uint8Array[];
  /** The decoder under test; called on every case. */
  decode: (bytes: Uint8Array) => void;
  /** What the unmutated seeds must pass without any error (default `decode`). */
  clean?: (bytes: Uint8Array) => void;
  /** Number of cases (default {@link fuzzCases}). */
  cases?: number;
  /** PRNG seed (default {@link fuzzSeed}). */
  seed?: number;
  /** Message types a mutation may switch to (default {@link FUZZ_MESSAGE_TYPES}). */
  types?: readonly number[];
  /** Share of purely random messages (default 0.15). */
  randomShare?: number;
}

/** What a fuzz run did, for the test's log line. */
export interface FuzzResult {
  /** Cases run. */
  cases: number;
  /** The seed that replays the run. */
  seed: number;
  /** Single messages in the corpus after splitting datagrams. */
  messages: number;
  /** Wall time in seconds. */
  seconds: number;
}

/**
 * Fuzzes `decode`: the unmutated seeds must decode without error; then
 * `cases` inputs (random, mutated whole datagrams, mutated single
 * messages) may raise only NetlinkDecodeError. Prints one summary line.
 */
export function fuzzDecoder(options: FuzzOptions): FuzzResult {
  const cases = options.cases ?? fuzzCases();
  const seed = options.seed ?? fuzzSeed();
  const randomShare = options.randomShare ?? 0.15;
  const random = prng(seed);
  const datagrams = options.seeds;
  const messages = singles(datagrams);
  const pool = messages.length > 0 ? messages : datagrams;
  const clean = options.clean ?? options.decode;
  for (const s of [...datagrams, ...messages]) clean(s);
  const started = performance.now();
  for (let i = 0; i < cases; i++) {
    const r = random();
    const bytes = r < randomShare
      ? randomMessage(random, options.types)
      : mutate(
        r < randomShare * 2
          ? datagrams[Math.floor(random() * datagrams.length)]!
          : pool[Math.floor(random() * pool.length)]!,
        random,
        options.types,
      );
    decodeChecked(bytes, options.decode, seed);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`  ${cases} cases in ${seconds.toFixed(1)} s (seed ${seed})`);
  return { cases, seed, messages: messages.length, seconds };
}
