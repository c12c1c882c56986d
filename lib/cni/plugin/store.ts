/**
 * The plugin's IPAM store and attachment records: one JSON file per network
 * under the data dir (default `/var/lib/cni/nsnet`, so leases survive a
 * restart as host-local's do), keyed by container id and interface name,
 * and one `flock` for the whole dir, held for the whole of an ADD, DEL or
 * GC. Each record names everything its ADD made (addresses, host veth,
 * masquerading, published ports, shaping), so DEL and GC can free it
 * without the namespace. Files are replaced atomically; a network's file
 * goes with its last attachment, the lock file and the dir with the last
 * network.
 *
 * @module
 */

import {
  close,
  flock,
  fstatIdentity,
  O,
  openPath,
} from "../../../ffi/syscalls.ts";
import { writeFileAtomicSync } from "../../fs.ts";
import { CNI_ERROR, CniError } from "./errors.ts";
import type { SubnetConfig } from "./config.ts";
import { formatIPNumber, netContains, parseIPNumber } from "./ip.ts";

/** What one ADD made, as recorded before it made it. */
export interface AttachmentRecord {
  /** CNI_CONTAINERID. */
  containerId: string;
  /** CNI_IFNAME. */
  ifname: string;
  /** CNI_NETNS of the ADD. */
  netns: string;
  /** Addresses with prefix length, from nsnet's IPAM or the delegated plugin. */
  ips: string[];
  /** The gateways, in the order of `ips` ("" where none). */
  gateways: string[];
  /** The host end of the veth pair. */
  hostVeth: string;
  /** The container interface's MAC. */
  mac: string;
  /** The addresses are nsnet's (false: the delegated IPAM plugin's). */
  ownIpam: boolean;
  /** Masquerading was set up. */
  masq: boolean;
  /** Ports were published with DNAT under this id. */
  portsId?: string;
  /** The ifb device of egress shaping. */
  ifb?: string;
  /** When it was made (ms since the epoch). */
  created: number;
}

/** One network's file. */
export interface NetworkFile {
  /** The network's name. */
  network: string;
  /** Its bridge. */
  bridge: string;
  /** Whether nsnet made the bridge (then it goes with the last attachment). */
  bridgeCreated: boolean;
  /** The address handed out last, per subnet, for round-robin. */
  last: Record<string, string>;
  /** Records by `CONTAINERID/IFNAME`. */
  attachments: Record<string, AttachmentRecord>;
}

/** The record key of an attachment. */
export function attachmentKey(containerId: string, ifname: string): string {
  return `${containerId}/${ifname}`;
}

const NETWORK_FILE = /^[A-Za-z0-9][A-Za-z0-9_.-]*\.json$/;

function readJson(path: string): NetworkFile | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    const file = JSON.parse(text) as NetworkFile;
    if (typeof file.attachments !== "object" || file.attachments === null) {
      throw new Error("no attachments");
    }
    file.last ??= {};
    return file;
  } catch (error) {
    throw new CniError(
      CNI_ERROR.INTERNAL,
      `the IPAM file ${path} is corrupt`,
      `${
        (error as Error).message
      }; it is only ever replaced atomically: remove it once no container of the network is left`,
    );
  }
}

const LOCK_EX = 2;
const LOCK_NB = 4;

/**
 * The lock of the data dir, with a deadline (then error 11): a
 * non-blocking `flock` tried every few milliseconds, so the uncontended
 * case costs one system call. Returns the locked fd.
 */
async function lockDir(path: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fd = openPath(path, O.RDWR | O.CREAT, 0o600);
    let locked = false;
    try {
      for (;;) {
        try {
          flock(fd, LOCK_EX | LOCK_NB, path);
          locked = true;
          break;
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (code !== "EWOULDBLOCK" && code !== "EAGAIN") throw error;
        }
        if (Date.now() >= deadline) {
          throw new CniError(
            CNI_ERROR.TRY_AGAIN_LATER,
            `the IPAM store ${path} stayed locked for ${timeoutMs} ms`,
            "another nsnet plugin process holds it; try again later",
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // Another holder may have removed the file while we waited.
      let same = false;
      try {
        same = BigInt(Deno.statSync(path).ino ?? -1) === fstatIdentity(fd).ino;
      } catch { /* removed */ }
      if (same) return fd;
    } catch (error) {
      close(fd);
      throw error;
    }
    if (locked) close(fd);
  }
}

/**
 * The data dir, locked: every network's file can be read and changed until
 * {@linkcode Store.close}.
 */
export class Store {
  /** The data dir. */
  readonly dir: string;
  #lock: number | undefined;
  #files = new Map<string, NetworkFile>();
  #dirty = new Set<string>();

  private constructor(dir: string, lock: number) {
    this.dir = dir;
    this.#lock = lock;
  }

  /** Locks `dir` (made if missing), waiting at most `timeoutMs`. */
  static async open(dir: string, timeoutMs: number): Promise<Store> {
    try {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new CniError(
        CNI_ERROR.IO_FAILURE,
        `cannot make the IPAM store ${dir}`,
        (error as Error).message,
      );
    }
    return new Store(dir, await lockDir(`${dir}/lock`, timeoutMs));
  }

  /** The file of `network` (a fresh one when it has none). */
  network(network: string, bridge: string): NetworkFile {
    let file = this.#files.get(network);
    if (file === undefined) {
      file = readJson(`${this.dir}/${network}.json`) ??
        { network, bridge, bridgeCreated: false, last: {}, attachments: {} };
      this.#files.set(network, file);
    }
    return file;
  }

  /** Marks `network`'s file to be written by {@linkcode Store.save}. */
  touch(network: string): void {
    this.#dirty.add(network);
  }

  /** Every network with a file, and its file. */
  allNetworks(): NetworkFile[] {
    const names = new Set(this.#files.keys());
    for (const entry of Deno.readDirSync(this.dir)) {
      if (entry.isFile && NETWORK_FILE.test(entry.name)) {
        names.add(entry.name.slice(0, -5));
      }
    }
    return [...names].sort().map((name) => this.network(name, ""));
  }

  /** Writes changed files; a network without attachments loses its file. */
  save(): void {
    for (const name of this.#dirty) {
      const file = this.#files.get(name)!;
      const path = `${this.dir}/${name}.json`;
      if (Object.keys(file.attachments).length === 0) {
        try {
          Deno.removeSync(path);
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        }
      } else {
        writeFileAtomicSync(path, JSON.stringify(file), 0o600);
      }
    }
    this.#dirty.clear();
  }

  /**
   * Releases the lock; with no network file left, the lock file and the
   * dir go too. Idempotent.
   */
  close(): void {
    const lock = this.#lock;
    if (lock === undefined) return;
    this.#lock = undefined;
    try {
      const idle = ![...Deno.readDirSync(this.dir)].some((e) =>
        e.isFile && NETWORK_FILE.test(e.name)
      );
      if (idle) {
        Deno.removeSync(`${this.dir}/lock`);
        try {
          Deno.removeSync(this.dir);
        } catch { /* holds something else */ }
      }
    } catch { /* already gone */ }
    close(lock);
  }

  /** Closes at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Picks one address from each subnet for an attachment: a requested one
 * where it lies in that subnet, else round-robin after the last handed out
 * (as host-local does), never a gateway or an address in use. Records the
 * round-robin position in `file`; returns `ADDRESS/PREFIX` texts.
 */
export function allocateAddresses(
  file: NetworkFile,
  subnets: readonly SubnetConfig[],
  requested: readonly string[],
): string[] {
  const used = new Set<string>();
  for (const record of Object.values(file.attachments)) {
    for (const ip of record.ips) used.add(ip.split("/")[0]!);
  }
  const wanted = requested.map((text) => {
    const bare = text.split("/")[0]!;
    try {
      return { text, ip: parseIPNumber(bare) };
    } catch {
      throw new CniError(
        CNI_ERROR.INVALID_NETWORK_CONFIG,
        `invalid requested ip ${JSON.stringify(text)}`,
      );
    }
  });
  const stray = wanted.find((w) =>
    !subnets.some((subnet) => netContains(subnet.net, w.ip))
  );
  if (stray !== undefined) {
    throw new CniError(
      CNI_ERROR.INVALID_NETWORK_CONFIG,
      `requested ip ${stray.text} is in none of the subnets`,
      subnets.map((s) => s.cidr).join(", "),
    );
  }
  const taken = new Set<number>();
  const out: string[] = [];
  for (const subnet of subnets) {
    const index = wanted.findIndex((w, i) =>
      !taken.has(i) && netContains(subnet.net, w.ip)
    );
    if (index >= 0) {
      taken.add(index);
      const ip = wanted[index]!.ip;
      const text = formatIPNumber(ip.version, ip.value);
      if (
        ip.value < subnet.rangeStart || ip.value > subnet.rangeEnd ||
        ip.value === subnet.gateway.value || used.has(text)
      ) {
        throw new CniError(
          CNI_ERROR.INVALID_NETWORK_CONFIG,
          `requested ip ${text} is not available in ${subnet.cidr}`,
          used.has(text)
            ? "another container holds it"
            : "it is the gateway or outside the range",
        );
      }
      out.push(`${text}/${subnet.net.prefix}`);
      used.add(text);
      continue;
    }
    const span = subnet.rangeEnd - subnet.rangeStart + 1n;
    const lastText = file.last[subnet.cidr];
    let offset = 0n;
    if (lastText !== undefined) {
      try {
        const last = parseIPNumber(lastText).value;
        if (last >= subnet.rangeStart && last <= subnet.rangeEnd) {
          offset = last - subnet.rangeStart + 1n;
        }
      } catch { /* start from the beginning */ }
    }
    const tries = BigInt(used.size) + 2n;
    let found: string | undefined;
    for (let i = 0n; i < span && i < tries + 1n; i++) {
      const value = subnet.rangeStart + ((offset + i) % span);
      if (value === subnet.gateway.value) continue;
      const text = formatIPNumber(subnet.net.version, value);
      if (used.has(text)) continue;
      found = text;
      break;
    }
    if (found === undefined) {
      throw new CniError(
        CNI_ERROR.TRY_AGAIN_LATER,
        `no free address left in ${subnet.cidr} (network ${file.network})`,
        "try again once a container has left the network, or give it a larger subnet",
      );
    }
    file.last[subnet.cidr] = found;
    used.add(found);
    out.push(`${found}/${subnet.net.prefix}`);
  }
  const unused = wanted.filter((_, i) => !taken.has(i));
  if (unused.length > 0) {
    throw new CniError(
      CNI_ERROR.INVALID_NETWORK_CONFIG,
      `requested ip ${unused[0]!.text} is in none of the subnets`,
      subnets.map((s) => s.cidr).join(", "),
    );
  }
  return out;
}

/** How many addresses of `subnet` are still free in `file`. */
export function freeAddresses(file: NetworkFile, subnet: SubnetConfig): bigint {
  let used = 0n;
  for (const record of Object.values(file.attachments)) {
    for (const ip of record.ips) {
      try {
        const n = parseIPNumber(ip.split("/")[0]!);
        if (
          netContains(subnet.net, n) && n.value >= subnet.rangeStart &&
          n.value <= subnet.rangeEnd
        ) used++;
      } catch { /* not ours */ }
    }
  }
  const gateway = subnet.gateway.value >= subnet.rangeStart &&
      subnet.gateway.value <= subnet.rangeEnd
    ? 1n
    : 0n;
  return subnet.rangeEnd - subnet.rangeStart + 1n - gateway - used;
}
