/**
 * rtnetlink in pure TypeScript: the codec, the socket, and links, addresses
 * and routes read and written.
 *
 * @module
 */

export * from "./constants.ts";
export * from "./errors.ts";
export * from "./codec.ts";
export * from "./ip_address.ts";
export * from "./link_message.ts";
export * from "./address_message.ts";
export * from "./route_message.ts";
export * from "./decode.ts";
export * from "./socket.ts";
export * from "./link.ts";
export * from "./address.ts";
export * from "./route.ts";
export * from "./names.ts";
export * from "./rule_message.ts";
export * from "./rule.ts";
export * from "./neighbour_message.ts";
export * from "./neighbour.ts";
export * from "./link_info.ts";
export * from "./tc_message.ts";
export * from "./tc_units.ts";
export * from "./qdisc.ts";
export * from "./tc_class.ts";
export * from "./filter.ts";
export * from "./monitor.ts";
export * from "./link_info_json.ts";
