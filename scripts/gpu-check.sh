#!/usr/bin/env bash
# One command on the GPU machine: configure, build, run the CUDA parity suite, run it again under
# compute-sanitizer (memcheck, racecheck), run the kernel benchmark; logs and tables go to $OUT.
# Run here first: scripts/vendor-devdeps.sh, then through the device tool with carry [".devdeps"]:
#   bash scripts/gpu-check.sh [parity|sanitize|bench|all] ...   (several stages may be named)
# Each stage has a time limit (PARITY_TIMEOUT, SANITIZE_TIMEOUT, BENCH_TIMEOUT seconds) so that the
# logs come back even when a stage hangs; extra doctest arguments for the parity run: PARITY_ARGS.
set -uo pipefail
cd "$(dirname "$0")/.."
stages=" ${*:-all} "
want() { [[ "$stages" == *" all "* || "$stages" == *" $1 "* ]]; }
OUT="${OUT:-gpu-out}"
mkdir -p "$OUT"
log() { echo "[gpu-check $(date +%H:%M:%S)] $*" | tee -a "$OUT/summary.txt"; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/device.txt"
py=$(command -v python3)
cudnn_root=""
if [ ! -f /usr/include/cudnn.h ] && [ ! -f /usr/local/cuda/include/cudnn.h ]; then
  cudnn_root=$("$py" -c "import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))" 2>/dev/null || true)
fi
cmake_args=(-DWBPOSE_CUDA=ON -DWBPOSE_DEPS_DIR="$PWD/.devdeps")
[ -x /usr/local/cuda/bin/nvcc ] && export PATH=/usr/local/cuda/bin:$PATH
if [ -n "$cudnn_root" ]; then
  # Point CMake at the wheel's versioned library directly: its folder may be read-only, so no
  # unversioned symlink is made there.
  cudnn_lib=$(ls "$cudnn_root"/lib/libcudnn.so* 2>/dev/null | head -1)
  cmake_args+=(-DCUDNN_LIBRARY="$cudnn_lib" -DCUDNN_INCLUDE="$cudnn_root/include")
  export LD_LIBRARY_PATH="$cudnn_root/lib:${LD_LIBRARY_PATH:-}"
fi
log "configure (cudnn: ${cudnn_root:-system})"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DWBPOSE_NATIVE=ON "${cmake_args[@]}" >"$OUT/configure.log" 2>&1 || { log "configure FAILED"; tail -30 "$OUT/configure.log"; exit 1; }
log "build"
ninja -C build-gpu -j"$(nproc)" wbpose-cuda-tests wbpose-bench >"$OUT/build.log" 2>&1 || { log "build FAILED"; grep -E 'error' -A3 "$OUT/build.log" | head -60; exit 1; }
rc=0
if want parity; then
  log "parity"
  timeout "${PARITY_TIMEOUT:-300}" ./build-gpu/tests/wbpose-cuda-tests ${PARITY_ARGS:-} >"$OUT/parity.log" 2>&1; r=$?
  log "parity exit $r"; tail -5 "$OUT/parity.log"; [ $r -eq 0 ] || { rc=1; grep -E 'ERROR|logged|CHECK' -A3 "$OUT/parity.log" | head -80; }
fi
if want sanitize; then
  for tool in memcheck racecheck; do
    log "compute-sanitizer $tool"
    timeout "${SANITIZE_TIMEOUT:-150}" compute-sanitizer --tool "$tool" --error-exitcode 9 ./build-gpu/tests/wbpose-cuda-tests -tc='*small*' \
      >"$OUT/sanitize-$tool.log" 2>&1; r=$?
    log "$tool exit $r"; tail -4 "$OUT/sanitize-$tool.log"; [ $r -eq 0 ] || rc=1
  done
fi
if want bench; then
  log "bench kernels"
  timeout "${BENCH_TIMEOUT:-400}" ./build-gpu/bin/wbpose-bench kernels --python "$py" --out "$OUT/kernels.md" ${BENCH_ARGS:-} >"$OUT/bench.log" 2>&1; r=$?
  log "bench exit $r"; tail -60 "$OUT/bench.log"; [ $r -eq 0 ] || rc=1
fi
exit $rc
