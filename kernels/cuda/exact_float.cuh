// Correctly rounded float and double arithmetic that the compiler may not contract into FMAs.
// The CPU references round every operation; kernels that compute coordinates whose floor picks
// a pixel (resize, RoIAlign) use these so that both backends pick the same pixel. Host versions
// exist so that the same coordinate code can be checked on the host.
#pragma once

namespace wb::kernels::cuda {

__host__ __device__ inline float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

__host__ __device__ inline float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

__host__ __device__ inline double mul_rn(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}

__host__ __device__ inline double add_rn(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

}  // namespace wb::kernels::cuda
