#!/bin/sh
# wbpose-search from the outside, on a tiny synthetic set. train-supernet: a bad "search_space" key
# is one stderr line naming it and leaves no run folder; Ctrl-C (SIGINT) mid-run saves a checkpoint
# and exits 0; --resume finishes the run. search: on that run, writes its results; an existing
# search without --resume, a folder without a supernet and a --min-budget above --budget are
# one-line errors.
# Usage: search_cli_test.sh WBPOSE_SEARCH WBPOSE_SYNTH
set -u
search=$1
synth=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cli=$search
. "$(dirname "$0")/training_cli_common.sh"

"$synth" --out "$tmp/data" --train 16 --val 2 --seed 3 --size 160x120 --difficulty easy >/dev/null 2>&1 ||
  { echo "FAIL: wbpose-synth"; exit 1; }

# A tiny supernet (widths 1-16, crops 32 or 64, heads 8 or 16), one log record per iteration,
# validation after the last epoch only (eval.interval 0), on 2 recalibration batches.
config() {  # config FILE EXTRA_BODY_SPACE_FIELD
  cat >"$1" <<EOC
{
  "model": {"type": "zoomnet", "sigma": 1.0, "min_roi_side": 4.0,
    "body": {"input_size": [64, 64], "width": 2, "stem_channels": 4, "stage1_blocks": 1, "stage1_channels": 2,
             "num_modules": [1, 1, 1], "num_blocks": [1, 1, 1]},
    "face_head": {"input_size": [8, 8], "width": 2, "stem_channels": 4, "stage1_blocks": 1, "stage1_channels": 2,
                  "num_modules": [1, 1, 1], "num_blocks": [1, 1, 1]},
    "hand_head": {"input_size": [8, 8], "width": 2, "stem_channels": 4, "stage1_blocks": 1, "stage1_channels": 2,
                  "num_modules": [1, 1, 1], "num_blocks": [1, 1, 1]}},
  "search_space": {
    "body": {"input_heights": [32, 64], "aspect_w": 1, "aspect_h": 1, "stem_widths": [2, 4], "stage1_depths": [1],
             "stage1_widths": [1, 2], "stage_depths": [[1], [1], [1]], "blocks_per_module": 1,
             "branch_widths": [[1, 2], [2, 4], [4, 8], [8, 16]]$2},
    "face_head": {"input_heights": [8, 16], "stage1_depths": [1], "stage1_widths": [1, 2],
                  "stage_depths": [[1], [1], [1]], "blocks_per_module": 1,
                  "branch_widths": [[1, 2], [2, 4], [4, 8], [8, 16]], "feature_stages": [0, 1]},
    "hand_head": {"input_heights": [8, 16], "stage1_depths": [1], "stage1_widths": [1, 2],
                  "stage_depths": [[1], [1], [1]], "blocks_per_module": 1,
                  "branch_widths": [[1, 2], [2, 4], [4, 8], [8, 16]], "feature_stages": [0, 1]}
  },
  "recalibration": {"batches": 2},
  "data": {"workers": 1},
  "train": {"epochs": 200, "batch_size": 4, "warmup_iters": 2, "milestones": [150], "log_interval": 1},
  "eval": {"interval": 0}
}
EOC
}
config "$tmp/tiny.json" ""
config "$tmp/typo.json" ', "stem_widht": [2]'

"$search" --help >/dev/null 2>&1 || fail "--help exited non-zero"
"$search" train-supernet --help | grep -q -- '--resume' || fail "train-supernet --help does not list --resume"

expect_one_line 'search_space: body: unknown field "stem_widht"' train-supernet --config "$tmp/typo.json" \
  --data "$tmp/data" --out "$tmp/r_typo"
[ ! -e "$tmp/r_typo" ] || fail "a bad config left a run folder"

# Ctrl-C once the first loss record is out; it must save and exit 0.
interrupt_saves "$tmp/run" train-supernet --config "$tmp/tiny.json" --data "$tmp/data" --out "$tmp/run"
grep -q '"search_space"' "$tmp/run/config.json" || fail "config.json lacks the search space"

# Resume to the end of the next epoch.
epochs=$(( $(sed -n 's/.*"epoch": *\([0-9]*\).*/\1/p' "$tmp/run/checkpoint.json") + 1 ))
"$search" train-supernet --config "$tmp/tiny.json" --data "$tmp/data" --out "$tmp/run" --resume --epochs "$epochs" \
  >"$tmp/resume.log" 2>&1 || { fail "--resume failed"; cat "$tmp/resume.log"; }
grep -q '^done' "$tmp/resume.log" || { fail "--resume did not finish"; cat "$tmp/resume.log"; }
grep -q 'students' "$tmp/resume.log" || fail "the progress line lacks the students' loss"

# A search of the trained supernet, then the same again: without --resume an error, with it a replay.
"$search" search --supernet "$tmp/run" --budget 1 --samples 2 --out "$tmp/search" >"$tmp/search.log" 2>&1 ||
  { fail "search failed"; cat "$tmp/search.log"; }
for f in state.json results.md results.csv best_config.json pareto.png; do
  [ -s "$tmp/search/$f" ] || fail "search wrote no $f"
done
grep -q '^search 2/2' "$tmp/search.log" || { fail "no progress line for the second sub-network"; cat "$tmp/search.log"; }
expect_one_line 'resume' search --supernet "$tmp/run" --budget 1 --samples 2 --out "$tmp/search"
"$search" search --supernet "$tmp/run" --budget 1 --samples 2 --out "$tmp/search" --resume >"$tmp/search2.log" 2>&1 ||
  { fail "search --resume failed"; cat "$tmp/search2.log"; }
expect_one_line 'no supernet run' search --supernet "$tmp/data" --budget 1 --samples 2 --out "$tmp/s_bad"
[ ! -e "$tmp/s_bad" ] || fail "a bad search left a results folder"
expect_one_line 'min-budget' search --supernet "$tmp/run" --budget 1 --min-budget 2 --samples 2 --out "$tmp/s_floor"
[ ! -e "$tmp/s_floor" ] || fail "a floor above the budget left a results folder"

[ $failures -eq 0 ] && echo "wbpose-search CLI checks passed"
exit $failures
