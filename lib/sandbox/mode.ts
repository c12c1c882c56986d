/**
 * Moved to `network_mode.ts`; kept only until mod.ts imports from there.
 *
 * @module
 */

export { formatNetworkMode, parseNetworkMode } from "./network_mode.ts";
