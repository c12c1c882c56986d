/**
 * A forgiving resolv.conf parser: it takes what the resolver would take and
 * drops the rest, so any input gives a usable result.
 *
 * @module
 */

import { parseIPAddress } from "./ip.ts";

/** The parts of a resolv.conf nsnet reads and writes. */
export interface ResolvConf {
  /** Nameserver addresses, in order, without duplicates. */
  nameservers: string[];
  /** Search domains (the last `search` or `domain` line wins). */
  search: string[];
  /** Resolver options such as `ndots:2` or `edns0`, in order. */
  options: string[];
}

/** A word resolv.conf can carry: printable ASCII, no whitespace, no comment marks. */
const WORD = /^[\x21-\x22\x24-\x3a\x3c-\x7e]+$/;

/** Whether `word` can be written into a resolv.conf line as it is. */
export function isResolvConfWord(word: string): boolean {
  return word.length <= 253 && WORD.test(word);
}

/** The name of an option (`ndots` in `ndots:2`), which a later line replaces. */
export function optionName(option: string): string {
  const colon = option.indexOf(":");
  return colon < 0 ? option : option.slice(0, colon);
}

/** Adds options in order; a later option replaces an earlier one of the same name. */
export function mergeOptions(
  into: string[],
  options: readonly string[],
): string[] {
  for (const option of options) {
    const name = optionName(option);
    const at = into.findIndex((o) => optionName(o) === name);
    if (at >= 0) into.splice(at, 1);
    into.push(option);
  }
  return into;
}

/**
 * Parses resolv.conf text. Comments start with `#` or `;` anywhere on a
 * line; words are separated by spaces or tabs; a `nameserver` line's first
 * word must be an IP address (the rest is ignored, as the resolver does);
 * `search` and `domain` replace the domains of earlier such lines; `options`
 * lines add up. Unknown keywords, malformed addresses and words with control
 * or non-ASCII characters are dropped.
 */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const rawLine of text.split(/\r?\n|\r/)) {
    const line = rawLine.replace(/[#;].*$/, "");
    const words = line.split(/[ \t\f\v]+/).filter((w) => w !== "");
    const [keyword, ...args] = words;
    switch (keyword) {
      case "nameserver": {
        const address = args[0];
        if (
          address !== undefined && parseIPAddress(address) !== undefined &&
          !conf.nameservers.includes(address)
        ) {
          conf.nameservers.push(address);
        }
        break;
      }
      case "search":
        conf.search = unique(args.filter(isResolvConfWord));
        break;
      case "domain":
        conf.search = args[0] !== undefined && isResolvConfWord(args[0])
          ? [args[0]]
          : [];
        break;
      case "options":
        mergeOptions(conf.options, args.filter(isResolvConfWord));
        break;
    }
  }
  return conf;
}

function unique(words: readonly string[]): string[] {
  return [...new Set(words)];
}
