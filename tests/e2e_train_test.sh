#!/bin/sh
# End to end on the CPU: generate a small synthetic whole-body set, train the small config
# (configs/train_small_cpu.json) on it, evaluate the trained weights with wbpose-eval run, and
# require the body AP on the synthetic validation set to reach a threshold set from measurement
# (bench/results/train-cpu.md: an untrained model scores about 0, the trained one well above).
# Usage: e2e_train_test.sh SOURCE_DIR BIN_DIR MIN_BODY_AP
set -u
src=$1
bin=$2
min_ap=$3

. "$(dirname "$0")/e2e_common.sh"
config="$src/configs/train_small_cpu.json"
e2e_train_eval "$config" "$bin"
ap=$(awk '$1 == "body" { print $2 }' "$tmp/eval.log")
[ -n "$ap" ] || { echo "FAIL: no body row in the table"; exit 1; }
if awk -v a="$ap" -v m="$min_ap" 'BEGIN { exit !(a >= m) }'; then
  echo "body AP $ap >= $min_ap: passed"
else
  echo "FAIL: body AP $ap < $min_ap"
  exit 1
fi
