#!/usr/bin/env bash
# nsnet's main job: a sandbox made, checked end to end and removed; then a named namespace's life.
# Run through `bash scripts/dev.sh demo` (which installs what is missing), as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DENO=${DENO:-deno}
nsnet() { "$DENO" run --allow-all --quiet cli.ts "$@"; }
step() { printf '\n\033[1m$ nsnet %s\033[0m\n' "$*"; nsnet "$@"; }

# The self-check: interfaces, addresses, gateway, DNS, a TCP round trip to a
# server on this host's loopback through the sandbox's network, statistics.
# On the default bridge the path is the bridge, to the gateway, DNAT'ed to the
# host's loopback; through slirp4netns, the helper maps its gateway there.
step run
step run --network slirp4netns

# A command in a throwaway sandbox; its exit status comes back.
step run --network none --stats -- ip -br addr

name="nsnet-demo-$$"
trap 'nsnet del "$name" 2>/dev/null || true' EXIT
step add "$name" --json
step exec "$name" -- ip link set lo up
step inspect "$name" --json
step link list "$name"
step del "$name"
trap - EXIT
printf '\nDone: sandboxes and a namespace were made, used, shown and removed.\n'
