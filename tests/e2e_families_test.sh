#!/bin/sh
# End to end for the model families beyond HRNet and ZoomNet (docs/families.md): one synthetic
# whole-body set, then each family's small CPU training config trained on it, evaluated with
# wbpose-eval run, and its body AP required to reach a threshold set from measurement (an untrained
# model scores about 0; bench/results/families.md has the measured values).
# Usage: e2e_families_test.sh SOURCE_DIR BIN_DIR CONFIG=MIN_BODY_AP [CONFIG=MIN_BODY_AP ...]
# (CONFIG relative to SOURCE_DIR/configs).
set -u
src=$1
bin=$2
shift 2

. "$(dirname "$0")/e2e_common.sh"
e2e_synth "$bin"
status=0
for case in "$@"; do
  config="$src/configs/${case%%=*}"
  min_ap=${case#*=}
  echo "== $config"
  e2e_train_eval_on "$config" "$bin" "$tmp/$(basename "$config" .json)"
  ap=$(awk '$1 == "body" { print $2 }' "$tmp/$(basename "$config" .json)/eval.log")
  if [ -z "$ap" ]; then
    echo "FAIL: no body row in the table"; status=1
  elif awk -v a="$ap" -v m="$min_ap" 'BEGIN { exit !(a >= m) }'; then
    echo "body AP $ap >= $min_ap: passed"
  else
    echo "FAIL: body AP $ap < $min_ap"; status=1
  fi
done
exit $status
