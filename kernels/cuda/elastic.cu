// Elastic channel slicing, CUDA (kernels/elastic.h): the centred sub-kernel w[:o, :i, c:c+k, c:c+k]
// of a shared [O, I, K, K] weight, and its gradient scattered back into the full weight's shape.
// Both are pure copies: one thread per sub-kernel element, consecutive threads on consecutive
// sub-kernel elements (the contiguous side of both copies), and the full-weight side reading or
// writing runs of k consecutive floats.
#include <climits>
#include <cstdint>

#include "kernels/elastic.h"
#include "tensor/cuda/check.h"

namespace wb::kernels::cuda {

namespace {

constexpr int kThreads = 256;

// Offset in the full weight of sub-kernel element `e` (row-major over [out, in, k, k]).
struct SliceMap {
  int64_t in_sub, k, in_full, k_full, c;

  __device__ int64_t full_offset(int64_t e) const {
    const int64_t x = e % k;
    int64_t t = e / k;
    const int64_t y = t % k;
    t /= k;
    const int64_t i = t % in_sub, o = t / in_sub;
    return ((o * in_full + i) * k_full + c + y) * k_full + c + x;
  }
};

__global__ void __launch_bounds__(kThreads)
    elastic_gather_kernel(const float* __restrict__ w, float* __restrict__ sub, int64_t total, SliceMap m) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (e < total) sub[e] = w[m.full_offset(e)];
}

// The sub-kernel occupies distinct elements of dw, so the scatter needs no atomics; the rest of
// dw keeps the zeros it arrives with.
__global__ void __launch_bounds__(kThreads)
    elastic_scatter_kernel(const float* __restrict__ dsub, float* __restrict__ dw, int64_t total, SliceMap m) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (e < total) dw[m.full_offset(e)] = dsub[e];
}

SliceMap slice_map(const Shape& full, const ElasticSliceParams& p) {
  return {p.in_channels, p.kernel, full[1], full[2], (full[2] - p.kernel) / 2};
}

template <class Kernel>
void launch(const char* op, Kernel kernel, const Tensor& src, Tensor& dst, int64_t total, const SliceMap& m) {
  if (total == 0) return;
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  check(blocks <= INT_MAX, op, " (CUDA): ", total, " sub-kernel elements exceed the launch grid");
  kernel<<<static_cast<unsigned>(blocks), kThreads, 0, wb::cuda::current_stream(src.device().index)>>>(
      src.data<float>(), dst.data<float>(), total, m);
  wb::cuda::check_launch(op);
}

}  // namespace

void elastic_slice_forward(const Tensor& w, const ElasticSliceParams& p, Tensor& sub) {
  launch("elastic_slice", elastic_gather_kernel, w, sub, sub.numel(), slice_map(w.shape(), p));
}

void elastic_slice_backward(const Tensor& dsub, const ElasticSliceParams& p, Tensor& dw) {
  launch("elastic_slice_backward", elastic_scatter_kernel, dsub, dw, dsub.numel(), slice_map(dw.shape(), p));
}

}  // namespace wb::kernels::cuda
