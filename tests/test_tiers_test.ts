/**
 * The two test tiers in deno.json agree: `test:unit` lists the files that
 * need no privilege, and `test:kernel` runs every other test file (it ignores
 * exactly the unit files). `scripts/dev.sh test` runs the unit tier as
 * `nobody`, so a unit file that needs root fails there.
 */
import { assert, assertEquals } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";

const root = new URL("../", import.meta.url);
const tasks: Record<string, string> =
  JSON.parse(Deno.readTextFileSync(new URL("deno.json", root))).tasks;

function unitFiles(): string[] {
  return tasks["test:unit"]!.split(" ").filter((w) => w.endsWith("_test.ts"));
}

function ignoredByKernel(): string[] {
  const flag = tasks["test:kernel"]!.split(" ").find((w) =>
    w.startsWith("--ignore=")
  );
  return flag === undefined ? [] : flag.slice("--ignore=".length).split(",");
}

nsTest("test:kernel ignores exactly the files test:unit runs", () => {
  assertEquals([...ignoredByKernel()].sort(), [...unitFiles()].sort());
  assert(tasks["test:kernel"]!.endsWith(" tests/"), "kernel runs the rest");
});

nsTest("every file test:unit lists is a test file that exists", () => {
  const present = new Set(
    [...Deno.readDirSync(new URL("tests/", root))].map((e) =>
      `tests/${e.name}`
    ),
  );
  for (const file of unitFiles()) assert(present.has(file), `${file} exists`);
  assert(unitFiles().includes("tests/test_tiers_test.ts"));
});
