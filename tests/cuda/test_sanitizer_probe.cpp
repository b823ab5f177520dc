// The self-check of the sanitizer stage of scripts/gpu-check.sh, not a parity test: it proves that
// compute-sanitizer's memcheck, with that stage's kernel filter and the exact-size allocator
// (WBPOSE_CUDA_ALLOC=exact), sees an overrun inside one of our kernels. strided_copy_kernel reads the
// 4 bytes just past a 16-byte allocation: inside the 512-byte block that the caching allocator would
// hand out, so only exact allocation makes the read visible. The stage fails unless memcheck reports
// it. Skipped unless named with --no-skip (the read is out of bounds on purpose).
#include <doctest/doctest.h>

#include "tensor/cuda_runtime.h"
#include "tests/cuda/parity.h"

using namespace wb;

TEST_CASE("sanitizer probe: a read past an exact-size allocation" * doctest::skip()) {
  if (!test::require_gpu()) return;
  void* src = cuda::allocate(16, 0);
  void* dst = cuda::allocate(4, 0);
  const int64_t shape[1] = {1}, strides[1] = {4};  // element 4 of 4-byte words: bytes 16..19
  cuda::strided_copy(dst, src, 4, 1, shape, strides, 1, 0);
  cuda::synchronize(0);
  cuda::release(dst, 0);
  cuda::release(src, 0);
}
