#!/bin/sh
# wbpose-train from the outside, on a small synthetic set: Ctrl-C (SIGINT) mid-run saves a
# checkpoint and exits 0, and --resume finishes the run; bad input (unknown config key, data folder
# without annotations, checkpoint of another model, image that does not decode) is one stderr line,
# a non-zero exit, and leaves the run folder as it was.
# Usage: train_cli_test.sh WBPOSE_TRAIN WBPOSE_SYNTH
set -u
train=$1
synth=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cli=$train
. "$(dirname "$0")/training_cli_common.sh"

"$synth" --out "$tmp/data" --train 48 --val 4 --seed 3 --size 160x120 >/dev/null 2>&1 || { echo "FAIL: wbpose-synth"; exit 1; }

# A tiny model, one log record per iteration, validation only at the end (none here: see below).
config() {  # config FILE WIDTH EXTRA_TOP_LEVEL_FIELD
  cat >"$1" <<EOF
{
  "model": {"type": "hrnet", "num_keypoints": 133, "input_size": [64, 64], "width": $2, "stem_channels": 8,
            "stage1_blocks": 1, "stage1_channels": 8, "num_modules": [1, 1, 1], "num_blocks": [1, 1, 1]},
  "data": {"workers": 1},
  "train": {"epochs": 50, "batch_size": 4, "warmup_iters": 2, "milestones": [40], "log_interval": 1},
  "eval": {"interval": 0}$3
}
EOF
}
config "$tmp/tiny.json" 4 ""
config "$tmp/wide.json" 6 ""
config "$tmp/typo.json" 4 ', "epochz": 3'

expect_one_line '"epochz"' --config "$tmp/typo.json" --data "$tmp/data" --out "$tmp/r_typo"
grep -q 'typo.json' "$tmp/err" || fail "the unknown-key error does not name the file"
[ ! -e "$tmp/r_typo" ] || fail "a bad config left a run folder"
mkdir "$tmp/empty"
expect_one_line 'annotations/' --config "$tmp/tiny.json" --data "$tmp/empty" --out "$tmp/r_empty"
[ ! -e "$tmp/r_empty" ] || fail "a data folder without annotations left a run folder"

# Ctrl-C once the first loss record is out; it must save and exit 0.
interrupt_saves "$tmp/run" --config "$tmp/tiny.json" --data "$tmp/data" --out "$tmp/run"

# A checkpoint for another model: one line naming a tensor; the run folder unchanged.
cat "$tmp/run/checkpoint.json" "$tmp/run/metrics.jsonl" >"$tmp/before"
expect_one_line 'backbone\.' --config "$tmp/wide.json" --data "$tmp/data" --out "$tmp/run" --resume
cat "$tmp/run/checkpoint.json" "$tmp/run/metrics.jsonl" | cmp -s - "$tmp/before" || fail "a bad resume changed the run"

# Resume to the end of the next epoch.
epochs=$(( $(sed -n 's/.*"epoch": *\([0-9]*\).*/\1/p' "$tmp/run/checkpoint.json") + 1 ))
"$train" --config "$tmp/tiny.json" --data "$tmp/data" --out "$tmp/run" --resume --epochs "$epochs" \
  >"$tmp/resume.log" 2>&1 || { fail "--resume failed"; cat "$tmp/resume.log"; }
grep -q '^done' "$tmp/resume.log" || { fail "--resume did not finish"; cat "$tmp/resume.log"; }
[ -f "$tmp/run/curves.png" ] || fail "no curves.png"

# An image that does not decode: every training image is garbage, so the first batch reaches one.
cp -r "$tmp/data" "$tmp/bad"
for f in "$tmp/bad/images/"*; do printf 'not an image' >"$f"; done
expect_one_line "$tmp/bad/images/" --config "$tmp/tiny.json" --data "$tmp/bad" --out "$tmp/r_bad"
[ ! -e "$tmp/r_bad/checkpoint.json" ] || fail "a bad image left a checkpoint"

[ $failures -eq 0 ] && echo "wbpose-train CLI checks passed"
exit $failures
