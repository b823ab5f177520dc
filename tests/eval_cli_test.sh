#!/bin/sh
# wbpose-eval score from the outside: a good run prints the table and writes the JSON; every bad
# input exits non-zero with exactly one line "wbpose-eval: ..." on stderr and nothing on stdout.
# Usage: eval_cli_test.sh WBPOSE_EVAL FIXTURE_DIR
set -u
eval_bin=$1
fix=$2
[ -f "$fix/example_gt.json" ] || { echo "FAIL: fixture folder $fix is missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

if "$eval_bin" score --gt "$fix/example_gt.json" --results "$fix/example_preds.json" --json "$tmp/out.json" \
     --parts body,wholebody >"$tmp/table" 2>"$tmp/err"; then
  [ "$(wc -l <"$tmp/table")" -eq 3 ] || { echo "FAIL: table has not 3 lines"; cat "$tmp/table"; failures=1; }
  grep -q '^wholebody *0\.642 ' "$tmp/table" || { echo "FAIL: whole-body AP is not 0.642"; failures=1; }
  grep -q '"wholebody"' "$tmp/out.json" && grep -q '"ARl"' "$tmp/out.json" ||
    { echo "FAIL: --json output lacks its keys"; failures=1; }
else
  echo "FAIL: the good run exited non-zero"; cat "$tmp/err"; failures=1
fi

printf '{"images": [' >"$tmp/malformed.json"
sed 's/"area": /"area": "large", "unused": /' "$fix/example_gt.json" >"$tmp/wrong_type.json"

# expect_one_line NAME ARGS...: the command must fail with one stderr line and no stdout.
expect_one_line() {
  name=$1
  shift
  if "$eval_bin" "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: $name: exited 0"; failures=1; return
  fi
  if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q '^wbpose-eval: ' "$tmp/err" || [ -s "$tmp/out" ]; then
    echo "FAIL: $name: expected one line 'wbpose-eval: ...' on stderr, got:"; cat "$tmp/err" "$tmp/out"; failures=1
    return
  fi
  echo "ok: $name: $(cat "$tmp/err")"
}
expect_one_line "missing gt file" score --gt "$tmp/nope.json" --results "$fix/example_preds.json"
expect_one_line "malformed gt" score --gt "$tmp/malformed.json" --results "$fix/example_preds.json"
expect_one_line "wrong type in gt" score --gt "$tmp/wrong_type.json" --results "$fix/example_preds.json"
expect_one_line "results as gt" score --gt "$fix/example_preds.json" --results "$fix/example_preds.json"
expect_one_line "unknown part" score --gt "$fix/example_gt.json" --results "$fix/example_preds.json" --parts body,hands
expect_one_line "missing --results" score --gt "$fix/example_gt.json"
expect_one_line "no subcommand"
exit $failures
