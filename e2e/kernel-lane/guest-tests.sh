#!/bin/sh
# Runs inside the kernel lane's guest (chrooted into the host's read-only tree): the kernel suites of the
# projects given as $1 (space separated), only tests whose name matches $2 (vitest -t) if given, only the
# test files matching $3 (space separated) if given, against the plugins of runtime $4 (bun or node: the host's
# tools/plugin-runtime.mjs). The vitest JSON report is printed base64-encoded between KERNEL-LANE-REPORT-BEGIN/END
# for run.mjs to write on the host.
set -u
export HOME=/tmp PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CI=1 TSCNI_PREBUILT=1
export TSCNI_PLUGIN_RUNTIME="${4:-bun}"
cd "$(dirname "$0")/../.." || exit 97
echo "kernel-lane: $(uname -r), projects: $1, plugins: $TSCNI_PLUGIN_RUNTIME"
# The Bun executable is built for x86-64-v3 (AVX2): say so at once if the emulated CPU cannot run it.
if [ "$TSCNI_PLUGIN_RUNTIME" = bun ]; then
  CNI_COMMAND=VERSION dist/bun/cni-bin/loopback >/dev/null || echo "kernel-lane: the Bun executable does not run in this guest (exit $?)"
fi
# run.mjs bundled on the host just before boot; TSCNI_PREBUILT keeps the global setup from building anything.
args=""
for p in $1; do args="$args --project $p"; done
filter="${2:-}"
files="${3:-}"
report=/tmp/kernel-lane.json
# Emulation is slow (a plugin exec takes seconds): generous per-test and hook timeouts (vitest.shared.ts reads
# the floors from the environment: the CLI flags do not reach projects that set their own). Two files at a
# time: vitest would use one worker on the guest's 2 CPUs, and most of a test's time is spent waiting.
export TSCNI_TEST_TIMEOUT_MS=600000 TSCNI_HOOK_TIMEOUT_MS=600000
# shellcheck disable=SC2086
if [ -n "$filter" ]; then
  node node_modules/vitest/vitest.mjs run $files $args -t "$filter" --reporter=verbose --reporter=json --outputFile.json=$report --testTimeout=600000 --hookTimeout=600000 --maxWorkers=2 --minWorkers=1
else
  node node_modules/vitest/vitest.mjs run $files $args --reporter=verbose --reporter=json --outputFile.json=$report --testTimeout=600000 --hookTimeout=600000 --maxWorkers=2 --minWorkers=1
fi
rc=$?
# The host reads the report off the serial console (the guest's filesystems are throwaway).
if [ -f "$report" ]; then
  echo KERNEL-LANE-REPORT-BEGIN
  base64 -w 76 "$report"
  echo KERNEL-LANE-REPORT-END
fi
exit "$rc"
