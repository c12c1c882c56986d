import { assertEquals } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import { sha256Hex } from "../lib/sha256.ts";

nsTest(
  "sha256 agrees with the FIPS vectors and with sha256sum on every length across block edges",
  async () => {
    assertEquals(
      sha256Hex(""),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    assertEquals(
      sha256Hex("abc"),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    for (const length of [1, 55, 56, 57, 63, 64, 65, 119, 120, 1000]) {
      const input = crypto.getRandomValues(new Uint8Array(length));
      const out = await new Deno.Command("sha256sum", {
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const writer = out.stdin.getWriter();
      await writer.write(input);
      await writer.close();
      const expected = new TextDecoder().decode((await out.output()).stdout)
        .slice(0, 64);
      assertEquals(sha256Hex(input), expected, `length ${length}`);
    }
  },
);
