#!/usr/bin/env bash
# Configures and builds into build/ (CUDA when nvcc is found; override with WBPOSE_CUDA=ON|OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${WBPOSE_CUDA:=AUTO}"
: "${BUILD_DIR:=build}"
if [ -z "${CMAKE_CUDA_COMPILER:-}" ] && ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWBPOSE_CUDA="$WBPOSE_CUDA" ${CMAKE_ARGS:-} >/dev/null
ninja -C "$BUILD_DIR" ${NINJA_ARGS:-}
