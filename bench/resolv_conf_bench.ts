/**
 * resolv.conf costs: parsing and generating a typical file, and resolving a
 * systemd-resolved style /etc/resolv.conf link inside a prepared root.
 */
import { posix } from "node:path";
import {
  generateResolvConf,
  resolveResolvConfPath,
} from "../lib/resolv_conf/mod.ts";

const HOST = [
  "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).",
  "nameserver 127.0.0.53",
  "options edns0 trust-ad",
  "search lan corp.example",
  "",
].join("\n");
const UPSTREAM =
  "nameserver 192.168.1.1\nnameserver 2001:db8::1\nsearch lan corp.example\n";

Deno.bench("generateResolvConf: systemd-resolved stub host", () => {
  generateResolvConf(
    { host: HOST, systemdResolved: UPSTREAM },
    { nameservers: ["10.0.2.3"], keepHostServers: true, ipv6: true },
  );
});

const root = Deno.makeTempDirSync({ prefix: "nsnet-resolv-bench-" });
Deno.mkdirSync(posix.join(root, "etc"));
Deno.mkdirSync(posix.join(root, "run/systemd/resolve"), { recursive: true });
Deno.writeTextFileSync(
  posix.join(root, "run/systemd/resolve/stub-resolv.conf"),
  HOST,
);
Deno.symlinkSync(
  "../run/systemd/resolve/stub-resolv.conf",
  posix.join(root, "etc/resolv.conf"),
);
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(root, { recursive: true }),
);

Deno.bench("resolveResolvConfPath: one link into /run", () => {
  resolveResolvConfPath({ root });
});
