// CUDA pooling, NCHW, PyTorch semantics (see kernels/pool.h): max pooling with i64 argmax
// indices (flat h * W + w within each plane), average pooling, global average pooling.
// Windows are clipped exactly as kernels/cpu/pool.cpp clips them.
#include <cmath>

#include "kernels/cuda/channel.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce_internal.h"
#include "kernels/pool.h"

namespace wb::kernels::cuda {

namespace {

using detail::kThreads;

struct PoolGeom {
  int64_t planes, h, w, oh, ow;
  int64_t kh, kw, sh, sw, ph, pw;
  bool count_include_pad;
};

PoolGeom pool_geom(const Tensor& x, const Tensor& y, const Pool2dParams& p) {
  return {x.size(0) * x.size(1), x.size(2), x.size(3),   y.size(2),   y.size(3),   p.kernel[0],
          p.kernel[1],           p.stride[0], p.stride[1], p.padding[0], p.padding[1], p.count_include_pad};
}

// One output's window along an axis: [lo, hi) clipped to the input, and `padded`, its extent
// clipped only to the padded input (the count_include_pad divisor).
struct Span {
  int64_t lo, hi, padded;
};

__device__ __forceinline__ Span span(int64_t o, int64_t in, int64_t k, int64_t s, int64_t pad) {
  const int64_t start = o * s - pad, end = min(start + k, in + pad);
  return {max(start, int64_t(0)), min(end, in), end - start};
}

// Max and average forward: one thread per output, grid-stride. Consecutive threads take
// consecutive outputs of a row, so the window reads of a warp cover neighbouring input columns.
__global__ void max_pool_forward_kernel(const float* __restrict__ x, float* __restrict__ y,
                                        int64_t* __restrict__ indices, PoolGeom g) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = o % g.ow, oy = (o / g.ow) % g.oh, plane = o / (g.ow * g.oh);
    const Span sy = span(oy, g.h, g.kh, g.sh, g.ph), sx = span(ox, g.w, g.kw, g.sw, g.pw);
    const float* src = x + plane * g.h * g.w;
    // Padding never wins: it is -inf. A NaN in the window wins, as in PyTorch.
    float best = -INFINITY;
    int64_t best_i = sy.lo * g.w + sx.lo;
    for (int64_t iy = sy.lo; iy < sy.hi; ++iy) {
      for (int64_t ix = sx.lo; ix < sx.hi; ++ix) {
        const float v = src[iy * g.w + ix];
        if (v > best || isnan(v)) {
          best = v;
          best_i = iy * g.w + ix;
        }
      }
    }
    y[o] = best;
    indices[o] = best_i;
  }
}

// Max backward is a scatter: the API hands us the indices but not the window geometry, so an
// input cannot find the windows that chose it. dx is zeroed first and each output adds its
// gradient at its argmax. Without overlap (stride >= kernel) every input receives at most one
// add and the result is exact; with overlap the float atomics may add in any order (results can
// differ in the last bit between runs). Indices outside the plane are skipped.
__global__ void max_pool_backward_kernel(const float* __restrict__ dy, const int64_t* __restrict__ indices,
                                         float* __restrict__ dx, int64_t total, int64_t out_plane, int64_t in_plane) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t idx = indices[o];
    if (idx >= 0 && idx < in_plane) atomicAdd(dx + (o / out_plane) * in_plane + idx, dy[o]);
  }
}

__global__ void avg_pool_forward_kernel(const float* __restrict__ x, float* __restrict__ y, PoolGeom g) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = o % g.ow, oy = (o / g.ow) % g.oh, plane = o / (g.ow * g.oh);
    const Span sy = span(oy, g.h, g.kh, g.sh, g.ph), sx = span(ox, g.w, g.kw, g.sw, g.pw);
    const float* src = x + plane * g.h * g.w;
    float sum = 0.f;
    for (int64_t iy = sy.lo; iy < sy.hi; ++iy) {
      for (int64_t ix = sx.lo; ix < sx.hi; ++ix) sum += src[iy * g.w + ix];
    }
    const int64_t count = g.count_include_pad ? sy.padded * sx.padded : (sy.hi - sy.lo) * (sx.hi - sx.lo);
    y[o] = sum / static_cast<float>(count);
  }
}

// Average backward is a gather: one thread per input element visits the outputs whose windows
// contain it (the range follows from start = o * s - pad <= i < start + k), so every dx is
// written exactly once, in a fixed order, with no atomics and no zero-fill.
__global__ void avg_pool_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, PoolGeom g) {
  const int64_t total = g.planes * g.h * g.w;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ix = i % g.w, iy = (i / g.w) % g.h, plane = i / (g.w * g.h);
    const int64_t oy_lo = iy + g.ph < g.kh ? 0 : (iy + g.ph - g.kh) / g.sh + 1;
    const int64_t oy_hi = min((iy + g.ph) / g.sh + 1, g.oh);
    const int64_t ox_lo = ix + g.pw < g.kw ? 0 : (ix + g.pw - g.kw) / g.sw + 1;
    const int64_t ox_hi = min((ix + g.pw) / g.sw + 1, g.ow);
    const float* src = dy + plane * g.oh * g.ow;
    float acc = 0.f;
    for (int64_t oy = oy_lo; oy < oy_hi; ++oy) {
      const Span sy = span(oy, g.h, g.kh, g.sh, g.ph);
      for (int64_t ox = ox_lo; ox < ox_hi; ++ox) {
        const Span sx = span(ox, g.w, g.kw, g.sw, g.pw);
        const int64_t count = g.count_include_pad ? sy.padded * sx.padded : (sy.hi - sy.lo) * (sx.hi - sx.lo);
        acc += src[oy * g.ow + ox] / static_cast<float>(count);
      }
    }
    dx[i] = acc;
  }
}

// Global average pool backward: every element of plane c gets dy[c] / HW (a per-"channel" map
// with the N * C planes as channels).
struct BroadcastMeanGradFn {
  const float* dy;
  float* dx;
  float plane_size;
  template <int V>
  __device__ void apply(int64_t i, int64_t c) const {
    const float share = dy[c] / plane_size;
    float v[V];
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = share;
    detail::store_vec<V>(dx, i, v);
  }
};

}  // namespace

void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, MaxPoolOut& out) {
  const int64_t total = out.y.numel();
  if (total == 0) return;
  max_pool_forward_kernel<<<detail::grid_for(total, kThreads, x.device().index), kThreads, 0, detail::stream_of(x)>>>(
      x.data<float>(), out.y.data<float>(), out.indices.data<int64_t>(), pool_geom(x, out.y, p));
  wb::cuda::check_launch("max_pool_forward_kernel");
}

void max_pool2d_backward(const Tensor& dy, const Tensor& indices, Tensor& dx) {
  if (dx.numel() == 0) return;
  float* pdx = dx.data<float>();
  wb::cuda::fill_zero(pdx, size_t(dx.numel()) * sizeof(float), dx.device().index);
  const int64_t total = dy.numel();
  if (total == 0) return;
  max_pool_backward_kernel<<<detail::grid_for(total, kThreads, dy.device().index), kThreads, 0,
                             detail::stream_of(dy)>>>(dy.data<float>(), indices.data<int64_t>(), pdx, total,
                                                      dy.size(2) * dy.size(3), dx.size(2) * dx.size(3));
  wb::cuda::check_launch("max_pool_backward_kernel");
}

void avg_pool2d_forward(const Tensor& x, const Pool2dParams& p, Tensor& y) {
  const int64_t total = y.numel();
  if (total == 0) return;
  avg_pool_forward_kernel<<<detail::grid_for(total, kThreads, x.device().index), kThreads, 0, detail::stream_of(x)>>>(
      x.data<float>(), y.data<float>(), pool_geom(x, y, p));
  wb::cuda::check_launch("avg_pool_forward_kernel");
}

void avg_pool2d_backward(const Tensor& dy, const Pool2dParams& p, Tensor& dx) {
  const int64_t total = dx.numel();
  if (total == 0) return;
  avg_pool_backward_kernel<<<detail::grid_for(total, kThreads, dx.device().index), kThreads, 0,
                             detail::stream_of(dx)>>>(dy.data<float>(), dx.data<float>(), pool_geom(dx, dy, p));
  wb::cuda::check_launch("avg_pool_backward_kernel");
}

void global_avg_pool_forward(const Tensor& x, Tensor& y) {
  const int64_t plane = x.size(2) * x.size(3);
  detail::sum_middle_scaled(x, x.size(0) * x.size(1), plane, 1, 1.f / static_cast<float>(plane), y);
}

void global_avg_pool_backward(const Tensor& dy, Tensor& dx) {
  const detail::ChannelGeom g{1, dx.size(0) * dx.size(1), dx.size(2) * dx.size(3)};
  float* pdx = dx.data<float>();
  const bool vec4 = g.hw % 4 == 0 && detail::aligned16(pdx);
  detail::channel_map(g, vec4, BroadcastMeanGradFn{dy.data<float>(), pdx, static_cast<float>(g.hw)}, dx);
}

}  // namespace wb::kernels::cuda
