#!/usr/bin/env bash
# The test command of the README: set-up, build, every test. The run ends with ctest's summary and
# a plain "tests: N passed, N failed, N skipped" line (skipped: the CUDA suite without a GPU, or the
# PyTorch oracle outside CI when torch is missing; never counted as passed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/install-mmpose.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
ctest --output-on-failure -j "$(nproc)" "$@" 2>&1 | tee "$log" || rc=$?
total=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' "$log" | tail -1)
failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -1)
skipped=$(grep -c '\*\*\*Skipped' "$log" || true)
if [ -n "$total" ]; then
  echo
  grep 'tests passed, ' "$log" | tail -1
  echo "tests: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
  # The kernel-path tests run every CPU path this machine has and skip the others by name.
  bin/wbpose-info --cpu || true
fi
exit "$rc"
