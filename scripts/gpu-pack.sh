#!/usr/bin/env bash
# Builds the package that travels to the GPU machine (docs/gpu.md): the CUDA test and benchmark
# binaries for sm_90, built here (nvcc needs no GPU), with the non-CUDA runtime libraries they load,
# in build-gpu/pack/ (git-ignored, carried by the device tool as "build-gpu/pack"):
#   bin/wbpose-cuda-tests, bin/wbpose-bench   RUNPATH $ORIGIN/../lib
#   lib/                                      libgomp from this machine
#   MANIFEST                                  what was built, from which commit, and the sizes
# The CUDA libraries (cudart, cuBLAS, cuDNN) do not travel: cuBLAS and cuDNN alone are over 500 MiB.
# scripts/gpu-check.sh finds them on the GPU machine (PyTorch's nvidia-* wheels, else the toolkit).
# The C++ is compiled for x86-64-v3 (AVX2, FMA; the default WBPOSE_CPU_BASELINE), never native: this
# machine's CPU is not that one. The CPU kernels still take AVX-512 there if it has it (kernels/cpu/isa.h).
# Prints the package's size and fails if it is over PACK_LIMIT_MIB (default 48).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BUILD_DIR:=build-gpu}"
: "${PACK_LIMIT_MIB:=48}"
[ -x /usr/local/cuda/bin/nvcc ] && export PATH=/usr/local/cuda/bin:$PATH
pack="$BUILD_DIR/pack"

# $ORIGIN is for the loader, not the shell; CMAKE_ARGS is split into its arguments on purpose.
# shellcheck disable=SC2016,SC2086
# No MPI or NCCL: the GPU check runs one process, and neither library is known to be on that machine.
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWBPOSE_CUDA=ON -DWBPOSE_CPU_BASELINE=x86-64-v3 \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_BUILD_RPATH='$ORIGIN/../lib' -DWBPOSE_MPI=OFF -DWBPOSE_NCCL=OFF \
  ${CMAKE_ARGS:-} >/dev/null
# shellcheck disable=SC2086
ninja -C "$BUILD_DIR" ${NINJA_ARGS:-} wbpose-cuda-tests wbpose-bench

rm -rf "$pack"
mkdir -p "$pack/bin" "$pack/lib"
cp "$BUILD_DIR/tests/wbpose-cuda-tests" "$BUILD_DIR/bin/wbpose-bench" "$pack/bin/"

# Runtime libraries. libgomp travels (GCC's OpenMP runtime: not part of every image). The C and C++
# runtimes stay the GPU machine's own: this machine's libstdc++ needs glibc 2.36, newer than some
# images have, while the binaries need only what MANIFEST lists. CUDA's are found there. Any other
# dependency is an error here, rather than a missing library there.
ldd "$pack"/bin/* | awk '/=> \// {print $1, $3}' | sort -u | while read -r soname path; do
  case "$soname" in
    libgomp.so.*) cp -L "$path" "$pack/lib/$soname" ;;
    libc.so.* | libm.so.* | libdl.so.* | librt.so.* | libpthread.so.* | ld-linux* | libstdc++.so.* | libgcc_s.so.*) ;;
    libcuda.so.* | libcudart.so.* | libcublas*.so.* | libcudnn*.so.*) ;;
    *) echo "gpu-pack: unexpected runtime dependency $soname ($path): decide whether it travels" >&2; exit 1 ;;
  esac
done

# The newest glibc and libstdc++ symbol versions the package needs: the GPU machine's must be at least these.
glibc_needed=$(objdump -T "$pack"/bin/* "$pack"/lib/* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -1)
glibcxx_needed=$(objdump -T "$pack"/bin/* "$pack"/lib/* 2>/dev/null | grep -o 'GLIBCXX_[0-9.]*' | sort -Vu | tail -1)
{
  echo "commit $(git rev-parse HEAD)$(git diff --quiet HEAD -- . ':!build*' || echo ' (with uncommitted changes)')"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) with $(nvcc --version | tail -1), $(c++ --version | head -1)"
  echo "cuda architectures 90 (sm_90 code + compute_90 PTX); C++ for x86-64-v3"
  echo "needs glibc >= ${glibc_needed#GLIBC_}, libstdc++ with ${glibcxx_needed}; from the GPU machine: $(ldd "$pack"/bin/* | awk '/=> \// {print $1}' |
    grep -E '^lib(cudart|cublas|cublasLt|cudnn)\.so' | sort -u | tr '\n' ' ')"
  du -ab "$pack/bin" "$pack/lib" | sort -k2 | awk '{printf "%10d %s\n", $1, $2}'
} >"$pack/MANIFEST"
cat "$pack/MANIFEST"

bytes=$(du -sb "$pack" | cut -f1)
mib=$(( (bytes + 1048575) / 1048576 ))
if [ "$mib" -gt "$PACK_LIMIT_MIB" ]; then
  echo "gpu-pack: $pack is $mib MiB, over the $PACK_LIMIT_MIB MiB allowed (the whole tree may carry 64 MiB)" >&2
  exit 1
fi
echo "gpu-pack: $pack is $mib MiB ($bytes bytes)"
