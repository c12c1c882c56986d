/**
 * Network labs for tests: a topology of network namespaces (nodes), veth
 * pairs (links) and bridges (switches), with addresses, shortest-path routes
 * through routers, and per-link impairments (rate, loss, delay…) changed
 * live, and partitions that heal. In code or from a JSON file; root, or an
 * unprivileged user's script inside `nsnet unshare`.
 *
 * Inside `nsnet unshare` everything works (namespaces, veths, bridges, tbf,
 * netem where the kernel has it, nftables loss) except `LabNode.run` and
 * `LabNode.listenDatagram`, which raise: a thread that entered a node could
 * not come back to the host's namespace. There each namespace and each
 * router's forwarding sysctls cost a short-lived program (`unshare`,
 * `nsenter`), so labs come up slower than as root. A lab outlives its
 * creating process; a process still running inside a node keeps that
 * node's namespace alive after `remove()`, invisible to the host.
 *
 * @example A client, a router and a server; a lossy, rate-limited last hop
 * ```ts
 * import { Lab } from "@nsnet/nsnet/lab";
 *
 * await using lab = await Lab.create({
 *   nodes: { a: {}, r: { router: true }, b: {} },
 *   links: [
 *     { ends: ["a", "r"] },
 *     { ends: ["r", "b"], rate: "20mbit", loss: "1%" },
 *   ],
 * });
 * using listener = lab.node("b").listen({ port: 8080 });
 * const conn = await lab.node("a").connect({
 *   hostname: lab.address("b"),
 *   port: 8080,
 * });
 * conn.close();
 * await lab.link("r", "b").down(); // a partition…
 * await lab.link("r", "b").up(); // …that heals
 * ```
 *
 * @module
 */

export {
  type ImpairOptions,
  Lab,
  LabLink,
  type LabLinkStats,
  type LabOptions,
  type LabStatus,
  type LinkEndStats,
  type LinkStatus,
  type NodeStatus,
} from "./lab.ts";
export { LabNode } from "./node.ts";
export { LabExistsError, LabMemberError, LabNotFoundError } from "./errors.ts";
export { type LabAddressOptions, planLab } from "./plan.ts";
export {
  LabSpecError,
  parseImpairment,
  parseLabSpec,
  readLabSpecFile,
} from "./spec.ts";
export type {
  Impairment,
  LabPlan,
  LabSpec,
  LinkSpec,
  NodeSpec,
  PlannedInterface,
  PlannedNode,
  PlannedRoute,
  PlannedSegment,
  SwitchSpec,
} from "./types.ts";
export type { LabRecord } from "./store.ts";
// Named by the signatures above; the root export and their subpaths have them too.
export { InvalidArgumentError, NsnetError } from "../errors.ts";
export type { NetAddress, NetInterface, StatusBlock } from "../inspect.ts";
export type { NetIO } from "../stats.ts";
export type { LinkStats } from "../netlink/link_message.ts";
