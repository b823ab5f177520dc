#!/bin/sh
# wbpose-train from the outside, on a small synthetic set: Ctrl-C (SIGINT) mid-run saves a
# checkpoint and exits 0, and --resume finishes the run; SIGKILL mid-save loses nothing; --profile
# writes its tables, trace and plot and stops with a checkpoint; bad input
# (unknown config key, data folder without annotations, checkpoint of another model, a changed
# config on --resume, a second trainer on the folder, image that does not decode) is one stderr
# line, a non-zero exit, and leaves the run folder as it was.
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
sed 's/"workers": 1/"workers": 100000/' "$tmp/tiny.json" >"$tmp/workers.json"
expect_one_line '"workers"' --config "$tmp/workers.json" --data "$tmp/data" --out "$tmp/r_workers"
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

# SIGKILL inside a checkpoint save, between its tensors and the JSON that commits them (the test
# hook WBPOSE_TEST_HOLD_CHECKPOINT stops the save there and waits): --resume continues from the
# previous save and ends with the weights of a run never killed. While the first process holds the
# folder, a second trainer on it is refused.
# (--eval-interval 1 over the config's 0: a validation after each epoch, which changes no weight.)
"$train" --config "$tmp/tiny.json" --data "$tmp/data" --out "$tmp/straight" --epochs 2 --eval-interval 1 \
  >/dev/null 2>&1 || fail "the uninterrupted run failed"
[ "$(grep -c '"kind":"val"' "$tmp/straight/metrics.jsonl")" -eq 2 ] || fail "--eval-interval 1: not 2 validations"
"$train" --config "$tmp/tiny.json" --data "$tmp/data" --out "$tmp/killed" --epochs 1 >/dev/null 2>&1 ||
  fail "the first epoch of the killed run failed"
WBPOSE_TEST_HOLD_CHECKPOINT="$tmp/held" "$train" --config "$tmp/tiny.json" --data "$tmp/data" --out "$tmp/killed" \
  --resume --epochs 2 >"$tmp/held.log" 2>&1 &
pid=$!
i=0
until [ -e "$tmp/held" ]; do
  i=$((i + 1))
  [ $i -le 600 ] || { kill -9 "$pid"; echo "FAIL: the save did not reach the hook in 60 s"; cat "$tmp/held.log"; exit 1; }
  sleep 0.1
done
expect_one_line 'another process' --config "$tmp/tiny.json" --data "$tmp/data" --out "$tmp/killed" --resume --epochs 2
kill -9 "$pid"
wait "$pid" 2>/dev/null
ls "$tmp/killed" | grep -q '^checkpoint\.e2-.*\.safetensors$' || fail "the killed save wrote no tensors: $(ls "$tmp/killed")"
"$train" --config "$tmp/tiny.json" --data "$tmp/data" --out "$tmp/killed" --resume --epochs 2 >"$tmp/after.log" 2>&1 ||
  { fail "--resume after SIGKILL mid-save failed"; cat "$tmp/after.log"; }
cmp -s "$tmp/straight/latest.safetensors" "$tmp/killed/latest.safetensors" ||
  fail "the run killed mid-save and resumed ends with other weights than the uninterrupted one"
[ "$(ls "$tmp/killed" | grep -c '^checkpoint\..*\.safetensors$')" -eq 1 ] || fail "stale checkpoint files: $(ls "$tmp/killed")"
if ls "$tmp/killed" | grep -q '\.tmp'; then fail "temporary files left: $(ls "$tmp/killed")"; fi

# A changed learning rate on --resume is refused, naming the field; the run stays as it was.
sed 's/"warmup_iters": 2/"warmup_iters": 2, "lr": 0.5/' "$tmp/tiny.json" >"$tmp/lr.json"
cp "$tmp/killed/config.json" "$tmp/config.before"
expect_one_line 'train.lr' --config "$tmp/lr.json" --data "$tmp/data" --out "$tmp/killed" --resume --epochs 3
cmp -s "$tmp/killed/config.json" "$tmp/config.before" || fail "a refused resume rewrote config.json"

# --profile N: N steps recorded after the warm-up, then a stop with a checkpoint; the trace is JSON.
"$train" --config "$tmp/tiny.json" --data "$tmp/data" --out "$tmp/prof" --profile 2 --profile-warmup 1 >"$tmp/prof.log" 2>&1 ||
  { fail "--profile failed"; cat "$tmp/prof.log"; }
grep -q '^2 step(s)' "$tmp/prof/profile/profile.txt" && grep -q '^conv2d_backward ' "$tmp/prof/profile/profile.txt" ||
  fail "the profile does not hold 2 steps with conv2d_backward: $(head -5 "$tmp/prof/profile/profile.txt")"
grep -q '"traceEvents"' "$tmp/prof/profile/trace.json" && [ -s "$tmp/prof/profile/roofline.png" ] &&
  [ -e "$tmp/prof/checkpoint.json" ] || fail "--profile left no trace, plot or checkpoint: $(ls "$tmp/prof" "$tmp/prof/profile")"
expect_one_line 'profile' --config "$tmp/tiny.json" --data "$tmp/data" --out "$tmp/r_prof" --profile 0

# An image that does not decode: every training image is garbage, so the first batch reaches one.
cp -r "$tmp/data" "$tmp/bad"
for f in "$tmp/bad/images/"*; do printf 'not an image' >"$f"; done
expect_one_line "$tmp/bad/images/" --config "$tmp/tiny.json" --data "$tmp/bad" --out "$tmp/r_bad"
[ ! -e "$tmp/r_bad/checkpoint.json" ] || fail "a bad image left a checkpoint"

[ $failures -eq 0 ] && echo "wbpose-train CLI checks passed"
exit $failures
