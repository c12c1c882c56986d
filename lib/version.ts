/**
 * nsnet's version, as published: the same string as `version` in deno.json
 * (a unit test holds them equal). A constant, so that `nsnet --version`
 * reads no file and loads no JSON.
 *
 * @module
 */

/** nsnet's version, as published. */
export const VERSION: string = "0.1.0";
