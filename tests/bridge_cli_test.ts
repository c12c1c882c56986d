/**
 * `nsnet network create|ls|rm`, driven through the command object (the
 * command is registered in the CLI separately), with the network store in a
 * temp dir through NSNET_NETWORKS_DIR.
 */
import { assertEquals, assertRejects } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import { networkCommand } from "../lib/cli/network.ts";
import { NetworkNotFoundError } from "../lib/bridge/network.ts";

async function capture(args: string[]): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]): void => {
    lines.push(parts.join(" "));
  };
  try {
    await networkCommand().exitOverride().parseAsync(args, { from: "user" });
  } finally {
    console.log = log;
  }
  return lines.join("\n");
}

nsTest("nsnet network: create, ls --json, rm", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "nsnet-networks-cli-" });
  Deno.env.set("NSNET_NETWORKS_DIR", dir);
  try {
    assertEquals(
      await capture(["create", "web", "--subnet", "10.123.60.0/24"]),
      "web",
    );
    const listed = JSON.parse(await capture(["ls", "--json"]));
    assertEquals(listed.map((n: { name: string }) => n.name), [
      "bridge",
      "web",
    ]);
    assertEquals(listed[1], {
      name: "web",
      bridge: "nsnet1",
      subnet: "10.123.60.0/24",
      gateway: "10.123.60.1",
    });
    const table = await capture(["ls"]);
    assertEquals(table.split("\n").length, 3);
    assertEquals(await capture(["rm", "web"]), "web");
    await assertRejects(() => capture(["rm", "web"]), NetworkNotFoundError);
  } finally {
    Deno.env.delete("NSNET_NETWORKS_DIR");
    Deno.removeSync(dir, { recursive: true });
  }
});
