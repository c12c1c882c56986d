/**
 * Merging a node's routes: routes that leave by the same next hop are
 * replaced by the fewest prefixes that cover exactly their destinations.
 * Without it a chain of n routers needs about 2·n² routes (78,804 for 200
 * nodes), so building it grows with the square of its size; with it each
 * side of a chain, a run of consecutive subnets, takes O(log n) prefixes.
 *
 * Only two sibling prefixes that are both present become their parent, so
 * every merged prefix covers nothing the routes did not: each address is
 * forwarded as before, and an address outside the lab's subnets still has
 * no route (no loop through a covering prefix when a link is down).
 *
 * @module
 */

/** A prefix of a `bits`-bit space: its first address as a number, and its length. */
export interface NumericPrefix {
  /** The first address, 0 to 2^bits − 1 (bits ≤ 32, so exact in a number). */
  value: number;
  /** Its prefix length, 0 to bits. */
  length: number;
}

/**
 * The fewest prefixes covering exactly the union of `prefixes` (which must
 * not overlap), in address order: sibling pairs become their parent,
 * longest first, until no two siblings are left. Arithmetic, not bitwise
 * operators, so that 32-bit values above 2^31 stay positive.
 */
export function mergePrefixes(
  prefixes: readonly NumericPrefix[],
  bits: number,
): NumericPrefix[] {
  // Sets only for the lengths in use: most calls hold a few /24s.
  const byLength: (Set<number> | undefined)[] = [];
  for (const p of prefixes) (byLength[p.length] ??= new Set()).add(p.value);
  const out: NumericPrefix[] = [];
  for (let length = bits; length >= 0; length--) {
    const set = byLength[length];
    if (set === undefined) continue;
    const size = 2 ** (bits - length);
    for (const value of set) {
      if (!set.has(value)) continue; // taken as another's sibling
      const odd = Math.floor(value / size) % 2 === 1;
      const sibling = odd ? value - size : value + size;
      if (length > 0 && set.has(sibling)) {
        set.delete(value);
        set.delete(sibling);
        (byLength[length - 1] ??= new Set()).add(odd ? sibling : value);
      } else {
        out.push({ value, length });
      }
    }
  }
  return out.sort((a, b) => a.value - b.value || a.length - b.length);
}
