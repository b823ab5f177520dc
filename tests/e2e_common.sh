# Sourced by the end-to-end tests. $tmp is a fresh folder removed on exit.
#   e2e_synth BIN_DIR                 the e2e synthetic set (400 train / 50 val, 320x240, easy, seed 1)
#                                     in $tmp/data
#   e2e_train_eval_on CONFIG BIN OUT  trains CONFIG on it into OUT/run and evaluates
#                                     latest.safetensors with wbpose-eval run (ground-truth boxes, flip
#                                     test) into OUT/eval, printing the table (also in OUT/eval.log)
#   e2e_train_eval CONFIG BIN_DIR     both, with OUT = $tmp ($tmp/run, $tmp/eval, $tmp/eval.log)
# $train_args, if a test sets it, is added to wbpose-train's arguments (e.g. "--epochs 5").
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

e2e_synth() {
  "$1/wbpose-synth" --out "$tmp/data" --train 400 --val 50 --seed 1 --size 320x240 --difficulty easy \
    >/dev/null 2>&1 || { echo "FAIL: wbpose-synth"; exit 1; }
}

e2e_train_eval_on() {
  config=$1
  bin=$2
  out=$3
  mkdir -p "$out"
  # One validation, after the last epoch (--eval-interval 0): the ones along the way change no weight
  # and cost CI time; the gate below reads wbpose-eval run's table.
  # shellcheck disable=SC2086
  "$bin/wbpose-train" --config "$config" --data "$tmp/data" --out "$out/run" --eval-interval 0 ${train_args:-} \
    >"$out/train.log" 2>&1 ||
    { echo "FAIL: wbpose-train"; cat "$out/train.log"; exit 1; }
  grep -E '^(training|done)' "$out/train.log"
  "$bin/wbpose-eval" run --config "$config" --checkpoint "$out/run/latest.safetensors" --data "$tmp/data" --gt-boxes \
    --flip-test --out "$out/eval" >"$out/eval.log" 2>&1 || { echo "FAIL: wbpose-eval run"; cat "$out/eval.log"; exit 1; }
  cat "$out/eval.log"
}

e2e_train_eval() {
  e2e_synth "$2"
  e2e_train_eval_on "$1" "$2" "$tmp"
}
