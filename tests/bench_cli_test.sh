#!/bin/sh
# wbpose-bench's arguments are checked before anything runs: zero timed runs, a negative batch and
# 100000 loader threads (which once ended in a crash, a std::vector length error and an abort) are
# each one line "wbpose-bench: ..." on stderr and exit status 2. Then model --profile on a small model.
# Usage: bench_cli_test.sh WBPOSE_BENCH SOURCE_DIR
set -u
bench=$1
src=$2
failures=0
expect_usage_error() {  # expect_usage_error NAME ARGS...
  name=$1
  shift
  err=$("$bench" "$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne 2 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || ! printf '%s' "$err" | grep -q "^wbpose-bench: .*$name"; then
    echo "FAIL: $*: exit $rc, expected 2 and one line naming $name, got: $err"
    failures=1
  fi
}
cfg="$src/configs/train_small_cpu.json"
expect_usage_error --iters model --config "$cfg" --iters 0 --warmup 0 --no-torch
expect_usage_error --batch model --config "$cfg" --batch -1 --no-torch
expect_usage_error --workers data --workers 100000
expect_usage_error mode nonsense
# model --profile: the table, then the profiler's own cost and the step's profile, written to a folder.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if "$bench" model --config "$cfg" --batch 2 --iters 1 --warmup 0 --no-torch --profile "$tmp/prof" >"$tmp/out" 2>&1; then
  grep -q '^profiler overhead: off, a scope costs' "$tmp/out" && grep -q '^conv2d_backward ' "$tmp/out" &&
    [ -s "$tmp/prof/trace.json" ] && [ -s "$tmp/prof/roofline.png" ] ||
    { echo "FAIL: model --profile printed or wrote too little"; cat "$tmp/out"; failures=1; }
else
  echo "FAIL: model --profile failed"
  cat "$tmp/out"
  failures=1
fi
[ $failures -eq 0 ] && echo "wbpose-bench CLI checks passed"
exit $failures
