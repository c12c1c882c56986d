/**
 * `nsnet link list|add|set|del`: links, as `ip link` handles them, over
 * nsnet's own netlink. `add`, `set` and `del` take `ip link`'s own words
 * (after an optional namespace), and nsnet's `--options` as before.
 *
 * @module
 */

import {
  Command,
  type CommandUnknownOpts,
  Option,
} from "@commander-js/extra-typings";
import { InvalidArgumentError } from "../errors.ts";
import { MACVLAN_MODE } from "../netlink/constants.ts";
import {
  createLink,
  deleteLink,
  type LinkChanges,
  type LinkRef,
  type LinkSpec,
  listLinks,
  setLink,
} from "../netlink/link.ts";
import { linkFlagNames } from "../netlink/link_message.ts";
import { linkIpJson } from "../netlink/link_info_json.ts";
import { tryParseIP } from "../netlink/ip_address.ts";
import { nsPath } from "../netns/run_dir.ts";
import {
  NAMESPACE_ARG_HELP,
  openNamespaceArg,
  parseCount,
  withNetlink,
} from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";

/** The `link` command and its subcommands. */
export function linkCommand(): CommandUnknownOpts {
  return new Command("link")
    .description("list, create, change and delete links (like `ip link`)")
    .addCommand(listCommand())
    .addCommand(addCommand())
    .addCommand(setCommand())
    .addCommand(delCommand());
}

const NETNS_OPTION = "-n, --netns <netns>";
const NETNS_HELP =
  "act in this namespace (NAME or PATH; default: the current one)";

/** A link given on the command line: a number is an index, anything else a name. */
export function linkRef(text: string): LinkRef {
  return /^\d+$/.test(text) ? Number(text) : text;
}

function listCommand(): CommandUnknownOpts {
  return new Command("list")
    .alias("show")
    .description("list the links of a namespace (the current one when omitted)")
    .argument("[netns]", NAMESPACE_ARG_HELP)
    .option("--json", "print JSON as `ip -j link` does, field for field")
    .option(
      "-d, --details",
      "with --json: kind-specific details, as `ip -j -d link`",
    )
    .option("-s, --stats", "with --json: rx/tx counters, as `ip -j -s link`")
    .action((netns, opts) => {
      const links = withNetlink(
        netns,
        (sock) => listLinks(sock, { stats: opts.stats === true }),
      );
      if (opts.json) {
        printJson(
          links.map((link) =>
            linkIpJson(link, links, {
              details: opts.details === true,
              stats: opts.stats === true,
            })
          ),
        );
        return;
      }
      const names = new Map(links.map((l) => [l.index, l.name]));
      printTable(
        ["INDEX", "NAME", "KIND", "STATE", "MTU", "MAC", "MASTER", "FLAGS"],
        links.map((l) => [
          String(l.index),
          l.name,
          l.kind ?? "",
          l.operstate,
          String(l.mtu),
          l.mac ?? "",
          l.master === undefined ? "" : names.get(l.master) ?? String(l.master),
          linkFlagNames(l.flags).join(","),
        ]),
      );
    });
}

const KINDS = [
  "veth",
  "bridge",
  "ifb",
  "macvlan",
  "macvtap",
  "vxlan",
  "vlan",
  "ipvlan",
  "tun",
  "tap",
] as const;

// The kinds `type KIND` (or a bare KIND after the name) can name: the -t choices and ipvtap.
const WORD_KINDS: ReadonlySet<string> = new Set([...KINDS, "ipvtap"]);

type MacvlanMode = keyof typeof MACVLAN_MODE;

/**
 * A new link as `ip link add`'s words (or nsnet's options) describe it,
 * before it is checked against its kind. Namespaces stay names here: they
 * are opened only when the link is made.
 */
export interface LinkAddRequest {
  /** The new link's name. */
  name?: string;
  /** Its kind (`veth`, `bridge`, ...). */
  kind?: string;
  /** MTU. */
  mtu?: number;
  /** MAC address. */
  mac?: string;
  /** Bridge to enslave it to. */
  master?: LinkRef;
  /** Bring it up at once (nsnet's addition to ip's words). */
  up?: boolean;
  /** macvlan, macvtap, vlan, ipvlan: the parent link; vxlan: the underlay link. */
  parent?: LinkRef;
  /** veth: the peer's name. */
  peerName?: string;
  /** veth: the peer's namespace (NAME, PATH or PID). */
  peerNetns?: string;
  /** veth: the peer's MTU. */
  peerMtu?: number;
  /** veth: the peer's MAC address. */
  peerMac?: string;
  /** macvlan, macvtap: mode; ipvlan: mode (`l2`, `l3`, `l3s`). */
  mode?: string;
  /** ipvlan: `bridge`, `private` or `vepa`. */
  ipvlanFlag?: "bridge" | "private" | "vepa";
  /** vlan: VLAN id; vxlan: VNI. */
  id?: number;
  /** vlan: tag protocol. */
  protocol?: "802.1Q" | "802.1ad";
  /** vxlan: UDP destination port. */
  port?: number;
  /** vxlan: local underlay address. */
  local?: string;
  /** vxlan: remote or group address. */
  remote?: string;
  /** vxlan: outer TTL. */
  ttl?: number;
  /** vxlan: outer TOS. */
  tos?: number;
  /** vxlan: learn remote addresses. */
  learning?: boolean;
}

/** What a link command's words say: the namespace (when given first) and the rest. */
export interface ParsedLinkWords<T> {
  /** The namespace named before the link, if any. */
  netns: string | undefined;
  /** What the words describe. */
  value: T;
}

// Words of `ip link add` that may come before `type` (and, leniently, after it).
const ADD_WORDS: ReadonlySet<string> = new Set([
  "name",
  "dev",
  "type",
  "link",
  "mtu",
  "address",
  "master",
  "up",
  "txqueuelen",
  "txqlen",
  "netns",
]);

// What each kind takes after `type KIND`, for the error that names a wrong word.
const KIND_WORDS: Readonly<Record<string, string>> = {
  veth: "peer [name] NAME [netns NS] [mtu N] [address MAC]",
  macvlan: "link PARENT, mode private|vepa|bridge|passthru|source",
  macvtap: "link PARENT, mode private|vepa|bridge|passthru|source",
  vlan: "link PARENT, id N, protocol 802.1Q|802.1ad",
  ipvlan: "link PARENT, mode l2|l3|l3s, bridge|private|vepa",
  ipvtap: "link PARENT, mode l2|l3|l3s, bridge|private|vepa",
  vxlan:
    "id N, dstport P, local ADDR, remote ADDR, group ADDR, dev PARENT, ttl N, tos N, learning, nolearning",
};

const COMMON_ADD_HELP =
  "[name] NAME, link PARENT, mtu N, address MAC, master BRIDGE, up, type KIND";

function wordReader(words: readonly string[], start: number): {
  readonly done: boolean;
  take(): string;
  value(word: string): string;
  peek(offset?: number): string | undefined;
} {
  let i = start;
  return {
    get done(): boolean {
      return i >= words.length;
    },
    take: (): string => words[i++]!,
    value: (word: string): string => {
      const value = words[i++];
      if (value === undefined) {
        throw new InvalidArgumentError(`"${word}" needs a value`);
      }
      return value;
    },
    peek: (offset = 0): string | undefined => words[i + offset],
  };
}

function parseAddress(text: string, what: string): string {
  if (tryParseIP(text) === undefined) {
    throw new InvalidArgumentError(
      `invalid ${what} address ${JSON.stringify(text)}`,
      { hint: "an IPv4 or IPv6 address such as 192.0.2.1" },
    );
  }
  return text;
}

function parseByte(text: string, what: string): number {
  const n = /^0x[0-9a-f]+$/i.test(text) ? Number(text) : parseCount(text, what);
  if (!Number.isInteger(n) || n > 255) {
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(text)} is not 0-255`,
    );
  }
  return n;
}

function parseMacvlanMode(text: string): MacvlanMode {
  if (!Object.hasOwn(MACVLAN_MODE, text)) {
    throw new InvalidArgumentError(
      `invalid macvlan mode ${JSON.stringify(text)}`,
      {
        hint: `one of ${Object.keys(MACVLAN_MODE).join(", ")}`,
      },
    );
  }
  return text as MacvlanMode;
}

function parseIpvlanMode(text: string): "l2" | "l3" | "l3s" {
  if (text !== "l2" && text !== "l3" && text !== "l3s") {
    throw new InvalidArgumentError(
      `invalid ipvlan mode ${JSON.stringify(text)}`,
      {
        hint: "one of l2, l3, l3s",
      },
    );
  }
  return text;
}

function parseVlanProtocol(text: string): "802.1Q" | "802.1ad" {
  // ip takes either spelling's case.
  const lower = text.toLowerCase();
  if (lower === "802.1q") return "802.1Q";
  if (lower === "802.1ad") return "802.1ad";
  throw new InvalidArgumentError(
    `invalid VLAN protocol ${JSON.stringify(text)}`,
    {
      hint: "802.1Q or 802.1ad",
    },
  );
}

// The words that name the new link's kind-specific settings, after `type KIND`.
function kindWord(
  request: LinkAddRequest,
  kind: string,
  word: string,
  read: ReturnType<typeof wordReader>,
): boolean {
  switch (kind) {
    case "veth":
      if (word !== "peer") return false;
      while (!read.done) {
        const w = read.take();
        if (w === "name") request.peerName = read.value(w);
        else if (w === "netns") request.peerNetns = read.value(w);
        else if (w === "mtu") {
          request.peerMtu = parseCount(read.value(w), "MTU");
        } else if (w === "address") request.peerMac = read.value(w);
        else if (request.peerName === undefined && !ADD_WORDS.has(w)) {
          request.peerName = w;
        } else {
          throw new InvalidArgumentError(
            `"${w}" is not a word nsnet takes for a veth peer`,
            { hint: `expected ${KIND_WORDS.veth}` },
          );
        }
      }
      return true;
    case "macvlan":
    case "macvtap":
      if (word !== "mode") return false;
      request.mode = parseMacvlanMode(read.value(word));
      return true;
    case "vlan":
      if (word === "id") request.id = parseCount(read.value(word), "VLAN id");
      else if (word === "protocol") {
        request.protocol = parseVlanProtocol(read.value(word));
      } else return false;
      return true;
    case "ipvlan":
    case "ipvtap":
      if (word === "mode") request.mode = parseIpvlanMode(read.value(word));
      else if (word === "bridge" || word === "private" || word === "vepa") {
        request.ipvlanFlag = word;
      } else return false;
      return true;
    case "vxlan":
      switch (word) {
        case "id":
        case "vni":
          request.id = parseCount(read.value(word), "VNI");
          return true;
        case "dstport":
        case "port":
          request.port = parseCount(read.value(word), "port");
          return true;
        case "local":
          request.local = parseAddress(read.value(word), "local");
          return true;
        case "remote":
        case "group":
          request.remote = parseAddress(read.value(word), word);
          return true;
        case "dev":
          request.parent = linkRef(read.value(word));
          return true;
        case "ttl":
        case "hoplimit": {
          const value = read.value(word);
          // ip's `ttl auto` is the kernel's default, 0: the route's hop limit.
          request.ttl = value === "auto" ? 0 : parseByte(value, "TTL");
          return true;
        }
        case "tos":
        case "dsfield": {
          const value = read.value(word);
          // ip's `tos inherit` is TOS 1: the kernel copies the inner packet's.
          request.tos = value === "inherit" ? 1 : parseByte(value, "TOS");
          return true;
        }
        case "learning":
        case "nolearning":
          request.learning = word === "learning";
          return true;
      }
      return false;
  }
  return false;
}

function misplaced(word: string, kind: string | undefined): never {
  if (kind === undefined) {
    throw new InvalidArgumentError(
      `"${word}" is not a word nsnet link add takes before the link's type`,
      { hint: `expected ${COMMON_ADD_HELP} (${[...WORD_KINDS].join(", ")})` },
    );
  }
  const own = KIND_WORDS[kind];
  throw new InvalidArgumentError(
    `"${word}" is not a word nsnet link add takes for a ${kind}`,
    {
      hint: own === undefined
        ? `a ${kind} takes no words of its own; expected ${COMMON_ADD_HELP}`
        : `expected ${own}, or ${COMMON_ADD_HELP}`,
    },
  );
}

/**
 * The namespace a command's first word names, if it does. ip's words come in
 * any order, so the first word is the namespace only when it is no keyword
 * and the words after it still name the link: a bare word, or one of
 * `names` (`dev`, `name`), before any of `stops` (`type`, a kind). The
 * `keywords` other than `flags` take a value, which is skipped.
 */
function namedFirst(
  words: readonly string[],
  keys: {
    keywords: ReadonlySet<string>;
    names: string[];
    flags: string[];
    stops: string[];
  },
): string | undefined {
  const [first] = words;
  if (first === undefined || keys.keywords.has(first)) {
    return undefined;
  }
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (keys.stops.includes(word)) return undefined;
    if (keys.names.includes(word)) return first;
    if (keys.flags.includes(word)) continue;
    if (keys.keywords.has(word)) i++;
    else return first;
  }
  return undefined;
}

/**
 * Parses `ip link add`'s words: `[NS] [name|dev] NAME [link PARENT] [mtu N]
 * [address MAC] [master BR] [up] [type] KIND [KIND's words]`. The first word
 * is the namespace when a name follows it (a bare word that is no kind, or
 * `name`/`dev`). With `kindGiven` (-t), a bare word after the name is never a
 * kind. Throws {@linkcode InvalidArgumentError} naming a word it does not take.
 */
export function parseLinkAddWords(
  words: readonly string[],
  kindGiven = false,
): ParsedLinkWords<LinkAddRequest> {
  const netns = namedFirst(words, {
    keywords: ADD_WORDS,
    names: ["name", "dev"],
    flags: ["up"],
    stops: kindGiven ? ["type"] : ["type", ...WORD_KINDS],
  });
  const request: LinkAddRequest = {};
  const read = wordReader(words, netns === undefined ? 0 : 1);
  const setName = (word: string, name: string): void => {
    if (request.name !== undefined) {
      throw new InvalidArgumentError(
        `"${word} ${name}": the link is already named ${request.name}`,
      );
    }
    request.name = name;
  };
  const setKind = (kind: string): void => {
    if (!WORD_KINDS.has(kind)) {
      throw new InvalidArgumentError(
        `unknown link type ${JSON.stringify(kind)}`,
        {
          hint: `nsnet creates ${[...WORD_KINDS].join(", ")}`,
        },
      );
    }
    if (request.kind !== undefined) {
      throw new InvalidArgumentError(
        `"type ${kind}": the type is already ${request.kind}`,
      );
    }
    request.kind = kind;
  };
  while (!read.done) {
    const word = read.take();
    if (
      request.kind !== undefined && kindWord(request, request.kind, word, read)
    ) {
      continue;
    }
    switch (word) {
      case "name":
      case "dev":
        if (request.kind !== undefined) misplaced(word, request.kind);
        setName(word, read.value(word));
        break;
      case "type":
        setKind(read.value(word));
        break;
      case "link":
        request.parent = linkRef(read.value(word));
        break;
      case "mtu":
        request.mtu = parseCount(read.value(word), "MTU");
        break;
      case "address":
        request.mac = read.value(word);
        break;
      case "master":
        request.master = linkRef(read.value(word));
        break;
      case "up":
        request.up = true;
        break;
      case "txqueuelen":
      case "txqlen":
        throw new InvalidArgumentError(
          `"${word}": nsnet link add cannot set the queue length yet`,
          { hint: `leave it out (the kernel's default is 1000)` },
        );
      case "netns":
        throw new InvalidArgumentError(
          `"netns": nsnet link add makes the link where it runs`,
          {
            hint:
              "name the namespace first (nsnet link add NS NAME ...) or with -n; a veth's peer takes `peer name P netns NS`",
          },
        );
      default:
        if (request.name === undefined && request.kind === undefined) {
          request.name = word;
        } else if (
          request.kind === undefined && !kindGiven && WORD_KINDS.has(word)
        ) {
          request.kind = word;
        } else misplaced(word, request.kind);
    }
  }
  return { netns, value: request };
}

/** The namespace a `netns` word names: NAME or PATH, or, as for ip, the PID of a process in it. */
export function netnsWordPath(word: string): string {
  if (/^\d+$/.test(word)) {
    // ip tries the name first and falls back to the PID's namespace.
    try {
      Deno.statSync(nsPath(word));
      return word;
    } catch {
      return `/proc/${word}/ns/net`;
    }
  }
  return word;
}

/**
 * The {@linkcode LinkSpec} a request describes (without the veth peer's
 * namespace, which {@linkcode LinkAddRequest.peerNetns} names). Throws
 * {@linkcode InvalidArgumentError} for what the kind lacks or cannot take;
 * `netns`, the namespace the words named, makes that error clearer.
 */
export function linkSpecOf(
  request: LinkAddRequest,
  netns?: string,
): LinkSpec {
  const { name, kind } = request;
  if (name === undefined) {
    throw new InvalidArgumentError("the new link needs a name", {
      hint: "nsnet link add [NS] NAME type KIND ...",
    });
  }
  if (kind === undefined) {
    throw new InvalidArgumentError(`the link ${name} needs a type`, {
      hint: `type KIND (or -t KIND): ${[...WORD_KINDS].join(", ")}` +
        (netns === undefined
          ? ""
          : `; ${netns} was taken as the namespace, ${name} as the link`),
    });
  }
  const common = {
    name,
    mtu: request.mtu,
    mac: request.mac,
    up: request.up === true,
    master: request.master,
  };
  const refuse = (what: string, given: unknown): void => {
    if (given !== undefined) {
      throw new InvalidArgumentError(`a ${kind} takes no ${what}`);
    }
  };
  const parent = (): LinkRef => {
    if (request.parent === undefined) {
      throw new InvalidArgumentError(`a ${kind} needs a parent link`, {
        hint: "link PARENT (or --parent LINK)",
      });
    }
    return request.parent;
  };
  if (kind !== "veth") {
    refuse("peer", request.peerName ?? request.peerNetns ?? request.peerMtu);
  }
  if (kind !== "vxlan") {
    refuse(
      "vxlan settings (dstport, local, remote, ttl, tos, learning)",
      request.port ?? request.local ?? request.remote ?? request.ttl ??
        request.tos ?? request.learning,
    );
  }
  switch (kind) {
    case "veth":
      refuse("parent link", request.parent);
      if (request.peerName === undefined) {
        throw new InvalidArgumentError("a veth needs a peer", {
          hint: "peer name NAME (or --peer NAME)",
        });
      }
      return {
        ...common,
        kind,
        peer: {
          name: request.peerName,
          mtu: request.peerMtu,
          mac: request.peerMac,
        },
      };
    case "vlan":
      if (request.id === undefined) {
        throw new InvalidArgumentError("a vlan needs an id", {
          hint: "id N (or --id N)",
        });
      }
      return {
        ...common,
        kind,
        parent: parent(),
        id: request.id,
        protocol: request.protocol,
      };
    case "ipvlan":
    case "ipvtap":
      return {
        ...common,
        kind,
        parent: parent(),
        mode: request.mode === undefined
          ? undefined
          : parseIpvlanMode(request.mode),
        flag: request.ipvlanFlag,
      };
    case "macvlan":
    case "macvtap":
      return {
        ...common,
        kind,
        parent: parent(),
        mode: request.mode === undefined
          ? undefined
          : parseMacvlanMode(request.mode),
      };
    case "vxlan":
      if (request.id === undefined) {
        throw new InvalidArgumentError("a vxlan needs an id", {
          hint: "id N (or --vni N)",
        });
      }
      return {
        ...common,
        kind,
        vni: request.id,
        port: request.port,
        parent: request.parent,
        local: request.local,
        remote: request.remote,
        ttl: request.ttl,
        tos: request.tos,
        learning: request.learning,
      };
    case "tun":
    case "tap":
      refuse("parent link", request.parent);
      return { ...common, kind: "tun", type: kind };
    case "bridge":
    case "ifb":
      refuse("parent link", request.parent);
      refuse("mode", request.mode);
      refuse("id", request.id);
      return { ...common, kind };
  }
  throw new InvalidArgumentError(`unknown link type ${JSON.stringify(kind)}`);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

function oneNamespace(
  fromWords: string | undefined,
  fromOption: string | undefined,
): string | undefined {
  if (fromWords !== undefined && fromOption !== undefined) {
    throw new InvalidArgumentError(
      `two namespaces: ${fromWords} and -n ${fromOption}`,
    );
  }
  return fromWords ?? fromOption;
}

function addCommand(): CommandUnknownOpts {
  return new Command("add")
    .description(
      "create a link: nsnet link add [NS] NAME type KIND ... as `ip link add` takes it, or NAME -t KIND --options",
    )
    .argument(
      "<words...>",
      "[NS] [name] NAME [link PARENT] [mtu N] [address MAC] [master BR] [up] " +
        "[type] KIND [veth: peer name P [netns NS]] [macvlan: mode M] " +
        "[vlan: id N [protocol P]] [ipvlan: mode M] [vxlan: id N [dstport P] " +
        "[local A] [remote A|group A] [dev IF] [ttl N] [tos N] [[no]learning]]",
    )
    .addOption(
      new Option("-t, --type <kind>", "link kind").choices(KINDS),
    )
    .option(NETNS_OPTION, NETNS_HELP)
    .option("--peer <name>", "veth: the peer's name")
    .option(
      "--peer-netns <netns>",
      "veth: create the peer in this namespace (NAME or PATH)",
    )
    .option(
      "--parent <link>",
      "macvlan, macvtap, vlan, ipvlan, vxlan: the parent (underlay) link",
    )
    .option("--id <id>", "vlan: VLAN id; vxlan: same as --vni")
    .option("--protocol <proto>", "vlan: 802.1Q (default) or 802.1ad")
    .option("--ipvlan-mode <mode>", "ipvlan: l2, l3 (default) or l3s")
    .option("--ttl <ttl>", "vxlan: outer TTL")
    .addOption(
      new Option("--mode <mode>", "macvlan mode").choices(
        Object.keys(MACVLAN_MODE) as MacvlanMode[],
      ),
    )
    .option("--vni <id>", "vxlan: network identifier")
    .option("--port <port>", "vxlan: UDP port (default 4789)")
    .option("--local <ip>", "vxlan: local underlay address")
    .option("--remote <ip>", "vxlan: remote or group address")
    .option("--mtu <bytes>", "MTU")
    .option("--mac <address>", "MAC address")
    .option("--master <link>", "enslave to this bridge")
    .option("--up", "bring it up")
    .action((words, opts) => {
      const parsed = parseLinkAddWords(words, opts.type !== undefined);
      const fromWords = parsed.value;
      if (
        opts.type !== undefined && fromWords.kind !== undefined &&
        fromWords.kind !== opts.type
      ) {
        throw new InvalidArgumentError(
          `two types: ${fromWords.kind} and -t ${opts.type}`,
        );
      }
      const kind = opts.type ?? fromWords.kind;
      const id = opts.vni ?? opts.id;
      // The options say the same as the words; where both do, the option wins.
      const request: LinkAddRequest = {
        ...fromWords,
        ...definedOnly<LinkAddRequest>({
          kind,
          peerName: opts.peer,
          peerNetns: opts.peerNetns,
          parent: opts.parent === undefined ? undefined : linkRef(opts.parent),
          id: id === undefined
            ? undefined
            : parseCount(id, kind === "vlan" ? "VLAN id" : "VNI"),
          protocol: opts.protocol === undefined
            ? undefined
            : parseVlanProtocol(opts.protocol),
          mode: kind === "ipvlan" || kind === "ipvtap"
            ? opts.ipvlanMode
            : opts.mode,
          ttl: opts.ttl === undefined ? undefined : parseCount(opts.ttl, "TTL"),
          port: opts.port === undefined
            ? undefined
            : parseCount(opts.port, "port"),
          local: opts.local,
          remote: opts.remote,
          mtu: opts.mtu === undefined ? undefined : parseCount(opts.mtu, "MTU"),
          mac: opts.mac,
          master: opts.master === undefined ? undefined : linkRef(opts.master),
          up: opts.up === true ? true : undefined,
        }),
      };
      const spec = linkSpecOf(request, parsed.netns);
      withNetlink(oneNamespace(parsed.netns, opts.netns), (sock, ns) => {
        if (spec.kind === "tun") {
          // Made by opening /dev/net/tun inside the namespace, not over the socket.
          createLink(sock, { ...spec, netns: ns });
          return;
        }
        if (spec.kind !== "veth" || request.peerNetns === undefined) {
          createLink(sock, spec);
          return;
        }
        using peerNS = openNamespaceArg(netnsWordPath(request.peerNetns));
        createLink(sock, { ...spec, peer: { ...spec.peer, netns: peerNS } });
      });
    });
}

/** What `ip link set`'s words say: the link, its changes, and the namespace to move it to. */
export interface LinkSetRequest {
  /** The link to change. */
  link: LinkRef;
  /** The changes, except the move. */
  changes: LinkChanges;
  /** Move it into this namespace (NAME, PATH or PID). */
  moveTo?: string;
}

const SET_WORDS: ReadonlySet<string> = new Set([
  "dev",
  "up",
  "down",
  "mtu",
  "address",
  "master",
  "nomaster",
  "name",
  "netns",
]);

const SET_HELP =
  "up, down, mtu N, address MAC, master BRIDGE, nomaster, name NEW, netns NS";

/**
 * Parses `ip link set`'s words: `[NS] [dev] LINK [up|down] [mtu N] [address
 * MAC] [master BR|nomaster] [name NEW] [netns NS]`. The first word is the
 * namespace when the link follows it (a bare word, or `dev`). Throws
 * {@linkcode InvalidArgumentError} naming a word it does not take.
 */
export function parseLinkSetWords(
  words: readonly string[],
): ParsedLinkWords<LinkSetRequest> {
  const netns = namedFirst(words, {
    keywords: SET_WORDS,
    names: ["dev"],
    flags: ["up", "down", "nomaster"],
    stops: [],
  });
  const read = wordReader(words, netns === undefined ? 0 : 1);
  let link: LinkRef | undefined;
  const changes: LinkChanges = {};
  let moveTo: string | undefined;
  const once = (word: string, given: unknown, value: string = word): void => {
    if (given !== undefined) {
      throw new InvalidArgumentError(
        `"${value}" is said twice or contradicts itself`,
      );
    }
  };
  while (!read.done) {
    const word = read.take();
    switch (word) {
      case "dev": {
        const value = read.value(word);
        once(word, link, `dev ${value}`);
        link = linkRef(value);
        break;
      }
      case "up":
      case "down":
        once(word, changes.up);
        changes.up = word === "up";
        break;
      case "mtu":
        changes.mtu = parseCount(read.value(word), "MTU");
        break;
      case "address":
        changes.mac = read.value(word);
        break;
      case "master":
        once(word, changes.master);
        changes.master = linkRef(read.value(word));
        break;
      case "nomaster":
        once(word, changes.master);
        changes.master = null;
        break;
      case "name":
        changes.name = read.value(word);
        break;
      case "netns":
        moveTo = read.value(word);
        break;
      default:
        if (link === undefined) link = linkRef(word);
        else {
          throw new InvalidArgumentError(
            `"${word}" is not a word nsnet link set takes`,
            { hint: `expected ${SET_HELP}` },
          );
        }
    }
  }
  if (link === undefined) {
    throw new InvalidArgumentError(
      "which link? nsnet link set [NS] [dev] LINK ...",
    );
  }
  return { netns, value: { link, changes, moveTo } };
}

function setCommand(): CommandUnknownOpts {
  return new Command("set")
    .description(
      "change a link: up/down, MTU, MAC, name, master, namespace, as `ip link set` takes it",
    )
    .argument("<words...>", `[NS] [dev] LINK [${SET_HELP}]`)
    .option(NETNS_OPTION, NETNS_HELP)
    .option("--up", "bring it up")
    .option("--down", "bring it down")
    .option("--mtu <bytes>", "new MTU")
    .option("--mac <address>", "new MAC address")
    .option("--name <name>", "new name")
    .option("--master <link>", "enslave to this bridge")
    .option("--nomaster", "release it from its master")
    .option("--move-to <netns>", "move it into this namespace (NAME or PATH)")
    .action((words, opts) => {
      if (opts.up && opts.down) {
        throw new InvalidArgumentError("--up and --down exclude each other");
      }
      const parsed = parseLinkSetWords(words);
      const { link, changes: fromWords } = parsed.value;
      const changes: LinkChanges = {
        ...fromWords,
        ...definedOnly<LinkChanges>({
          up: opts.up ? true : opts.down ? false : undefined,
          mtu: opts.mtu === undefined ? undefined : parseCount(opts.mtu, "MTU"),
          mac: opts.mac,
          name: opts.name,
          master: opts.nomaster
            ? null
            : opts.master === undefined
            ? undefined
            : linkRef(opts.master),
        }),
      };
      const moveTo = opts.moveTo ?? parsed.value.moveTo;
      withNetlink(oneNamespace(parsed.netns, opts.netns), (sock) => {
        if (moveTo === undefined) {
          setLink(sock, link, changes);
          return;
        }
        using target = openNamespaceArg(netnsWordPath(moveTo));
        setLink(sock, link, { ...changes, netns: target });
      });
    });
}

/**
 * Parses `ip link del`'s words: `[NS] [dev] LINK`. Throws
 * {@linkcode InvalidArgumentError} for anything more.
 */
export function parseLinkDelWords(
  words: readonly string[],
): ParsedLinkWords<LinkRef> {
  const rest = [...words];
  let netns: string | undefined;
  if (
    rest.length === 3 && rest[1] === "dev" ||
    rest.length === 2 && rest[0] !== "dev"
  ) {
    netns = rest.shift();
  }
  if (rest[0] === "dev") rest.shift();
  if (rest.length !== 1) {
    throw new InvalidArgumentError(
      rest.length === 0
        ? "which link? nsnet link del [NS] [dev] LINK"
        : `"${
          words.join(" ")
        }" is not one link: nsnet link del takes [NS] [dev] LINK`,
    );
  }
  return { netns, value: linkRef(rest[0]!) };
}

function delCommand(): CommandUnknownOpts {
  return new Command("del")
    .alias("delete")
    .description("delete a link (a veth takes its peer with it)")
    .argument("<words...>", "[NS] [dev] LINK, as `ip link del` takes it")
    .option(NETNS_OPTION, NETNS_HELP)
    .action((words, opts) => {
      const parsed = parseLinkDelWords(words);
      withNetlink(
        oneNamespace(parsed.netns, opts.netns),
        (sock) => deleteLink(sock, parsed.value),
      );
    });
}
