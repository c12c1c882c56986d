/**
 * The one place a sandbox's backend is chosen: from its network mode and,
 * for a named network, `--backend` (nsnet's built-in bridge, CNI plugins or
 * netavark, as Podman's). Each backend is asked first whether it can serve
 * the sandbox, so that a missing binary or network is a clear error before
 * anything is created.
 *
 * @module
 */

import { InvalidArgumentError, NsnetError } from "../../errors.ts";
import { formatNetworkMode } from "../network_mode.ts";
import type { NetworkBackend, NetworkMode } from "../types.ts";
import { builtinBackend } from "./builtin.ts";
import { cniBackend } from "./cni.ts";
import { pastaBackend, slirp4netnsBackend } from "./helper.ts";
import { joinBackend } from "./join.ts";
import { netavarkBackend } from "./netavark.ts";
import { noneBackend } from "./none.ts";

/** The backends `--backend` names. */
export const BACKENDS = ["builtin", "cni", "netavark"] as const;
/** One of {@linkcode BACKENDS}. */
export type BackendName = typeof BACKENDS[number];

const named: Record<BackendName, NetworkBackend> = {
  builtin: builtinBackend,
  cni: cniBackend,
  netavark: netavarkBackend,
};

const byMode: Record<
  Exclude<NetworkMode["kind"], "bridge">,
  NetworkBackend
> = {
  none: noneBackend,
  slirp4netns: slirp4netnsBackend,
  pasta: pastaBackend,
  ns: joinBackend,
  sandbox: joinBackend,
};

/**
 * The backend of a sandbox in `mode`, `backend` naming the one of a named
 * network (default `builtin`). Unknown names, and `--backend` with a mode
 * that is not a named network, are clear errors.
 */
export function selectBackend(
  mode: NetworkMode,
  backend?: string,
): NetworkBackend {
  if (mode.kind !== "bridge") {
    if (backend !== undefined && backend !== "builtin") {
      throw new NsnetError(
        `--backend applies to named networks, not to --network ${
          formatNetworkMode(mode)
        }`,
      );
    }
    return byMode[mode.kind];
  }
  const name = backend ?? "builtin";
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(
      `unknown network backend ${JSON.stringify(name)}`,
      { hint: `use one of: ${BACKENDS.join(", ")}` },
    );
  }
  return named[name as BackendName];
}
