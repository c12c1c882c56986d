/**
 * The tables the CLI's fast path prints without loading commander or
 * reading deno.json: `lib/version.ts` and `lib/cli/help_text.ts` must say
 * what deno.json and commander say. Pure: needs no root.
 */
import { assertEquals } from "./_assert.ts";
import { VERSION } from "../lib/version.ts";
import { HELP_TEXT } from "../lib/cli/help_text.ts";
import { VERSION as CLI_VERSION } from "../lib/cli/main.ts";
import { commanderHelp } from "../scripts/gen_help_text.ts";
import denoConfig from "../deno.json" with { type: "json" };

Deno.test("lib/version.ts holds deno.json's version, and the CLI uses it", () => {
  assertEquals(VERSION, denoConfig.version);
  assertEquals(CLI_VERSION, VERSION);
});

Deno.test(
  "lib/cli/help_text.ts is commander's `nsnet --help` (else: deno run --allow-all scripts/gen_help_text.ts)",
  async () => {
    assertEquals(HELP_TEXT, await commanderHelp());
  },
);
