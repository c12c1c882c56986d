import { assertEquals } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import { logHelperOutput, setDebug } from "../lib/log.ts";

function captureStderr(fn: () => void): string[] {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    fn();
  } finally {
    console.error = original;
  }
  return lines;
}

nsTest(
  "helper output goes to the debug log line by line with the helper's prefix (S16)",
  () => {
    const output = "sent tapfd=5 for tap0\n\nreceived tapfd=5\n";
    assertEquals(
      captureStderr(() => logHelperOutput("slirp4netns", output)),
      [],
    );
    setDebug(true);
    try {
      assertEquals(
        captureStderr(() => logHelperOutput("slirp4netns", output))
          .map((line) =>
            line.replace(/^DEBU\[nsnet\] +[\d.]+ms /, "DEBU[nsnet] ")
          ),
        [
          "DEBU[nsnet] slirp4netns: sent tapfd=5 for tap0",
          "DEBU[nsnet] slirp4netns: received tapfd=5",
        ],
      );
    } finally {
      setDebug(false);
    }
  },
);
