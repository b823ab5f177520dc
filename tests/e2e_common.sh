# Sourced by the end-to-end tests: e2e_train_eval CONFIG BIN_DIR generates the e2e synthetic set
# (400 train / 50 val, 320x240, easy, seed 1) in $tmp/data, trains CONFIG on it into $tmp/run and
# evaluates latest.safetensors with wbpose-eval run (ground-truth boxes, flip test) into $tmp/eval,
# printing the table (also in $tmp/eval.log). $tmp is a fresh folder removed on exit.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

e2e_train_eval() {
  config=$1
  bin=$2
  "$bin/wbpose-synth" --out "$tmp/data" --train 400 --val 50 --seed 1 --size 320x240 --difficulty easy \
    >/dev/null 2>&1 || { echo "FAIL: wbpose-synth"; exit 1; }
  "$bin/wbpose-train" --config "$config" --data "$tmp/data" --out "$tmp/run" >"$tmp/train.log" 2>&1 ||
    { echo "FAIL: wbpose-train"; cat "$tmp/train.log"; exit 1; }
  grep -E '^(training|done)' "$tmp/train.log"
  "$bin/wbpose-eval" run --config "$config" --checkpoint "$tmp/run/latest.safetensors" --data "$tmp/data" --gt-boxes \
    --flip-test --out "$tmp/eval" >"$tmp/eval.log" 2>&1 || { echo "FAIL: wbpose-eval run"; cat "$tmp/eval.log"; exit 1; }
  cat "$tmp/eval.log"
}
