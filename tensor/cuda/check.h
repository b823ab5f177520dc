// CUDA-only helpers shared by tensor/cuda and kernels/cuda: errors become wb::Error naming the call.
#pragma once
#include <cuda_runtime.h>

#include "tensor/cuda_runtime.h"

#include "tensor/error.h"

namespace wb::cuda {

inline void check_cuda(cudaError_t e, const char* call) {
  if (e != cudaSuccess) fail("CUDA error in ", call, ": ", cudaGetErrorString(e));
}

// After a kernel launch: reports launch-configuration errors without synchronising.
inline void check_launch(const char* kernel) { check_cuda(cudaGetLastError(), kernel); }

inline cudaStream_t current_stream(int device = 0) { return static_cast<cudaStream_t>(stream(device)); }

}  // namespace wb::cuda
