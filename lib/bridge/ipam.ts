/**
 * Address allocation for bridge networks: one JSON file per network under a
 * state dir, changed only under an exclusive `flock` and always replaced
 * atomically, so that no address is handed out twice — not by two processes
 * at once, and not after a crash (a crashed allocation stays recorded until
 * its sandbox is released). Addresses are handed out round-robin after the
 * last one given, as CNI's host-local does, so a freed address is not reused
 * at once. Files (and their lock files) are removed when the last address of
 * a network is released.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError } from "../errors.ts";
import { writeFileAtomicSync } from "../fs.ts";
import { FileLock } from "../lock.ts";
import {
  ipv4ToNumber,
  type NetworkConfig,
  numberToIPv4,
  parseSubnet,
} from "./network.ts";

/** What an allocation file holds. */
export interface IpamFile {
  /** The network the addresses belong to. */
  network: NetworkConfig;
  /** Address → sandbox id. */
  allocations: Record<string, string>;
  /** The address handed out last. */
  last?: string;
  /** Sandbox id → its other names (`--alias`), for the network's DNS responder. */
  aliases?: Record<string, string[]>;
}

/** What {@linkcode Ipam.allocate} may be given beside the sandbox id. */
export interface AllocateOptions {
  /** This address, not the next free one (`--ip`): an error if outside the subnet or taken. */
  address?: string;
  /** Other names of the sandbox, answered by the network's DNS responder. */
  aliases?: readonly string[];
}

/** No free address is left in a network's subnet. */
export class AddressesExhaustedError extends NsnetError {
  /** Makes the error for `network`. */
  constructor(network: NetworkConfig) {
    super(
      `no free address left in ${network.subnet} (network ${network.name})`,
      { hint: "remove sandboxes, or use a network with a larger subnet" },
    );
    this.name = "AddressesExhaustedError";
  }
}

/** The allocation file of network `name` in `dir`. */
export function ipamFilePath(dir: string, name: string): string {
  return `${dir}/${name}.json`;
}

function readFile(path: string): IpamFile | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as IpamFile;
    if (
      typeof parsed.allocations !== "object" || parsed.network === undefined
    ) {
      throw new Error("missing fields");
    }
    return parsed;
  } catch (error) {
    throw new NsnetError(`allocation file ${path} is corrupt: ${error}`, {
      hint:
        "it is only ever replaced atomically; remove it if no sandbox of the network exists",
      cause: error,
    });
  }
}

/**
 * An open allocation table of one network, with its lock held until
 * {@linkcode Ipam.close}. Every change is written at once. Keep it open only
 * for synchronous work: other nsnet processes wait while it is open.
 */
export class Ipam {
  /** The network. */
  readonly network: NetworkConfig;
  readonly #path: string;
  readonly #lock: FileLock;
  #file: IpamFile;

  /** Wraps an open table; use {@linkcode Ipam.open}. */
  constructor(
    network: NetworkConfig,
    path: string,
    lock: FileLock,
    file: IpamFile,
  ) {
    this.network = network;
    this.#path = path;
    this.#lock = lock;
    this.#file = file;
  }

  /**
   * Opens (and locks) the table of `network` in `dir`, creating `dir` if
   * needed. Fails if the table holds addresses of a different subnet.
   */
  static open(dir: string, network: NetworkConfig): Ipam {
    parseSubnet(network.subnet);
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = ipamFilePath(dir, network.name);
    const lock = new FileLock(`${dir}/${network.name}.lock`).acquire();
    try {
      const file = readFile(path) ?? { network, allocations: {} };
      if (
        Object.keys(file.allocations).length > 0 &&
        file.network.subnet !== network.subnet
      ) {
        throw new NsnetError(
          `network ${network.name} has sandboxes on ${file.network.subnet}, not ${network.subnet}`,
          { hint: "remove its sandboxes before changing its subnet" },
        );
      }
      file.network = network;
      return new Ipam(network, path, lock, file);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  /** How many addresses are allocated. */
  get size(): number {
    return Object.keys(this.#file.allocations).length;
  }

  /** Address → sandbox id, a copy. */
  allocations(): Record<string, string> {
    return { ...this.#file.allocations };
  }

  /** The address held by `sandboxId`, if any. */
  addressOf(sandboxId: string): string | undefined {
    for (const [address, owner] of Object.entries(this.#file.allocations)) {
      if (owner === sandboxId) return address;
    }
    return undefined;
  }

  /**
   * Allocates an address to `sandboxId` and records it before returning. A
   * sandbox that already holds one gets the same address again.
   */
  allocate(sandboxId: string, options: AllocateOptions = {}): string {
    if (!this.#lock.held) throw new NsnetError("the IPAM table is closed");
    const held = this.addressOf(sandboxId);
    if (held !== undefined) return held;
    const subnet = parseSubnet(this.network.subnet);
    const gateway = ipv4ToNumber(this.network.gateway);
    const record = (address: string): string => {
      this.#file.allocations[address] = sandboxId;
      if (options.aliases !== undefined && options.aliases.length > 0) {
        (this.#file.aliases ??= {})[sandboxId] = [...options.aliases];
      }
      this.#save();
      return address;
    };
    if (options.address !== undefined) {
      const wanted = ipv4ToNumber(options.address);
      if (
        wanted <= subnet.base || wanted >= subnet.base + subnet.size - 1
      ) {
        throw new InvalidArgumentError(
          `address ${options.address} is not a host address of ${this.network.subnet} (network ${this.network.name})`,
          { hint: `give an --ip inside ${this.network.subnet}` },
        );
      }
      const text = numberToIPv4(wanted);
      const owner = wanted === gateway
        ? "the gateway"
        : this.#file.allocations[text];
      if (owner !== undefined) {
        throw new InvalidArgumentError(
          `address ${text} on network ${this.network.name} is taken by ${
            owner === "the gateway" ? owner : `sandbox ${owner}`
          }`,
          {
            hint: "choose another --ip, or leave it out for the next free one",
          },
        );
      }
      return record(text);
    }
    const first = subnet.base + 1;
    const hosts = subnet.size - 2;
    const last = this.#file.last === undefined
      ? first - 1
      : ipv4ToNumber(this.#file.last);
    let offset = last - first + 1;
    for (let tried = 0; tried < hosts; tried++, offset++) {
      const candidate = first + (((offset % hosts) + hosts) % hosts);
      if (candidate === gateway) continue;
      const text = numberToIPv4(candidate);
      if (this.#file.allocations[text] !== undefined) continue;
      this.#file.last = text;
      return record(text);
    }
    throw new AddressesExhaustedError(this.network);
  }

  /**
   * Releases every address whose holder `isStale` says is gone for good (a
   * sandbox whose teardown failed after its record went); returns them.
   */
  prune(isStale: (sandboxId: string) => boolean): string[] {
    if (!this.#lock.held) throw new NsnetError("the IPAM table is closed");
    const released = Object.entries(this.#file.allocations)
      .filter(([, owner]) => isStale(owner)).map(([address]) => address);
    for (const address of released) {
      delete this.#file.aliases?.[this.#file.allocations[address]!];
      delete this.#file.allocations[address];
    }
    if (released.length > 0) this.#save();
    return released;
  }

  /** Releases the address of `sandboxId`; returns it, or undefined if it held none. */
  release(sandboxId: string): string | undefined {
    if (!this.#lock.held) throw new NsnetError("the IPAM table is closed");
    const address = this.addressOf(sandboxId);
    if (address === undefined) return undefined;
    delete this.#file.allocations[address];
    delete this.#file.aliases?.[sandboxId];
    this.#save();
    return address;
  }

  #save(): void {
    if (this.size === 0) {
      try {
        Deno.removeSync(this.#path);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      return;
    }
    writeFileAtomicSync(this.#path, JSON.stringify(this.#file), 0o600);
  }

  /** Releases the lock; an empty table leaves no file behind. Idempotent. */
  close(): void {
    this.#lock.release({ remove: this.size === 0 });
  }

  /** Closes the table at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Allocates an address of `network` to `sandboxId` (see {@linkcode Ipam.allocate}). */
export function allocateAddress(
  dir: string,
  network: NetworkConfig,
  sandboxId: string,
): string {
  using ipam = Ipam.open(dir, network);
  return ipam.allocate(sandboxId);
}

/** Releases the address of `sandboxId` in `network`; idempotent. */
export function releaseAddress(
  dir: string,
  network: NetworkConfig,
  sandboxId: string,
): string | undefined {
  using ipam = Ipam.open(dir, network);
  return ipam.release(sandboxId);
}

/** The networks that have at least one address allocated in `dir`. */
export function networksInUse(dir: string): NetworkConfig[] {
  const networks: NetworkConfig[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return networks;
    throw error;
  }
  for (const entry of entries) {
    if (!entry.isFile || !entry.name.endsWith(".json")) continue;
    if (entry.name.startsWith(".")) continue;
    const file = readFile(`${dir}/${entry.name}`);
    if (file !== undefined && Object.keys(file.allocations).length > 0) {
      networks.push(file.network);
    }
  }
  networks.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return networks;
}
