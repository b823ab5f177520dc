#!/usr/bin/env bash
# The GPU check, one command on the GPU machine (docs/gpu.md has the exact device call):
#   bash scripts/gpu-check.sh [STAGE...]     stages: parity sanitize bench model (default: all)
#   bash scripts/gpu-check.sh --dry-run      here, without a GPU: builds the package, checks its size,
#                                            and checks that every stage starts
# It runs the prebuilt package build-gpu/pack/ (scripts/gpu-pack.sh), carried with the tree. Stages
# run in order of value and each writes its file under $OUT as it goes, so a run cut short still
# returns what it finished (at most 8 files; the device tool returns 8):
#   summary.txt    the machine, the libraries found, one line per stage with its result and time
#   parity.log     1. the CUDA parity suite: every op forward and backward, CPU vs GPU
#   memcheck.log   2. compute-sanitizer memcheck on our kernels only (exact-size allocator), after a
#                     probe proving that it sees an overrun in them
#   racecheck.log  2. compute-sanitizer racecheck on our kernels only
#   kernels.md     3. wbpose-bench kernels vs cuDNN and PyTorch: a short case list, then the rest
#                     while time remains (rows written as they are timed)
#   model.md       4. HRNet-W32 wholebody 256x192: inference and a training step vs PyTorch
#   profile.txt    4. that training step profiled op by op (wbpose-bench model --profile)
#   bench.log      the benchmarks' progress and errors
# Time: GPU_CHECK_BUDGET seconds in all (default 480; the device call's timeout_s is 540). Each
# stage has a cap (seconds, overridable): PARITY_SMALL_TIMEOUT 80, PARITY_LARGE_TIMEOUT 60,
# PROBE_TIMEOUT 15, MEMCHECK_TIMEOUT 80, RACECHECK_TIMEOUT 70, BENCH_SHORT_TIMEOUT 45,
# MODEL_TIMEOUT 60: 410 s, the package prebuilt so no build. The rest of the kernel benchmark gets
# what is left. A stage never runs past the budget. Exit status: 0 when every stage run passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
root=$PWD

dry=0
stages=()
for a in "$@"; do
  case "$a" in
    --dry-run) dry=1 ;;
    parity | sanitize | bench | model) stages+=("$a") ;;
    *) echo "gpu-check: unknown argument '$a' (stages: parity sanitize bench model; or --dry-run)" >&2; exit 2 ;;
  esac
done
[ ${#stages[@]} -eq 0 ] && stages=(parity sanitize bench model)
want() { [[ " ${stages[*]} " == *" $1 "* ]]; }

pack="$root/build-gpu/pack"
tests="$pack/bin/wbpose-cuda-tests"
bench="$pack/bin/wbpose-bench"
model_config=configs/hrnet_w32_wholebody_256x192.json
short_cases=("HRNet-W32 256x192")  # the short kernel list: the model the project trains first
more_cases=("S-ViPNAS-Res50" "S-ViPNAS-MBv3" "ZoomNet" "HRNet-W32 384x288")
# The parity cases the sanitizer runs: every test case but "parity large" (batch-32 shapes, too slow
# instrumented); "implicit-GEMM tile shapes" is a "parity small" case sized to reach every tile.
san_cases='parity small*,parity paths*,parity nn*'
# Our kernels are all in namespace wb: mangled "_ZN2wb...", demangled "wb::...". The filter leaves
# cuDNN's and cuBLAS's kernels uninstrumented (slow, and not ours to fix); the probe proves it matches.
san_filter='regex=_ZN2wb|wb::'

if [ $dry -eq 1 ]; then
  OUT="${OUT:-$root/build-gpu/dry-run-out}"
  rm -rf "$OUT"
fi
OUT="${OUT:-$root/gpu-out}"
mkdir -p "$OUT"
start=$(date +%s)
budget=${GPU_CHECK_BUDGET:-480}
rc=0

log() { echo "[gpu-check +$(($(date +%s) - start))s] $*" | tee -a "$OUT/summary.txt"; }
fail() { log "FAILED: $*"; rc=1; }
# Seconds a stage may run: its cap, or what is left of the budget if less (0: skip it).
allow() {
  local left=$((budget - ($(date +%s) - start)))
  [ "$left" -lt "$1" ] && echo $((left > 0 ? left : 0)) || echo "$1"
}
# run_capped CAP LOG CMD...: runs CMD with its output appended to LOG, killed after CAP seconds (or
# what is left of the budget); sets $status (124: killed at its limit, 125: no time left) and $mark
# (LOG's size before, so that this run's output is what follows it).
run_capped() {
  local cap=$1 logf=$2
  shift 2
  local t
  t=$(allow "$cap")
  if [ "$t" -le 0 ]; then
    status=125
    mark=$(stat -c %s "$logf" 2>/dev/null || echo 0)
    echo "(not run: the budget of ${budget}s is spent)" >>"$logf"
    return
  fi
  mark=$(stat -c %s "$logf" 2>/dev/null || echo 0)
  echo "\$ $* (limit ${t}s)" >>"$logf"
  timeout --kill-after=5 "$t" "$@" >>"$logf" 2>&1
  status=$?
  [ $status -eq 124 ] && echo "(killed at its limit of ${t}s)" >>"$logf"
}

# ---- the machine and the libraries ----
log "start: stages ${stages[*]}, budget ${budget}s, out $OUT$([ $dry -eq 1 ] && echo ', DRY RUN (no GPU)')"
if [ $dry -eq 1 ]; then
  log "building the package (scripts/gpu-pack.sh)"
  scripts/gpu-pack.sh >"$OUT/pack.log" 2>&1 || { cat "$OUT/pack.log"; fail "package build"; exit 1; }
  tail -1 "$OUT/pack.log" | tee -a "$OUT/summary.txt"
fi
if [ ! -x "$tests" ] || [ ! -x "$bench" ]; then
  fail "no package at $pack: run scripts/gpu-pack.sh here and carry build-gpu/pack"
  exit 1
fi
sed 's/^/  package: /' "$pack/MANIFEST" >>"$OUT/summary.txt"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 |
    sed 's/^/  gpu: /' | tee -a "$OUT/summary.txt"
else
  echo "  gpu: no nvidia-smi on this machine" >>"$OUT/summary.txt"
fi
echo "  glibc: $(ldd --version | head -1)" >>"$OUT/summary.txt"
# The Python with torch: python3 on the GPU machine; here (dry run) Debian's, as for the references.
py=${GPU_CHECK_PYTHON:-$(command -v python3)}
[ $dry -eq 1 ] && py=${GPU_CHECK_PYTHON:-/usr/bin/python3}
"$py" -c "import torch; print('  torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" \
  >>"$OUT/summary.txt" 2>&1

# CUDA libraries: PyTorch's nvidia-* wheels first (the ones PyTorch loads, so both sides of a timing
# use the same cuDNN and cuBLAS), then the toolkit. Their folders go on LD_LIBRARY_PATH.
lib_dirs=()
wheel_roots=$("$py" -c "import nvidia; print('\n'.join(nvidia.__path__))" 2>/dev/null || true)
for soname in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcudnn.so.9; do
  found=""
  for d in $wheel_roots /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
    found=$(find "$d/" -name "$soname" 2>/dev/null | head -1)  # "$d/": the folder may be a link
    [ -n "$found" ] && break
  done
  if [ -n "$found" ]; then
    lib_dirs+=("$(dirname "$found")")
    echo "  $soname: $(readlink -f "$found")" >>"$OUT/summary.txt"
  else
    echo "  $soname: NOT FOUND" >>"$OUT/summary.txt"
  fi
done
ld_path=$(printf '%s\n' "${lib_dirs[@]}" | awk '!seen[$0]++' | paste -sd:)
export LD_LIBRARY_PATH="$ld_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
missing=$(ldd "$tests" "$bench" 2>&1 | grep 'not found' | sort -u)
if [ -n "$missing" ]; then
  fail "libraries not found: $(echo "$missing" | awk '{print $1}' | tr '\n' ' ')"
  exit 1
fi
log "libraries resolved (LD_LIBRARY_PATH=$ld_path)"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}

# A dry run has no GPU: the test binary must report itself skipped (77) and the benchmark must stop
# at "no CUDA device". Either outcome shows that the stage's program loaded and took its arguments.
expect() {  # expect WHAT LOG: judges $status after a stage's command
  local what=$1 logf=$2
  if [ $dry -eq 1 ]; then
    if [ "$what" = bench ]; then
      if tail -c +$((mark + 1)) "$logf" | grep -q "no CUDA device is available"; then
        log "  starts: stops at 'no CUDA device', as it must"
      else
        fail "$what: did not start as expected (see $logf)"
      fi
    elif [ $status -eq 77 ]; then
      log "  starts: skipped without a GPU, as it must (exit 77)"
    else
      fail "$what: exit $status, expected 77 (skipped) without a GPU"
    fi
    return
  fi
  case $status in
    0) log "  passed" ;;
    9) fail "$what: compute-sanitizer reported errors (see $(basename "$logf"))" ;;
    124) fail "$what: killed at its time limit" ;;
    125) fail "$what: not run, the budget is spent" ;;
    *) fail "$what: exit $status" ;;
  esac
}

# ---- 1. parity ----
if want parity; then
  # Every case, forward and backward: the broad small and path cases first, the batch-32 shapes after,
  # so that a slow large run cannot hide the small results.
  n=$("$tests" --list-test-cases -tc='parity*' | grep -c '^parity')
  log "1. parity: $n test cases (--duration shows each one's time)"
  run_capped "${PARITY_SMALL_TIMEOUT:-80}" "$OUT/parity.log" "$tests" -tc='parity small*,parity paths*,parity nn*' --duration=true
  expect tests "$OUT/parity.log"
  run_capped "${PARITY_LARGE_TIMEOUT:-60}" "$OUT/parity.log" "$tests" -tc='parity large*' --duration=true
  expect tests "$OUT/parity.log"
fi

# ---- 1b. the CPU kernels' paths on this host CPU (often AVX-512, which CI's CPUs may lack) ----
if want parity; then
  log "1b. host CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), every CPU path it has"
  run_capped "${HOST_CPU_TIMEOUT:-30}" "$OUT/host-cpu.log" "$tests" -tc='host CPU*'
  if [ $status -eq 0 ]; then
    log "  passed; paths skipped: $(grep -o 'CPU path [a-z0-9]*' "$OUT/host-cpu.log" | sort -u | tr '\n' ' ')"
  else
    fail "1b. host CPU: exit $status (see host-cpu.log)"
  fi
fi

# ---- 2. compute-sanitizer on our kernels, small shapes, exact-size allocations ----
if want sanitize; then
  export WBPOSE_CUDA_ALLOC=exact
  n=$("$tests" --list-test-cases -tc="$san_cases" | grep -c '^parity')
  for name in "parity paths" "parity nn" "implicit-GEMM tile shapes"; do
    "$tests" --list-test-cases -tc="$san_cases" | grep -q "$name" || fail "the sanitizer's cases miss '$name'"
  done
  cs=$(command -v compute-sanitizer)
  for c in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
    [ -z "$cs" ] && [ -x "$c" ] && cs=$c
  done
  if [ $dry -eq 1 ] && [ -z "$cs" ]; then
    # No compute-sanitizer here: run the same test selection without it.
    log "2. sanitize: $n test cases; no compute-sanitizer on this machine, the selection runs bare"
    run_capped 60 "$OUT/memcheck.log" "$tests" -tc="$san_cases"
    expect tests "$OUT/memcheck.log"
    run_capped 60 "$OUT/memcheck.log" "$tests" -tc='sanitizer probe*' --no-skip
    expect tests "$OUT/memcheck.log"
  elif [ -z "$cs" ]; then
    fail "2. sanitize: compute-sanitizer not found"
  else
    san=("$cs" --error-exitcode 9 --print-limit 40 --kernel-name "$san_filter")
    log "2. sanitize: $($cs --version | grep -i version | head -1); $n test cases; filter $san_filter"
    # The probe reads past a 16-byte allocation in strided_copy_kernel: memcheck must report it, or
    # the filter or the allocator is blind and a clean memcheck below would prove nothing.
    run_capped "${PROBE_TIMEOUT:-15}" "$OUT/memcheck.log" "${san[@]}" --tool memcheck "$tests" -tc='sanitizer probe*' --no-skip
    if [ $status -eq 9 ] && grep -q 'strided_copy_kernel' "$OUT/memcheck.log"; then
      log "  probe: memcheck reported the planted overrun in strided_copy_kernel, as it must"
    else
      fail "probe: memcheck did not report the planted overrun (exit $status): the kernel filter or the exact allocator is blind"
    fi
    echo "---- memcheck on the parity cases ----" >>"$OUT/memcheck.log"
    run_capped "${MEMCHECK_TIMEOUT:-80}" "$OUT/memcheck.log" "${san[@]}" --tool memcheck "$tests" -tc="$san_cases"
    expect memcheck "$OUT/memcheck.log"
    run_capped "${RACECHECK_TIMEOUT:-70}" "$OUT/racecheck.log" "${san[@]}" --tool racecheck "$tests" -tc="$san_cases"
    expect racecheck "$OUT/racecheck.log"
  fi
  unset WBPOSE_CUDA_ALLOC
fi

# ---- 3 and 4. benchmarks: the short kernel list, the model, then the rest of the kernels ----
groups() { for g in "$@"; do printf -- '--group\n%s\n' "$g"; done; }
if [ $dry -eq 1 ] && { want bench || want model; }; then
  # The PyTorch side cannot run without a GPU either; that its scripts load (imports included) can.
  for script in bench/torch_bench.py bench/torch_model_bench.py; do
    if "$py" "$script" --help >/dev/null 2>>"$OUT/bench.log"; then
      log "  $script loads"
    else
      fail "$script does not load (see bench.log)"
    fi
  done
fi
if want bench; then
  log "3. bench kernels, short list: ${short_cases[*]}"
  mapfile -t fl < <(groups "${short_cases[@]}")
  run_capped "${BENCH_SHORT_TIMEOUT:-45}" "$OUT/bench.log" "$bench" kernels --python "$py" --source-dir "$root" \
    --iters 5 --warmup 2 "${fl[@]}" --out "$OUT/kernels.md"
  expect bench "$OUT/bench.log"
fi
if want model; then
  log "4. bench model: $model_config, batch 1 and 32, vs PyTorch"
  # Then the training step profiled op by op (CUDA events): only its table comes back (8 files at most).
  run_capped "${MODEL_TIMEOUT:-60}" "$OUT/bench.log" "$bench" model --config "$model_config" --device cuda \
    --python "$py" --source-dir "$root" --out "$OUT/model.md" --profile "$OUT/profile-run"
  [ -f "$OUT/profile-run/profile.txt" ] && mv "$OUT/profile-run/profile.txt" "$OUT/profile.txt"
  rm -rf "$OUT/profile-run"
  expect bench "$OUT/bench.log"
fi
if want bench; then
  left=$(allow 100000)
  log "3. bench kernels, the rest (${left}s left): ${more_cases[*]}"
  mapfile -t fl < <(groups "${more_cases[@]}")
  more=$(mktemp)
  run_capped "$((left > 5 ? left - 5 : 0))" "$OUT/bench.log" "$bench" kernels --python "$py" --source-dir "$root" \
    --iters 5 --warmup 2 "${fl[@]}" --out "$more"
  # Whatever rows it finished join kernels.md, under their own header (their own PyTorch pass).
  [ -s "$more" ] && { echo; cat "$more"; } >>"$OUT/kernels.md"
  rm -f "$more"
  expect bench "$OUT/bench.log"
fi

if [ $dry -eq 1 ]; then
  for f in "$OUT"/*; do [ -f "$f" ] && echo "  $(basename "$f"): $(wc -c <"$f") bytes" >>"$OUT/summary.txt"; done
  count=$(find "$OUT" -type f ! -name pack.log | wc -l)
  [ "$count" -le 8 ] || fail "$count files under \$OUT: the device tool returns 8"
  # What the device tool sends: the tracked and untracked, not ignored files, and the package.
  tree_bytes=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  pack_bytes=$(du -sb "$pack" | cut -f1)
  total=$(( (tree_bytes + pack_bytes) / 1048576 ))
  log "travels: tree $((tree_bytes / 1024)) KiB + build-gpu/pack $((pack_bytes / 1024)) KiB = ${total} MiB of 64"
  [ "$total" -lt 64 ] || fail "the tree and the package are over 64 MiB"
fi
log "done: exit $rc"
exit $rc
