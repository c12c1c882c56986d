import { posix } from "node:path";
import { joinPaths } from "../lib/join_paths.ts";
import { assertEquals } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";

nsTest("joinPaths agrees with node:path's posix.join on every shape", () => {
  const names = ["", "/", ".", "..", "a", "b/", "/c", "//d//", "../e", "f/.."];
  let cases = 0;
  for (const a of names) {
    for (const b of names) {
      for (const c of names) {
        assertEquals(joinPaths(a, b, c), posix.join(a, b, c), `${a}|${b}|${c}`);
        cases++;
      }
    }
  }
  assertEquals(joinPaths("/root", "/../etc/resolv.conf"), "/etc/resolv.conf");
  assertEquals(joinPaths(), ".");
  assertEquals(cases, 1000);
});
