#!/usr/bin/env bash
# nsnet's main job for now: make a namespace, run commands in it, show it, delete it.
# Run through `bash scripts/dev.sh demo` (which installs what is missing), as root.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
DENO=${DENO:-deno}
nsnet() { "$DENO" run --allow-all --quiet cli.ts "$@"; }
step() { printf '\n\033[1m$ nsnet %s\033[0m\n' "$*"; nsnet "$@"; }

name="nsnet-demo-$$"
trap 'nsnet del "$name" 2>/dev/null || true' EXIT

step add "$name" --json
step list
step exec "$name" -- ip link set lo up
step exec "$name" -- ip -br addr
step exec "$name" -- sh -c 'echo "inside: $(readlink /proc/self/ns/net), outside: '"$(readlink /proc/self/ns/net)"'"'
step exec "$name" -- ip route show table local
ip netns exec "$name" sleep 5 & sleeper=$!
sleep 0.3
step pids "$name"
step identify "$(nsnet pids "$name" | head -1)"
kill "$sleeper" 2>/dev/null || true; wait "$sleeper" 2>/dev/null || true
step del "$name"
trap - EXIT
step list --json
printf '\nDone: the namespace was made, used, shown and removed.\n'
