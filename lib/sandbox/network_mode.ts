/**
 * The `--network` value: a reserved mode (`none`, `slirp4netns`, `pasta`,
 * `ns:PATH`, `sandbox:NAME`) or the name of a bridge network (`bridge` is the
 * default one), as in Podman.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError } from "../errors.ts";
import type { NetworkMode, SandboxConfig } from "./types.ts";

/** Parses a `--network` value. */
export function parseNetworkMode(value = "bridge"): NetworkMode {
  if (value === "none" || value === "slirp4netns" || value === "pasta") {
    return { kind: value };
  }
  if (value.startsWith("ns:")) {
    const path = value.slice(3);
    if (!path.startsWith("/")) {
      throw new InvalidArgumentError(
        `ns: needs an absolute path, not ${JSON.stringify(path)}`,
        {
          hint:
            "for example --network ns:/run/netns/blue or ns:/proc/1234/ns/net",
        },
      );
    }
    return { kind: "ns", path };
  }
  if (value.startsWith("sandbox:")) {
    const name = value.slice("sandbox:".length);
    if (name === "") {
      throw new InvalidArgumentError("sandbox: needs a sandbox name");
    }
    return { kind: "sandbox", name };
  }
  if (value === "" || value.includes("/") || value.includes(":")) {
    throw new InvalidArgumentError(
      `unknown network mode ${JSON.stringify(value)}`,
      {
        hint:
          "use none, bridge, slirp4netns, pasta, ns:PATH, sandbox:NAME or a network name",
      },
    );
  }
  return { kind: "bridge", network: value };
}

/** The `--network` text of a mode. */
export function formatNetworkMode(mode: NetworkMode): string {
  switch (mode.kind) {
    case "bridge":
      return mode.network;
    case "ns":
      return `ns:${mode.path}`;
    case "sandbox":
      return `sandbox:${mode.name}`;
    default:
      return mode.kind;
  }
}

/** The named network a sandbox is on; raises for the other modes. */
export function networkOf(config: SandboxConfig): string {
  if (config.mode.kind !== "bridge") {
    throw new NsnetError(
      `sandbox ${config.name} is not on a named network (--network ${
        formatNetworkMode(config.mode)
      })`,
    );
  }
  return config.mode.network;
}

/** Raises when `config` publishes ports on a mode with no network of its own to publish from. */
export function refusePortMappings(config: SandboxConfig): void {
  if (config.ports.length === 0) return;
  throw new NsnetError(
    `port mappings need a network of the sandbox's own, not ${
      formatNetworkMode(config.mode)
    }`,
    { hint: "drop -p, or use --network bridge, slirp4netns or pasta" },
  );
}
