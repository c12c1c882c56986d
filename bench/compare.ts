/**
 * Runs every side-by-side comparison in bench/ (`compare_*.ts`), one after
 * another, each in its own process, and prints their tables.
 *
 *   deno task compare
 */
const dir = new URL(".", import.meta.url).pathname;
const scripts = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) => /^compare_.+\.ts$/.test(n))
  .sort();
let failed = 0;
for (const script of scripts) {
  const status = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${dir}${script}`],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) failed++;
  console.log();
}
Deno.exit(failed === 0 ? 0 : 1);
