#!/bin/sh
# Data-parallel wbpose-train under mpirun on this machine: a 2-rank run matches one process (the
# ranks' first loss record equals the one-process one), a rank killed mid-run ends the job within a
# stated time with the last checkpoint intact, and --resume with 2 ranks then ends with the weights of
# an uninterrupted 2-rank run, byte for byte; resuming it on 1 process works too; a bad config is one
# error line and every rank stops. Usage: mpi_train_test.sh MPIRUN WBPOSE-TRAIN WBPOSE-SYNTH
set -u
mpirun=$1
train=$2
synth=$3
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=1; }
# Root in containers; one thread per rank on a 2-core machine.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
ranks() { "$mpirun" --oversubscribe -np 2 "$train" "$@"; }

"$synth" --out "$tmp/data" --train 6 --val 2 --size 160x120 --seed 5 >/dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }
cat >"$tmp/tiny.json" <<JSON
{
  "model": {"type": "hrnet", "num_keypoints": 133, "input_size": [64, 64], "width": 4, "stem_channels": 8,
            "stage1_blocks": 1, "stage1_channels": 8, "num_modules": [1, 1, 1], "num_blocks": [1, 1, 1]},
  "data": {"root": "$tmp/data", "workers": 1},
  "train": {"epochs": 3, "batch_size": 4, "lr": 1e-3, "warmup_iters": 0, "milestones": [2], "log_interval": 1,
            "sync_bn": true},
  "eval": {"interval": 0, "batch_size": 4},
  "seed": 1
}
JSON

# Straight runs: 2 ranks, and 1 process.
ranks --config "$tmp/tiny.json" --out "$tmp/straight" >"$tmp/straight.log" 2>&1 || { fail "2-rank run"; cat "$tmp/straight.log"; }
grep -q "data-parallel: 2 ranks, 2 samples each per batch" "$tmp/straight.log" || { fail "no data-parallel line"; cat "$tmp/straight.log"; }
[ "$(grep -c '^done:' "$tmp/straight.log")" -eq 1 ] || fail "expected one 'done' line (rank 0 prints)"
"$train" --config "$tmp/tiny.json" --out "$tmp/one" >"$tmp/one.log" 2>&1 || { fail "1-process run"; cat "$tmp/one.log"; }
first_loss() { head -1 "$1/metrics.jsonl" | sed 's/.*"loss":\([^,}]*\).*/\1/'; }
# The first step's loss is computed before any update: the same batch, the same weights.
awk -v a="$(first_loss "$tmp/straight")" -v b="$(first_loss "$tmp/one")" \
  'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-6 * b) }' || fail "first loss: 2 ranks $(first_loss "$tmp/straight"), 1 process $(first_loss "$tmp/one")"

# Rank 1 dies after iteration 6 (in epoch 2 of 4 iterations each): the job ends, quickly, with a failure status.
start=$(date +%s)
WBPOSE_TEST_KILL_RANK=1:6 timeout 120 "$mpirun" --oversubscribe -np 2 "$train" --config "$tmp/tiny.json" \
  --out "$tmp/killed" >"$tmp/killed.log" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" -ne 0 ] || fail "a killed rank: mpirun exited 0"
[ "$rc" -ne 124 ] || fail "a killed rank: the job hung until the 120 s timeout"
[ "$took" -le 60 ] || fail "a killed rank: the job took $took s to end"
grep -q '"epoch": 1' "$tmp/killed/checkpoint.json" 2>/dev/null || { fail "the epoch-1 checkpoint did not survive"; cat "$tmp/killed/checkpoint.json"; }
# Resumed with 2 ranks: the same weights as the uninterrupted run, byte for byte.
cp -r "$tmp/killed" "$tmp/killed1"
ranks --config "$tmp/tiny.json" --out "$tmp/killed" --resume >"$tmp/resume.log" 2>&1 || { fail "resume"; cat "$tmp/resume.log"; }
cmp -s "$tmp/killed/latest.safetensors" "$tmp/straight/latest.safetensors" || fail "resumed weights differ from the straight run"
# Or with 1 process at the same global batch.
"$train" --config "$tmp/tiny.json" --out "$tmp/killed1" --resume >"$tmp/resume1.log" 2>&1 || { fail "resume on 1"; cat "$tmp/resume1.log"; }
grep -q '^done: 3 epochs' "$tmp/resume1.log" || { fail "resume on 1 did not finish"; cat "$tmp/resume1.log"; }

# A global batch that does not split over the ranks: one error line per rank, every rank stopped.
sed 's/"batch_size": 4,/"batch_size": 3,/' "$tmp/tiny.json" >"$tmp/odd.json"
timeout 60 "$mpirun" --oversubscribe -np 2 "$train" --config "$tmp/odd.json" --out "$tmp/odd" >"$tmp/odd.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "odd batch: exit status $rc"
grep -q "wbpose-train: .*batch_size 3 does not split evenly over 2 ranks" "$tmp/odd.log" || { fail "odd batch: no error line"; cat "$tmp/odd.log"; }

exit $failures
