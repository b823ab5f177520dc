// Not a GPU test: the CPU kernels' paths on the GPU machine's host CPU. scripts/gpu-check.sh runs
// this binary there, so a session lent a GPU also proves the AVX-512 path where CI's CPUs lack it.
#include <doctest/doctest.h>

#include "tests/conv3x3_routes.h"

TEST_CASE("host CPU: direct and Winograd f32 3x3 conv on every CPU path equal the f64 im2col conv") {
  wb::test::check_conv3x3_routes();
}
