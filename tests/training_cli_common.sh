# Sourced by the CLI tests of the training executables (train_cli_test.sh, search_cli_test.sh).
# Needs $tmp (a scratch folder) and $cli (the executable under test). Provides:
#   fail MSG                   report a failure and carry on ($failures becomes 1)
#   expect_one_line NAME ARGS  $cli ARGS must exit non-zero with one stderr line mentioning NAME
#   interrupt_saves RUN ARGS   starts $cli ARGS (a training that writes into RUN) in the background,
#                              sends SIGINT once RUN/metrics.jsonl holds a loss record, and checks
#                              that it exits 0 with a stop message, a checkpoint and no temporary
#                              files (its output is in $tmp/train.log)
failures=0
fail() { echo "FAIL: $*"; failures=1; }

expect_one_line() {
  name=$1
  shift
  if "$cli" "$@" >"$tmp/out" 2>"$tmp/err"; then
    fail "$name: exited 0"
  else
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || { fail "$name: expected one error line, got:"; cat "$tmp/err"; }
    grep -q "$name" "$tmp/err" || { fail "error does not name $name:"; cat "$tmp/err"; }
  fi
}

interrupt_saves() {
  run=$1
  shift
  "$cli" "$@" >"$tmp/train.log" 2>&1 &
  pid=$!
  i=0
  until grep -q '"kind":"train"' "$run/metrics.jsonl" 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 600 ] || { kill "$pid"; echo "FAIL: no loss record after 60 s"; cat "$tmp/train.log"; exit 1; }
    sleep 0.1
  done
  kill -INT "$pid"
  wait "$pid"
  rc=$?
  [ "$rc" -eq 0 ] || { fail "SIGINT: exit status $rc"; cat "$tmp/train.log"; }
  grep -q 'stopped at epoch' "$tmp/train.log" || { fail "SIGINT: no stop message"; cat "$tmp/train.log"; }
  [ -f "$run/checkpoint.json" ] && [ -f "$run/latest.safetensors" ] || fail "SIGINT: no checkpoint"
  if ls "$run" | grep -q '\.tmp'; then fail "SIGINT: temporary files left: $(ls "$run")"; fi
}
