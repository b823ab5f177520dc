#!/bin/sh
# End to end on the CPU for ZoomNet: generate a small synthetic whole-body set, train
# configs/train_zoomnet_small_cpu.json on it, evaluate the weights with wbpose-eval run (flip test),
# run wbpose-infer on one validation image, and require
#   - the face and hand (left and right) losses logged in metrics.jsonl to fall from the first log
#     window to the last by the factor MAX_RATIO or more (the per-part signal at CI scale), and
#   - the face and mean hand AP to reach MIN_FACE_AP and MIN_HAND_AP,
# thresholds set from measurement against an untrained model (bench/results/zoomnet-e2e.md).
# Usage: e2e_zoomnet_test.sh SOURCE_DIR BIN_DIR MAX_RATIO MIN_FACE_AP MIN_HAND_AP
set -u
src=$1
bin=$2
max_ratio=$3
min_face=$4
min_hand=$5

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
config="$src/configs/train_zoomnet_small_cpu.json"

"$bin/wbpose-synth" --out "$tmp/data" --train 400 --val 50 --seed 1 --size 320x240 --difficulty easy \
  >/dev/null 2>&1 || { echo "FAIL: wbpose-synth"; exit 1; }
"$bin/wbpose-train" --config "$config" --data "$tmp/data" --out "$tmp/run" >"$tmp/train.log" 2>&1 ||
  { echo "FAIL: wbpose-train"; cat "$tmp/train.log"; exit 1; }
grep -E '^(training|done)' "$tmp/train.log"
"$bin/wbpose-eval" run --config "$config" --checkpoint "$tmp/run/latest.safetensors" --data "$tmp/data" --gt-boxes \
  --flip-test --out "$tmp/eval" >"$tmp/eval.log" 2>&1 || { echo "FAIL: wbpose-eval run"; cat "$tmp/eval.log"; exit 1; }
cat "$tmp/eval.log"
image=$(ls "$tmp/data/images" | head -n 1)
"$bin/wbpose-infer" --config "$config" --checkpoint "$tmp/run/latest.safetensors" --image "$tmp/data/images/$image" \
  --box 0,0,320,240 --flip-test --out "$tmp/infer.png" --json "$tmp/infer.json" >"$tmp/infer.log" 2>&1 ||
  { echo "FAIL: wbpose-infer"; cat "$tmp/infer.log"; exit 1; }
[ -s "$tmp/infer.png" ] && grep -q '"keypoint_set"' "$tmp/infer.json" || { echo "FAIL: wbpose-infer wrote no output"; exit 1; }

status=0
# First and last train records' part losses.
first=$(grep '"kind":"train"' "$tmp/run/metrics.jsonl" | head -n 1)
last=$(grep '"kind":"train"' "$tmp/run/metrics.jsonl" | tail -n 1)
for part in face hand; do
  a=$(echo "$first" | sed -n "s/.*\"$part\":\([-0-9.e+]*\).*/\1/p")
  b=$(echo "$last" | sed -n "s/.*\"$part\":\([-0-9.e+]*\).*/\1/p")
  [ -n "$a" ] && [ -n "$b" ] || { echo "FAIL: no $part loss in metrics.jsonl"; exit 1; }
  if awk -v a="$a" -v b="$b" -v r="$max_ratio" 'BEGIN { exit !(b <= a * r) }'; then
    echo "$part loss $a -> $b (<= x$max_ratio): passed"
  else
    echo "FAIL: $part loss $a -> $b, not below x$max_ratio"
    status=1
  fi
done
face=$(awk '$1 == "face" { print $2 }' "$tmp/eval.log")
left=$(awk '$1 == "lefthand" { print $2 }' "$tmp/eval.log")
right=$(awk '$1 == "righthand" { print $2 }' "$tmp/eval.log")
[ -n "$face" ] && [ -n "$left" ] && [ -n "$right" ] || { echo "FAIL: no face/hand rows in the table"; exit 1; }
hand=$(awk -v l="$left" -v r="$right" 'BEGIN { print (l + r) / 2 }')
for check in "face $face $min_face" "hand $hand $min_hand"; do
  set -- $check
  if awk -v a="$2" -v m="$3" 'BEGIN { exit !(a >= m) }'; then
    echo "$1 AP $2 >= $3: passed"
  else
    echo "FAIL: $1 AP $2 < $3"
    status=1
  fi
done
exit $status
