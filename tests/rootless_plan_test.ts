import { assertEquals } from "./_assert.ts";
import { nsTest } from "./_helpers.ts";
import {
  insideMountPlan,
  pathWithSbin,
  stepArguments,
} from "../lib/rootless/inside.ts";
import type { RootlessPaths } from "../lib/rootless/state.ts";
import {
  moveHelperToUserSlice,
  moveToUserSliceCommand,
  runsOnSystemd,
} from "../lib/rootless/systemd.ts";
import { rootlessNetNSName } from "../lib/rootless/state.ts";

const DIR = "/run/user/1000/nsnet/rootless-netns";
const PATHS: RootlessPaths = {
  staticDir: "/home/u/.local/share/nsnet",
  lock: "/run/user/1000/nsnet/rootless-netns.lock",
  dir: DIR,
  netns: "/run/user/1000/netns/rootless-netns-x",
  pidFile: (h) => `${DIR}/rootless-netns-${h}.pid`,
  refCount: `${DIR}/ref-count`,
  pinned: `${DIR}/pinned`,
  info: `${DIR}/info.json`,
  resolvConf: `${DIR}/resolv.conf`,
  run: `${DIR}/run`,
};

nsTest(
  "S6 plan: systemd-resolved stub gets a tmpfs first, then the file made and bound, /run last",
  () => {
    const plan = insideMountPlan(PATHS, {
      runtimeDir: "/run/user/1000",
      resolvConfTarget: "/run/systemd/resolve/stub-resolv.conf",
      hasRunSystemd: true,
      cniDir: "/var/lib/cni",
    });
    assertEquals(plan, [
      { op: "rbind", source: "/run/user/1000", target: `${DIR}/run/user/1000` },
      { op: "rshared", target: `${DIR}/run/user/1000` },
      { op: "rbind", source: "/run/systemd", target: `${DIR}/run/systemd` },
      { op: "tmpfs", target: `${DIR}/run/systemd/resolve` },
      { op: "mkfile", target: `${DIR}/run/systemd/resolve/stub-resolv.conf` },
      {
        op: "bind",
        source: `${DIR}/resolv.conf`,
        target: `${DIR}/run/systemd/resolve/stub-resolv.conf`,
      },
      { op: "bind", source: `${DIR}/var/lib/cni`, target: "/var/lib/cni" },
      { op: "rbind", source: `${DIR}/run`, target: "/run" },
      { op: "sysfs", target: "/sys" },
    ]);
  },
);

nsTest(
  "S6 plan: a plain /etc/resolv.conf is bound in place; a missing /var/lib/cni uses its nearest parent",
  () => {
    const plan = insideMountPlan(PATHS, {
      runtimeDir: "/run/user/1000",
      resolvConfTarget: "/etc/resolv.conf",
      hasRunSystemd: false,
      cniDir: "/var/lib",
    });
    assertEquals(plan.map((s) => s.op), [
      "rbind",
      "rshared",
      "bind",
      "bind",
      "rbind",
      "sysfs",
    ]);
    assertEquals(plan[2], {
      op: "bind",
      source: `${DIR}/resolv.conf`,
      target: "/etc/resolv.conf",
    });
    assertEquals(plan[3], {
      op: "bind",
      source: `${DIR}/var/lib`,
      target: "/var/lib",
    });
  },
);

nsTest(
  "S6 plan: a resolv.conf elsewhere under /run is made in the mirror, without a tmpfs",
  () => {
    const plan = insideMountPlan(PATHS, {
      runtimeDir: "/run/user/1000",
      resolvConfTarget: "/run/resolvconf/resolv.conf",
      hasRunSystemd: true,
      cniDir: "/var/lib/cni",
    });
    assertEquals(plan.filter((s) => s.op === "tmpfs"), []);
    assertEquals(plan[3], {
      op: "mkfile",
      target: `${DIR}/run/resolvconf/resolv.conf`,
    });
    // A runtime dir outside /run is not hidden by the new /run, so it is not bound.
    const outside = insideMountPlan(PATHS, {
      runtimeDir: "/tmp/xdg",
      resolvConfTarget: "/etc/resolv.conf",
      hasRunSystemd: false,
      cniDir: "/var/lib/cni",
    });
    assertEquals(outside[0]?.op, "bind");
    assertEquals(stepArguments(outside.slice(0, 1)), [
      "bind",
      `${DIR}/resolv.conf`,
      "/etc/resolv.conf",
    ]);
  },
);

nsTest("S5: /usr/sbin and /sbin are put on PATH once", () => {
  assertEquals(pathWithSbin("/usr/bin:/bin"), "/usr/bin:/bin:/usr/sbin:/sbin");
  assertEquals(
    pathWithSbin("/usr/sbin:/usr/bin:/sbin"),
    "/usr/sbin:/usr/bin:/sbin",
  );
});

nsTest(
  "S1: the namespace name is rootless-netns- and 10 bytes of sha256 of the static dir",
  () => {
    // sha256("/home/u/.local/share/nsnet") computed independently with sha256sum.
    const name = rootlessNetNSName("/home/u/.local/share/nsnet");
    const expected = new TextDecoder().decode(
      new Deno.Command("sh", {
        args: ["-c", "printf %s /home/u/.local/share/nsnet | sha256sum"],
        stdout: "piped",
      })
        .outputSync().stdout,
    ).slice(0, 20);
    assertEquals(name, `rootless-netns-${expected}`);
    assertEquals(name.length, "rootless-netns-".length + 20);
  },
);

nsTest(
  "systemd: the helper is moved into user.slice only where systemd runs (decision; not run on a real systemd here)",
  async () => {
    const root = await Deno.makeTempDir();
    try {
      assertEquals(runsOnSystemd(root), false);
      assertEquals(moveHelperToUserSlice(4242, "slirp4netns", root), "skipped");
      await Deno.mkdir(`${root}/run/systemd/system`, { recursive: true });
      assertEquals(runsOnSystemd(root), true);
      const command = moveToUserSliceCommand(4242, "slirp4netns");
      assertEquals(command.slice(0, 7), [
        "busctl",
        "--user",
        "call",
        "org.freedesktop.systemd1",
        "/org/freedesktop/systemd1",
        "org.freedesktop.systemd1.Manager",
        "StartTransientUnit",
      ]);
      assertEquals(command.slice(8), [
        "nsnet-slirp4netns-4242.scope",
        "fail",
        "2",
        "PIDs",
        "au",
        "1",
        "4242",
        "Slice",
        "s",
        "user.slice",
        "0",
      ]);
      // No user bus here: the move fails, is logged, and does not raise.
      const original = console.error;
      console.error = () => {};
      try {
        assertEquals(
          moveHelperToUserSlice(4242, "slirp4netns", root),
          "failed",
        );
      } finally {
        console.error = original;
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);
