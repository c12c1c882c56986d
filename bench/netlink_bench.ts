/**
 * `deno bench` for the netlink layer: dump+decode of 1001 links with stats,
 * one link by name among them, and 100,000 routes. The namespaces are set up
 * once (with `ip -batch`) and removed when the bench process unloads.
 *
 * @module
 */

import { newNS } from "../lib/netns/create.ts";
import type { NetNS } from "../lib/netns/netns.ts";
import { unmountNS } from "../lib/netns/teardown.ts";
import { AF, RT_TABLE } from "../lib/netlink/constants.ts";
import { decodeMessages } from "../lib/netlink/decode.ts";
import { getLink, listLinks } from "../lib/netlink/link.ts";
import { listRoutes } from "../lib/netlink/route.ts";
import { NetlinkSocket } from "../lib/netlink/socket.ts";
import { MessageWriter } from "../lib/netlink/codec.ts";
import { IFLA, NLM_F, RTM, SIZE } from "../lib/netlink/constants.ts";

const LINKS = 1000;
const ROUTES = 100_000;

async function ipBatch(ns: NetNS, lines: string[]): Promise<void> {
  const name = ns.path.slice(ns.path.lastIndexOf("/") + 1);
  const child = new Deno.Command("ip", {
    args: ["-n", name, "-batch", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

const linkNS = newNS();
const routeNS = newNS();
globalThis.addEventListener("unload", () => {
  linkSock.close();
  routeSock.close();
  unmountNS(linkNS);
  unmountNS(routeNS);
});

await ipBatch(
  linkNS,
  Array.from({ length: LINKS }, (_, i) => `link add ifb${i} type ifb`),
);
await ipBatch(routeNS, [
  "link add v0 type veth peer name v1",
  "link set v0 up",
  "link set v1 up",
  "addr add 192.168.0.1/24 dev v0",
  ...Array.from(
    { length: ROUTES },
    (_, i) =>
      `route add 10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32 via 192.168.0.2`,
  ),
]);

const linkSock = NetlinkSocket.open(linkNS);
const routeSock = NetlinkSocket.open(routeNS);
const captured = linkSock.dumpRaw(
  new MessageWriter(RTM.GETLINK, NLM_F.REQUEST | NLM_F.DUMP)
    .struct(SIZE.IFINFOMSG, () => {})
    .u32(IFLA.EXT_MASK, 0),
);

Deno.bench("listLinks: dump+decode 1001 links with stats64", {
  group: "links",
  baseline: true,
}, () => {
  listLinks(linkSock);
});

Deno.bench("listLinks: 1001 links without stats", { group: "links" }, () => {
  listLinks(linkSock, { stats: false });
});

Deno.bench("decodeMessages: the captured 1001-link dump (codec only)", {
  group: "links",
}, () => {
  for (const datagram of captured) decodeMessages(datagram);
});

Deno.bench("getLink: one link by name among 1001 (no dump)", () => {
  getLink(linkSock, "ifb500");
});

Deno.bench("listRoutes: dump+decode 100,000 IPv4 routes", { n: 20 }, () => {
  listRoutes(routeSock, { family: AF.INET, table: RT_TABLE.MAIN });
});
