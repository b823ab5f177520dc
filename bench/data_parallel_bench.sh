#!/bin/sh
# One process against two data-parallel ranks on this machine, wbpose-train on the same config and
# data for one epoch: training images/s (rank 0's log, validation excluded) and the mean wait per
# step for the gradient all-reduces (comm_wait_ms). One process uses every core with OpenMP; each
# rank gets an even share. Usage (from the repository root, after a build):
#   bench/data_parallel_bench.sh [CONFIG] [CORES]    default configs/train_small_cpu.json, nproc
set -eu
config=${1:-configs/train_small_cpu.json}
cores=${2:-$(nproc)}
bin=${BIN_DIR:-build/bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
"$bin/wbpose-synth" --out "$tmp/data" --train 120 --val 10 --seed 1 --size 320x240 --difficulty easy >/dev/null 2>&1
# One epoch, validation only at the end (its time is not in images/s).
/usr/bin/python3 - "$config" "$tmp" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["data"]["root"] = sys.argv[2] + "/data"
c["train"].update(epochs=1, log_interval=1000)
c["eval"]["interval"] = 0
json.dump(c, open(sys.argv[2] + "/plain.json", "w"))
c["train"]["sync_bn"] = True
json.dump(c, open(sys.argv[2] + "/sync.json", "w"))
PY
rate() { sed -n 's/^done: .* \([0-9.]*\) images\/s.*/\1/p' "$1"; }
wait_ms() { sed -n 's/.*"comm_wait_ms":\([0-9.e+-]*\).*/\1/p' "$1/metrics.jsonl" | tail -1; }
OMP_NUM_THREADS=$cores "$bin/wbpose-train" --config "$tmp/plain.json" --out "$tmp/one" >"$tmp/one.log" 2>&1
per=$(( cores / 2 > 0 ? cores / 2 : 1 ))
OMP_NUM_THREADS=$per mpirun --oversubscribe -np 2 -x OMP_NUM_THREADS -x OMP_WAIT_POLICY \
  "$bin/wbpose-train" --config "$tmp/plain.json" --out "$tmp/two" >"$tmp/two.log" 2>&1
OMP_NUM_THREADS=$per mpirun --oversubscribe -np 2 -x OMP_NUM_THREADS -x OMP_WAIT_POLICY \
  "$bin/wbpose-train" --config "$tmp/sync.json" --out "$tmp/sync" >"$tmp/sync.log" 2>&1
echo "| run | images/s | all-reduce wait per step |"
echo "|---|---|---|"
echo "| 1 process, $cores threads | $(rate "$tmp/one.log") | - |"
echo "| 2 ranks x $per threads | $(rate "$tmp/two.log") | $(wait_ms "$tmp/two") ms |"
echo "| 2 ranks x $per threads, SyncBN | $(rate "$tmp/sync.log") | $(wait_ms "$tmp/sync") ms |"
grep '^training' "$tmp/one.log"
grep '^data-parallel' "$tmp/two.log"
