/**
 * `nsnet route list|add|del`: routes, as `ip route` handles them, over
 * nsnet's own netlink.
 *
 * @module
 */

import { Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { familyName, scopeName } from "../netlink/address_message.ts";
import { AF, RT_TABLE } from "../netlink/constants.ts";
import { listLinks } from "../netlink/link.ts";
import {
  addRoute,
  deleteRoute,
  listRoutes,
  replaceRoute,
  type RouteSpec,
} from "../netlink/route.ts";
import {
  routeProtocolName,
  routeTypeName,
  tableName,
} from "../netlink/route_message.ts";
import { familyOption } from "./addr.ts";
import { linkRef } from "./link.ts";
import {
  NAMESPACE_ARG_HELP,
  parseCount,
  withNetlink,
} from "./namespace_arg.ts";
import { printJson, printTable } from "./output.ts";

/** The `route` command and its subcommands. */
export function routeCommand(): CommandUnknownOpts {
  return new Command("route")
    .description("list, add, replace and delete routes (like `ip route`)")
    .addCommand(listCommand())
    .addCommand(changeCommand("add"))
    .addCommand(changeCommand("del"));
}

function parseTable(text: string): number {
  switch (text) {
    case "main":
      return RT_TABLE.MAIN;
    case "local":
      return RT_TABLE.LOCAL;
    case "default":
      return RT_TABLE.DEFAULT;
    default:
      return parseCount(text, "table");
  }
}

function listCommand(): CommandUnknownOpts {
  return new Command("list")
    .alias("show")
    .description(
      "list the routes of a namespace (the current one when omitted)",
    )
    .argument("[netns]", NAMESPACE_ARG_HELP)
    .option("-t, --table <table>", "main (default), local, a number, or all")
    .option("-4, --ipv4", "IPv4 only")
    .option("-6, --ipv6", "IPv6 only")
    .option("--json", "print JSON")
    .action((netns, opts) => {
      const family = familyOption(opts);
      const table = opts.table === "all"
        ? undefined
        : parseTable(opts.table ?? "main");
      const [routes, names] = withNetlink(netns, (sock) =>
        [
          listRoutes(sock, { family, table }),
          new Map(
            listLinks(sock, { stats: false }).map((l) => [l.index, l.name]),
          ),
        ] as const);
      if (opts.json) {
        printJson(
          routes.map((r) => ({
            ...r,
            device: r.outputIndex === undefined
              ? undefined
              : names.get(r.outputIndex),
          })),
        );
        return;
      }
      printTable(
        [
          "DESTINATION",
          "GATEWAY",
          "DEVICE",
          "TABLE",
          "PROTOCOL",
          "SCOPE",
          "METRIC",
          "TYPE",
        ],
        routes.map((r) => [
          r.destination === undefined
            ? "default"
            : `${r.destination}/${r.destinationLength}`,
          r.gateway ?? "",
          r.outputIndex === undefined
            ? ""
            : names.get(r.outputIndex) ?? String(r.outputIndex),
          tableName(r.table),
          routeProtocolName(r.protocol),
          scopeName(r.scope),
          r.priority === undefined ? "" : String(r.priority),
          r.family === AF.INET
            ? routeTypeName(r.type)
            : `${routeTypeName(r.type)} ${familyName(r.family)}`,
        ]),
      );
    });
}

function changeCommand(verb: "add" | "del"): CommandUnknownOpts {
  return new Command(verb)
    .description(
      verb === "add" ? "add (or --replace) a route" : "delete a route",
    )
    .argument("<destination>", "`default` or a prefix, e.g. 10.1.0.0/16")
    .option("--via <gateway>", "next hop")
    .option("-d, --dev <link>", "output link")
    .option("-t, --table <table>", "main (default), local, or a number")
    .option("--metric <n>", "priority")
    .option("--src <ip>", "preferred source address")
    .option(
      "-6, --ipv6",
      "`default` means the IPv6 default route (when there is no --via)",
    )
    .option(
      "--replace",
      "replace an existing route instead of failing (add only)",
    )
    .option(
      "-n, --netns <netns>",
      "act in this namespace (NAME or PATH; default: the current one)",
    )
    .action((destination, opts) => {
      const spec: RouteSpec = {
        destination,
        gateway: opts.via,
        device: opts.dev === undefined ? undefined : linkRef(opts.dev),
        table: opts.table === undefined ? undefined : parseTable(opts.table),
        priority: opts.metric === undefined
          ? undefined
          : parseCount(opts.metric, "metric"),
        source: opts.src,
        family: opts.ipv6 ? AF.INET6 : undefined,
      };
      withNetlink(opts.netns, (sock) => {
        if (verb === "del") deleteRoute(sock, spec);
        else if (opts.replace) replaceRoute(sock, spec);
        else addRoute(sock, spec);
      });
    });
}
