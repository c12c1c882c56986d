/**
 * Copies of received bytes for the attributes decoders keep raw. The socket
 * reuses its receive buffer, so a kept attribute must be copied; but an
 * ArrayBuffer per attribute (or even per message) made decoding a 1001-link
 * dump three to six times slower. So messages walked in order through one
 * datagram share one copy: the first message of a run gets a copy of its
 * own bytes, later ones a copy of the rest of the buffer (up to 64 KiB)
 * that the following messages of the same datagram reuse.
 *
 * Reuse is only when the same buffer is read further on (a later offset),
 * and the 16 bytes before the message (its header) still match the copy;
 * a new datagram always starts again at the buffer's start.
 *
 * @module
 */

const CHUNK = 65536;

let source: Uint8Array | undefined;
let copy: Uint8Array = new Uint8Array(0);
let base = 0; // copy[i] is source[base + i]
let lastEnd = 0;
let run = 0;

function headerMatches(bytes: Uint8Array, offset: number): boolean {
  const from = Math.max(offset - 16, base);
  for (let i = from; i < offset; i++) {
    if (copy[i - base] !== bytes[i]) return false;
  }
  return true;
}

/**
 * A copy holding `bytes[offset, end)` and the offset it starts at, so that
 * `copy.subarray(at - start, at - start + length)` is a stable copy of
 * `bytes[at, at + length)` for any `at` in the range.
 */
export function stableCopy(
  bytes: Uint8Array,
  offset: number,
  end: number,
): [Uint8Array, number] {
  if (
    bytes === source && offset >= lastEnd && offset >= base &&
    end <= base + copy.length && headerMatches(bytes, offset)
  ) {
    lastEnd = end;
    return [copy, base];
  }
  const start = Math.max(0, offset - 16);
  const sameRun = bytes === source && offset >= lastEnd;
  run = sameRun ? run + 1 : 0;
  const stop = run === 0
    ? end
    : Math.max(end, Math.min(bytes.length, start + CHUNK));
  source = bytes;
  copy = bytes.slice(start, stop);
  base = start;
  lastEnd = end;
  return [copy, base];
}
