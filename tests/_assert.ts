/**
 * The assertions nsnet's tests use, in the shape of Deno's std/assert (which
 * lives on JSR, out of reach here), built on node:assert.
 */
import nodeAssert from "node:assert/strict";

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error> = new (...args: any[]) => E;

/** Fails unless `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** Deep, strict equality. */
export function assertEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Deep, strict inequality. */
export function assertNotEquals<T>(
  actual: T,
  expected: T,
  message?: string,
): void {
  nodeAssert.notDeepStrictEqual(actual, expected, message);
}

/** `text` matches `pattern`. */
export function assertMatch(
  text: string,
  pattern: RegExp,
  message?: string,
): void {
  nodeAssert.match(text, pattern, message);
}

/** `haystack` contains `needle`. */
export function assertStringIncludes(
  haystack: string,
  needle: string,
  message?: string,
): void {
  nodeAssert.ok(
    haystack.includes(needle),
    message ??
      `expected ${JSON.stringify(haystack)} to include ${
        JSON.stringify(needle)
      }`,
  );
}

function check<E extends Error>(
  error: unknown,
  errorClass?: ErrorClass<E>,
  includes?: string,
): E {
  if (errorClass && !(error instanceof errorClass)) {
    throw new nodeAssert.AssertionError({
      message: `expected ${errorClass.name}, got ${
        error instanceof Error ? error.name : typeof error
      }: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
  if (includes !== undefined) {
    const message = error instanceof Error ? error.message : String(error);
    assertStringIncludes(message, includes);
  }
  return error as E;
}

/** `fn` throws (an instance of `errorClass`, whose message includes `includes`); returns the error. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  errorClass?: ErrorClass<E>,
  includes?: string,
): E {
  try {
    fn();
  } catch (error) {
    return check(error, errorClass, includes);
  }
  throw new nodeAssert.AssertionError({
    message: "expected the function to throw",
  });
}

/** The promise from `fn` rejects (as {@linkcode assertThrows}); returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  errorClass?: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    return check(error, errorClass, includes);
  }
  throw new nodeAssert.AssertionError({
    message: "expected the promise to reject",
  });
}

/** `value` is an instance of `klass`. */
export function assertInstanceOf<T>(
  value: unknown,
  // deno-lint-ignore no-explicit-any
  klass: abstract new (...args: any[]) => T,
  message?: string,
): asserts value is T {
  if (!(value instanceof klass)) {
    throw new nodeAssert.AssertionError({
      message: message ??
        `expected an instance of ${klass.name}, got ${
          (value as { constructor?: { name?: string } })?.constructor?.name ??
            typeof value
        }`,
    });
  }
}
