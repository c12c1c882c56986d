#!/usr/bin/env bash
# Sets up a fresh Debian machine for nsnet and runs one of its jobs.
#
#   bash scripts/dev.sh demo    the main job: a namespace made, used, shown and removed
#   bash scripts/dev.sh test    the whole test suite (as root): test:unit, then test:kernel
#   bash scripts/dev.sh check   fmt, lint, type-check, doc lint, publish dry run
#   bash scripts/dev.sh bench   benchmarks, nsnet side by side with its peers
#   bash scripts/dev.sh deno …  any deno command with the project's Deno
#
# Installs what is missing and nothing else: Debian packages with apt-get (as root), and
# Deno 2.9.6 from the npm registry into .tools/ (JSR is not needed: no jsr: imports).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

DENO_VERSION=2.9.6
# Packages the tests drive as peers or need as helpers; the benchmarks' peers on top.
PACKAGES=(iproute2 util-linux procps uidmap slirp4netns passt nftables iptables bash coreutils
  containernetworking-plugins netavark podman runc catatonit busybox-static iputils-ping iperf3 containerd)
BENCH_PACKAGES=(hyperfine python3-pyroute2)

log() { printf '\033[1m[nsnet]\033[0m %s\n' "$*" >&2; }

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${missing[*]} (run as root to install them)"
    return 1
  fi
  log "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

deno_bin() {
  local bin="$here/.tools/node_modules/@deno/linux-x64-glibc/deno"
  [ "$(uname -m)" = aarch64 ] && bin="$here/.tools/node_modules/@deno/linux-arm64-glibc/deno"
  if ! [ -x "$bin" ] || [ "$("$bin" --version 2>/dev/null | head -1 | cut -d' ' -f2)" != "$DENO_VERSION" ]; then
    command -v npm >/dev/null || { log "npm is needed to fetch Deno: apt-get install npm"; exit 1; }
    log "installing Deno $DENO_VERSION from npm into .tools/"
    npm install --silent --no-audit --no-fund --prefix "$here/.tools" "deno@$DENO_VERSION" >&2
  fi
  printf '%s\n' "$bin"
}

# The unit tier needs no privilege, and proves it: run as root, it runs as
# nobody, from a copy of the tree (the checkout may not be readable by
# others) with a Deno dir seeded with the npm packages already fetched, so
# that a unit test which needs root fails. Sets tier_cmd for tier $1.
tier_command() {
  tier_cmd=("$DENO" task "test:$1")
  [ "$1" = unit ] && [ "$(id -u)" = 0 ] || return 0
  unit_copy=$(mktemp -d /tmp/nsnet-unit.XXXXXX)
  tar -C "$here" --exclude=./.git --exclude=./.tools --exclude=./out -cf - . | tar -C "$unit_copy" -xf -
  local npm_cache
  npm_cache=$("$DENO" info --json | sed -n 's/.*"npmCache": *"\([^"]*\)".*/\1/p')
  mkdir -p "$unit_copy/.deno"
  if [ -n "$npm_cache" ] && [ -d "$npm_cache" ]; then cp -r "$npm_cache" "$unit_copy/.deno/npm"; fi
  chown -R "$(id -u nobody):$(id -g nobody)" "$unit_copy"
  tier_cmd=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups
    env -i -C "$unit_copy" PATH=/usr/local/bin:/usr/bin:/bin HOME="$unit_copy"
    DENO_DIR="$unit_copy/.deno" NO_COLOR=1 "$DENO" task test:unit)
}

job=${1:-help}
[ $# -gt 0 ] && shift
case "$job" in
  demo)
    install_packages
    DENO=$(deno_bin); export DENO
    "$DENO" install --quiet
    exec "$DENO" task demo "$@"
    ;;
  test)
    install_packages
    DENO=$(deno_bin); export DENO
    "$DENO" install --quiet
    out=$(mktemp -d)
    # Both tiers share one 25-minute budget: a suite that hangs is a failure
    # to report, not a CI run to time out.
    budget_end=$((SECONDS + 1500))
    status=0
    set +e
    for tier in unit kernel; do
      left=$((budget_end - SECONDS))
      if [ "$left" -le 0 ]; then
        echo "test:$tier not started: the 1500 s budget is spent" >&2
        status=1
        continue
      fi
      tier_command "$tier"
      NO_COLOR=1 timeout --kill-after=30 "$left" "${tier_cmd[@]}" "$@" 2>&1 | tee "$out/$tier"
      tier_status=${PIPESTATUS[0]}
      [ "$status" -ne 0 ] || status=$tier_status
    done
    [ -z "${unit_copy:-}" ] || rm -rf "$unit_copy"
    set -e
    # Deno's own closing line ("ok | N passed | N failed") is not one that
    # log readers know; end with the plain "N passed, N failed" alone on
    # its line, the form they all read, summed over both tiers.
    passed=0 failed=0 ignored=0 finished=0
    for tier in unit kernel; do
      summary=$(grep -sE '^(ok|FAILED) \| [0-9]+ passed' "$out/$tier" | tail -1)
      if [ -z "$summary" ]; then
        echo "no test summary found for test:$tier: it did not finish" >&2
        continue
      fi
      finished=$((finished + 1))
      passed=$((passed + $(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")))
      failed=$((failed + $(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")))
      n=$(grep -oE '[0-9]+ ignored' <<<"$summary" | cut -d' ' -f1 || true)
      ignored=$((ignored + ${n:-0}))
    done
    rm -rf "$out"
    [ "$finished" -eq 2 ] || [ "$status" -ne 0 ] || status=1
    if [ "$finished" -eq 2 ]; then
      echo
      if [ "$ignored" -gt 0 ]; then
        echo "${passed} passed, ${failed} failed, ${ignored} skipped"
      else
        echo "${passed} passed, ${failed} failed"
      fi
    fi
    exit "$status"
    ;;
  check)
    DENO=$(deno_bin)
    "$DENO" install --quiet
    "$DENO" task check
    exec "$DENO" publish --dry-run --allow-dirty --quiet
    ;;
  bench)
    install_packages "${BENCH_PACKAGES[@]}"
    DENO=$(deno_bin); export DENO
    "$DENO" install --quiet
    "$DENO" task bench "$@"
    exec "$DENO" task compare
    ;;
  deno)
    DENO=$(deno_bin)
    exec "$DENO" "$@"
    ;;
  *)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    [ "$job" = help ] || exit 2
    ;;
esac
