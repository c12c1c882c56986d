/**
 * How a call reaches nsnet's user namespace (an explicit value, not module
 * state) and how the CLI's arguments are classified before the full CLI
 * loads. Pure: needs no privilege.
 */
import { assertEquals } from "./_assert.ts";
import {
  INSIDE,
  inUserNS,
  pausePid,
  seenFromHere,
  viaPause,
} from "../lib/rootless/access.ts";
import { plainRootlessExec, wantsUserNS } from "../lib/cli/argv.ts";

Deno.test("from inside, commands and paths are used as they are", () => {
  assertEquals(pausePid(INSIDE), undefined);
  assertEquals(inUserNS(INSIDE, ["ip", "link"]), ["ip", "link"]);
  assertEquals(
    seenFromHere(INSIDE, "/run/user/1000/netns/x"),
    "/run/user/1000/netns/x",
  );
});

Deno.test("through the pause process, commands nsenter it and paths go through its root", () => {
  const access = viaPause(4242);
  assertEquals(pausePid(access), 4242);
  assertEquals(inUserNS(access, ["ip", "link"]), [
    "nsenter",
    "--target",
    "4242",
    "--user",
    "--mount",
    "--",
    "ip",
    "link",
  ]);
  assertEquals(
    seenFromHere(access, "/run/user/1000/netns/x"),
    "/proc/4242/root/run/user/1000/netns/x",
  );
  // Two values for two pause processes: nothing is shared between them.
  assertEquals(pausePid(viaPause(7)), 7);
  assertEquals(pausePid(access), 4242);
});

Deno.test("wantsUserNS: every command but help, version and resolv", () => {
  assertEquals(wantsUserNS(["rootless", "up"]), true);
  assertEquals(wantsUserNS(["--debug", "add", "blue"]), true);
  assertEquals(wantsUserNS(["resolv", "path"]), false);
  assertEquals(wantsUserNS(["help"]), false);
  assertEquals(wantsUserNS(["add", "--help"]), false);
  assertEquals(wantsUserNS(["-V"]), false);
  assertEquals(wantsUserNS([]), false);
});

Deno.test("plainRootlessExec: only `rootless exec [--] CMD…` with nothing else on the line", () => {
  assertEquals(plainRootlessExec(["rootless", "exec", "--", "true"]), ["true"]);
  assertEquals(plainRootlessExec(["rootless", "exec", "sh", "-c", "x"]), [
    "sh",
    "-c",
    "x",
  ]);
  assertEquals(
    plainRootlessExec(["rootless", "exec", "--helper", "pasta", "--", "true"]),
    undefined,
  );
  assertEquals(plainRootlessExec(["rootless", "exec"]), undefined);
  assertEquals(plainRootlessExec(["rootless", "up"]), undefined);
  assertEquals(plainRootlessExec(["exec", "blue", "true"]), undefined);
});
