/**
 * Namespace names: checked before anything is touched, and random ones made
 * the way Podman names a container's namespace.
 *
 * @module
 */

import { InvalidArgumentError } from "../errors.ts";

/** The longest name a file in the run dir can have, in bytes. */
export const MAX_NAME_BYTES = 255;

const encoder = new TextEncoder();

/**
 * Checks that `name` can name a namespace file: not empty, not `.` or `..`,
 * no `/` or NUL, at most 255 bytes. Raises {@linkcode InvalidArgumentError}.
 */
export function validateNSName(name: string): void {
  const reject = (why: string): never => {
    throw new InvalidArgumentError(
      `invalid namespace name ${JSON.stringify(name)}: ${why}`,
      { hint: "use a plain file name such as `blue` or `ci-job-42`" },
    );
  };
  if (name.length === 0) reject("it is empty");
  if (name === "." || name === "..") reject("it is a directory reference");
  if (name.includes("/")) reject("it contains '/'");
  if (name.includes("\0")) reject("it contains a NUL byte");
  const bytes = encoder.encode(name).length;
  if (bytes > MAX_NAME_BYTES) {
    reject(`it is ${bytes} bytes long, the limit is ${MAX_NAME_BYTES}`);
  }
}

/**
 * A random name `netns-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`: 16 random bytes
 * grouped 4-2-2-2-6 like a UUID.
 */
export function randomNSName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
  return `netns-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${
    hex.slice(16, 20)
  }-${hex.slice(20)}`;
}
