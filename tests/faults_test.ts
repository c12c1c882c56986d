/**
 * Fault injection is a hook that tests install: with none installed the
 * named steps do nothing, an installed hook decides per step, and no
 * production module reads `NSNET_FAULT` (only the test-only CLI entry does).
 * Pure: needs no privilege.
 */
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  checkFault,
  clearFaults,
  injectFault,
  setFaultHook,
} from "../lib/netns/_faults.ts";
import { NsnetError } from "../lib/errors.ts";

nsTest("no hook: every step runs", () => {
  clearFaults();
  checkFault("after-mount");
});

nsTest("injectFault fails that step only, until clearFaults", () => {
  try {
    injectFault("after-mount");
    assertThrows(
      () => checkFault("after-mount"),
      NsnetError,
      "injected fault at after-mount",
    );
    checkFault("after-open");
  } finally {
    clearFaults();
  }
  checkFault("after-mount");
});

nsTest("an installed hook is asked at every step", () => {
  const asked: string[] = [];
  setFaultHook((step) => {
    asked.push(step);
    return step === "b" ? "fail" : undefined;
  });
  try {
    checkFault("a");
    assertThrows(() => checkFault("b"), NsnetError);
  } finally {
    setFaultHook(undefined);
  }
  assertEquals(asked, ["a", "b"]);
});

nsTest("no production module reads NSNET_FAULT", () => {
  const root = new URL("../", import.meta.url).pathname;
  const readers: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of Deno.readDirSync(`${root}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (
        entry.name.endsWith(".ts") &&
        Deno.readTextFileSync(`${root}${path}`).includes("NSNET_FAULT")
      ) {
        readers.push(path);
      }
    }
  };
  walk("lib");
  walk("ffi");
  for (const file of ["mod.ts", "cli.ts"]) {
    if (Deno.readTextFileSync(`${root}${file}`).includes("NSNET_FAULT")) {
      readers.push(file);
    }
  }
  assertEquals(readers, []);
  assert(
    Deno.readTextFileSync(`${root}tests/_fixtures/fault_cli.ts`).includes(
      "NSNET_FAULT",
    ),
    "the test-only entry is where faults come from",
  );
});
