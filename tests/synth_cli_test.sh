#!/bin/sh
# wbpose-synth from the outside: a small set is written with every file, the same seed gives the
# same bytes, and bad options exit non-zero with exactly one line "wbpose-synth: ..." on stderr
# and nothing written.
# Usage: synth_cli_test.sh WBPOSE_SYNTH
set -u
synth_bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

if "$synth_bin" --out "$tmp/a" --train 2 --val 2 --seed 3 --size 160x120 >"$tmp/out" 2>"$tmp/err" &&
   "$synth_bin" --out "$tmp/b" --train 2 --val 2 --seed 3 --size 160x120 >/dev/null 2>&1; then
  for f in annotations/train.json annotations/val.json person_boxes_val.json images/train_000001.jpg \
           images/val_000001.jpg; do
    [ -s "$tmp/a/$f" ] || { echo "FAIL: $f is missing"; failures=1; }
  done
  grep -q '"face_kpts"' "$tmp/a/annotations/val.json" || { echo "FAIL: val.json has no face_kpts"; failures=1; }
  grep -q '4 images' "$tmp/out" || { echo "FAIL: the summary line does not say 4 images"; cat "$tmp/out"; failures=1; }
  diff -r "$tmp/a" "$tmp/b" >/dev/null || { echo "FAIL: the same seed gave different files"; failures=1; }
else
  echo "FAIL: the good run exited non-zero"; cat "$tmp/err"; failures=1
fi

# expect_one_line NAME ARGS...: the command must fail with one stderr line and no stdout.
expect_one_line() {
  name=$1
  shift
  if "$synth_bin" "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: $name: exited 0"; failures=1; return
  fi
  if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q '^wbpose-synth: ' "$tmp/err" || [ -s "$tmp/out" ]; then
    echo "FAIL: $name: expected one line 'wbpose-synth: ...' on stderr, got:"; cat "$tmp/err" "$tmp/out"; failures=1
    return
  fi
  echo "ok: $name: $(cat "$tmp/err")"
}
expect_one_line "bad difficulty" --out "$tmp/c" --train 1 --difficulty medium
expect_one_line "bad size" --out "$tmp/c" --train 1 --size 640by480
expect_one_line "nothing to do" --out "$tmp/c"
expect_one_line "missing --out" --train 1
expect_one_line "a folder holding a set" --out "$tmp/a" --train 1
touch "$tmp/file"
expect_one_line "unwritable --out" --out "$tmp/file/sub" --train 1
[ -e "$tmp/c" ] && { echo "FAIL: a failed run left $tmp/c behind"; failures=1; }
exit $failures
