/**
 * The errors of the CNI backend: a network list that does not validate, a
 * plugin binary that is not there, and a plugin that failed with the
 * specification's error object. A network that is not there is the
 * `NetworkNotFoundError` every backend raises (`backend: "cni"`).
 *
 * @module
 */

import { NsnetError, type NsnetErrorOptions } from "../errors.ts";

/** A network configuration list (or single config) that does not validate. */
export class CniConfigError extends NsnetError {
  /** The file (or other source) the config came from. */
  readonly source: string;

  /** Makes the error for `source`, saying what is wrong with it. */
  constructor(source: string, reason: string, options: NsnetErrorOptions = {}) {
    super(`invalid CNI network config ${source}: ${reason}`, {
      hint: options.hint ??
        "a .conflist holds cniVersion, name and a non-empty plugins array, each plugin with a type",
      cause: options.cause,
    });
    this.name = "CniConfigError";
    this.source = source;
  }
}

/** A plugin's binary is in none of the CNI_PATH directories. */
export class CniPluginNotFoundError extends NsnetError {
  /** The plugin type (its binary's name). */
  readonly plugin: string;
  /** The directories searched. */
  readonly cniPath: readonly string[];

  /** Makes the error for `plugin`, searched in `cniPath`. */
  constructor(plugin: string, cniPath: readonly string[]) {
    super(
      `CNI plugin ${JSON.stringify(plugin)} not found in ${cniPath.join(":")}`,
      {
        hint:
          "install the plugins (Debian: apt-get install containernetworking-plugins) or set CNI_PATH",
      },
    );
    this.name = "CniPluginNotFoundError";
    this.plugin = plugin;
    this.cniPath = cniPath;
  }
}

/**
 * A plugin failed: the specification's error object (`code`, `msg`,
 * `details`) as the plugin wrote it. A plugin that exited non-zero without a
 * valid error object gets code 999 (the Go library's ErrInternal) and its
 * standard error as the message.
 */
export class CniPluginError extends NsnetError {
  /** The plugin type. */
  readonly plugin: string;
  /** ADD, DEL, CHECK or VERSION. */
  readonly command: string;
  /** The error code: 1–99 from the specification, 100 and up the plugin's own. */
  readonly code: number;
  /** The short message. */
  readonly msg: string;
  /** The longer explanation, if any. */
  readonly details: string | undefined;
  /** What the plugin wrote to standard error. */
  readonly stderr: string;

  /** Makes the error from the plugin's error object. */
  constructor(
    plugin: string,
    command: string,
    error: { code: number; msg: string; details?: string },
    stderr = "",
  ) {
    const details = error.details ? `: ${error.details}` : "";
    super(
      `CNI plugin ${plugin} failed (${command}, code ${error.code}): ${error.msg}${details}`,
      { hint: hintFor(error.code) },
    );
    this.name = "CniPluginError";
    this.plugin = plugin;
    this.command = command;
    this.code = error.code;
    this.msg = error.msg;
    this.details = error.details;
    this.stderr = stderr;
  }

  /** The specification's error object. */
  toJSON(): { code: number; msg: string; details?: string } {
    return this.details === undefined
      ? { code: this.code, msg: this.msg }
      : { code: this.code, msg: this.msg, details: this.details };
  }
}

function hintFor(code: number): string | undefined {
  switch (code) {
    case 1:
      return "the plugin does not support the list's cniVersion";
    case 7:
      return "the network config is invalid for this plugin";
    case 11:
      return "try again later";
    default:
      return undefined;
  }
}
