#!/bin/sh
# wbpose-bench's arguments are checked before anything runs: zero timed runs, a negative batch and
# 100000 loader threads (which once ended in a crash, a std::vector length error and an abort) are
# each one line "wbpose-bench: ..." on stderr and exit status 2.
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
[ $failures -eq 0 ] && echo "wbpose-bench CLI checks passed"
exit $failures
