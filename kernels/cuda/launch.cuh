// Launch helpers shared by the hand-written CUDA kernels: grid sizing, alignment tests for the
// float4 paths, vector loads, and the warp/block tree reductions (fixed order, so deterministic).
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <mutex>

#include "tensor/cuda/check.h"
#include "tensor/tensor.h"

namespace wb::kernels::cuda::detail {

constexpr int kThreads = 256;  // default block size: 8 warps, 8 blocks fill an H100 SM

inline cudaStream_t stream_of(const Tensor& t) { return wb::cuda::current_stream(t.device().index); }

// Multiprocessor count, queried once per device (an attribute query, no synchronisation).
inline int sm_count(int device) {
  constexpr int kMaxDevices = 16;
  static int counts[kMaxDevices] = {};
  static std::once_flag once[kMaxDevices];
  check(device >= 0 && device < kMaxDevices, "cuda: device index ", device, " out of range");
  std::call_once(once[device], [device] {
    wb::cuda::check_cuda(cudaDeviceGetAttribute(&counts[device], cudaDevAttrMultiProcessorCount, device),
                         "cudaDeviceGetAttribute(MultiProcessorCount)");
  });
  return counts[device];
}

// Blocks for a grid-stride loop over `work` items handled `per_block` at a time: enough to cover
// the work, capped at a few full waves (more blocks only add scheduling overhead).
inline unsigned grid_for(int64_t work, int64_t per_block, int device, int waves = 8) {
  const int64_t need = (work + per_block - 1) / per_block;
  const int64_t cap = int64_t(sm_count(device)) * waves;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(need, cap)));
}

inline bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// V consecutive floats starting at element i (i a multiple of V, the pointer 16-byte aligned when V == 4).
template <int V>
__device__ __forceinline__ void load_vec(const float* __restrict__ p, int64_t i, float (&v)[V]) {
  if constexpr (V == 4) {
    const float4 q = *reinterpret_cast<const float4*>(p + i);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  } else {
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = p[i + k];
  }
}

template <int V>
__device__ __forceinline__ void store_vec(float* __restrict__ p, int64_t i, const float (&v)[V]) {
  if constexpr (V == 4) {
    *reinterpret_cast<float4*>(p + i) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
#pragma unroll
    for (int k = 0; k < V; ++k) p[i + k] = v[k];
  }
}

// Tree reductions of an accumulator type Acc with
//   static Acc identity(); void merge(const Acc&); Acc shfl_down(int offset) const;
// Acc must be trivially constructible (it lives in shared memory).
template <class Acc>
__device__ __forceinline__ Acc warp_reduce(Acc a) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) a.merge(a.shfl_down(offset));
  return a;
}

// Every thread of the block must call this; the block size is a multiple of 32 (at most 1024).
// The result is valid in thread 0.
template <class Acc>
__device__ Acc block_reduce(Acc a) {
  __shared__ Acc warp_results[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  a = warp_reduce(a);
  if (lane == 0) warp_results[warp] = a;
  __syncthreads();
  if (warp == 0) {
    a = lane < nwarps ? warp_results[lane] : Acc::identity();
    a = warp_reduce(a);
  }
  // warp_results may be reused by a later call in the same kernel.
  __syncthreads();
  return a;
}

// K independent float sums.
template <int K>
struct SumAcc {
  float v[K];
  static __device__ __forceinline__ SumAcc identity() {
    SumAcc a;
#pragma unroll
    for (int k = 0; k < K; ++k) a.v[k] = 0.f;
    return a;
  }
  __device__ __forceinline__ void merge(const SumAcc& o) {
#pragma unroll
    for (int k = 0; k < K; ++k) v[k] += o.v[k];
  }
  __device__ __forceinline__ SumAcc shfl_down(int offset) const {
    SumAcc r;
#pragma unroll
    for (int k = 0; k < K; ++k) r.v[k] = __shfl_down_sync(0xffffffffu, v[k], offset);
    return r;
  }
};

}  // namespace wb::kernels::cuda::detail
