#!/bin/sh
# wbpose-eval run and wbpose-infer from the outside: every bad input exits non-zero with exactly one
# line "wbpose-<name>: ..." on stderr, nothing on stdout, and no output folder or file left behind.
# (The good runs are covered by tests/test_eval_infer_run.cpp, which can make weights.)
# Usage: run_cli_test.sh WBPOSE_EVAL WBPOSE_INFER
set -u
eval_bin=$1
infer_bin=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# A tiny 17-keypoint HRNet config, a data folder with an empty COCO annotation file, and a
# safetensors file that is a checkpoint of some other model (one tensor "x").
cat >"$tmp/tiny.json" <<'JSON'
{"type": "hrnet", "num_keypoints": 17, "input_size": [64, 64], "width": 4, "stem_channels": 8,
 "stage1_blocks": 1, "stage1_channels": 8, "num_modules": [1, 1, 1], "num_blocks": [1, 1, 1]}
JSON
mkdir -p "$tmp/data/images" "$tmp/data/annotations" "$tmp/noann/images"
echo '{"images": [], "annotations": [], "categories": [{"id": 1, "name": "person"}]}' >"$tmp/data/annotations/val.json"
header='{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
# shellcheck disable=SC2059
printf "\\$(printf %03o ${#header})\\000\\000\\000\\000\\000\\000\\000${header}\\000\\000\\200\\077" >"$tmp/other.safetensors"
printf 'not a picture' >"$tmp/bad.png"
# An 8x8 RGB PNG.
echo 'iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAAJUlEQVR42mNgYGCQk5OzsbGJioqqqKiYNm3ali1bLl26xDC0JABjG07BQdZTMAAAAABJRU5ErkJggg==' |
  base64 -d >"$tmp/data/images/good.png"

# expect_one_line NAME BINARY ARGS...: must fail with one "wbpose-...: " stderr line and no stdout.
expect_one_line() {
  name=$1
  bin=$2
  shift 2
  if "$bin" "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: $name: exited 0"; failures=1; return
  fi
  if [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q '^wbpose-[a-z]*: ' "$tmp/err" || [ -s "$tmp/out" ]; then
    echo "FAIL: $name: expected one line 'wbpose-...: ...' on stderr, got:"; cat "$tmp/err" "$tmp/out"; failures=1
    return
  fi
  echo "ok: $name: $(cat "$tmp/err")"
}
# expect_in_error TEXT: the last error line mentions TEXT.
expect_in_error() {
  grep -q -- "$1" "$tmp/err" || { echo "FAIL: the error does not mention '$1'"; failures=1; }
}

run="run --config $tmp/tiny.json --checkpoint $tmp/other.safetensors --out $tmp/out-eval"
expect_one_line "eval: missing data folder" "$eval_bin" $run --data "$tmp/nowhere"
expect_in_error "nowhere"
expect_one_line "eval: data folder without annotations" "$eval_bin" $run --data "$tmp/noann"
expect_in_error "annotations/val.json"
expect_one_line "eval: checkpoint of another model" "$eval_bin" $run --data "$tmp/data"
expect_in_error 'tensor "backbone\.'
expect_one_line "eval: missing config" "$eval_bin" run --config "$tmp/none.json" --checkpoint "$tmp/other.safetensors" \
  --data "$tmp/data" --out "$tmp/out-eval"
expect_one_line "eval: unknown option" "$eval_bin" $run --data "$tmp/data" --flip-tset
expect_one_line "eval: --boxes with --gt-boxes" "$eval_bin" $run --data "$tmp/data" --boxes "$tmp/b.json" --gt-boxes
expect_one_line "eval: unknown decoding" "$eval_bin" $run --data "$tmp/data" --decode udp
expect_one_line "eval: --out under a file" "$eval_bin" run --config "$tmp/tiny.json" --checkpoint "$tmp/other.safetensors" \
  --data "$tmp/data" --out "$tmp/bad.png/eval"
expect_in_error "is not a folder"
[ -e "$tmp/out-eval" ] && { echo "FAIL: a failed eval run left $tmp/out-eval behind"; failures=1; }

infer="--config $tmp/tiny.json --checkpoint $tmp/other.safetensors"
expect_one_line "infer: image that does not decode" "$infer_bin" $infer --image "$tmp/bad.png" --out "$tmp/pictures"
expect_in_error "bad.png"
expect_one_line "infer: missing image" "$infer_bin" $infer --image "$tmp/none.png" --out "$tmp/p.png"
expect_in_error "none.png"
expect_one_line "infer: checkpoint of another model" "$infer_bin" $infer --images "$tmp/data/images" --out "$tmp/p"
expect_in_error 'tensor "backbone\.'
expect_one_line "infer: bad --box" "$infer_bin" $infer --image "$tmp/bad.png" --box 1,2,-3,4 --out "$tmp/p.png"
expect_in_error "1,2,-3,4"
expect_one_line "infer: unknown option" "$infer_bin" $infer --image "$tmp/bad.png" --out "$tmp/p.png" --treshold 2
expect_one_line "infer: no --out" "$infer_bin" $infer --image "$tmp/bad.png"
expect_one_line "infer: --threshold nan" "$infer_bin" $infer --image "$tmp/data/images/good.png" --out "$tmp/p.png" \
  --threshold nan
expect_in_error "--threshold"
expect_one_line "infer: --out in a format we do not write" "$infer_bin" $infer --image "$tmp/data/images/good.png" \
  --out "$tmp/o.bmp"
expect_in_error ".png or .jpg"
[ -e "$tmp/o.bmp" ] && { echo "FAIL: --out o.bmp created $tmp/o.bmp"; failures=1; }
# A boxes file that is neither format: the error quotes a short excerpt, not the whole record.
printf '{"a.png": [{"bbox": [1, 2, 3, 4], "keypoints": [%s0]}]}' "$(yes '1.5, ' | head -300 | tr -d '\n')" \
  >"$tmp/longbox.json"
expect_one_line "infer: a malformed boxes file" "$infer_bin" $infer --image "$tmp/data/images/good.png" \
  --boxes "$tmp/longbox.json" --out "$tmp/p.png"
[ "$(wc -c <"$tmp/err")" -lt 300 ] || { echo "FAIL: a $(wc -c <"$tmp/err")-character error line"; failures=1; }
[ -e "$tmp/pictures" ] || [ -e "$tmp/p.png" ] || [ -e "$tmp/p" ] && { echo "FAIL: a failed infer run left output behind"; failures=1; }

"$infer_bin" --help >"$tmp/help" 2>&1 && grep -q -- '--threshold' "$tmp/help" || { echo "FAIL: infer --help"; failures=1; }
"$eval_bin" run --help >"$tmp/help" 2>&1 && grep -q -- '--flip-test' "$tmp/help" || { echo "FAIL: eval run --help"; failures=1; }
exit $failures
