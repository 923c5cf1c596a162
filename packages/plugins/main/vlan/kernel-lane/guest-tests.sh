#!/bin/sh
# Runs inside the kernel lane's guest (chrooted into the host's read-only tree): the kernel suites of the
# projects given as $1 (space separated).
set -u
export HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CI=1
cd "$(dirname "$0")/../../../../.." || exit 97
echo "kernel-lane: $(uname -r), projects: $1"
# run.mjs bundled on the host just before boot: keep the global setup from rebuilding everything under
# emulation when someone edits a source meanwhile (touching only affects the guest's overlay).
touch dist/cni-bin/* 2>/dev/null
args=""
for p in $1; do args="$args --project $p"; done
filter="${2:-}"
# Emulation is slow (a plugin exec takes seconds): generous per-test and hook timeouts.
# shellcheck disable=SC2086
if [ -n "$filter" ]; then
  exec node node_modules/vitest/vitest.mjs run $args -t "$filter" --reporter=verbose --testTimeout=600000 --hookTimeout=600000
fi
exec node node_modules/vitest/vitest.mjs run $args --reporter=verbose --testTimeout=600000 --hookTimeout=600000
