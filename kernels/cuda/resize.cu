// Bilinear resize and nearest upsampling, CUDA (kernels/resize.h): PyTorch interpolate semantics,
// with the source-coordinate arithmetic done in float exactly as kernels/cpu/resize.cpp does it
// (the same equal-size shortcut, the same rounding points, no FMA contraction), so taps agree bit
// for bit.
//
// Both backwards are gathers: each input pixel sums the output gradients whose taps include it.
// No atomics, no zero-fill pass, and the sum order is fixed (deterministic).
#include <algorithm>
#include <climits>
#include <cstdint>

#include "kernels/cuda/exact_float.cuh"
#include "kernels/resize.h"
#include "tensor/cuda/check.h"

namespace wb::kernels::cuda {

namespace {

constexpr int kTileW = 32, kTileH = 8;  // one warp per row of a tile: coalesced along W
constexpr int kPlanes = 4;              // (n, c) planes per thread: taps are computed once for all of them
constexpr int kMaxGridYZ = 65535;

// Output position o reads in[lo] * w_lo + in[hi] * w_hi (hi == lo at the last input row).
struct Tap {
  int lo, hi;
  float w_lo, w_hi;
};

// One axis of a bilinear resize; the source coordinate is PyTorch's area_pixel_compute_source_index.
struct LinearAxis {
  int in, out;
  float ratio;
  bool align_corners;

  __host__ __device__ Tap tap(int o) const {
    // PyTorch copies when the sizes agree, even when a scale factor says otherwise.
    if (in == out) return {o, o, 1.f, 0.f};
    float src;
    if (align_corners) {
      src = mul_rn(ratio, static_cast<float>(o));
    } else {
      src = add_rn(mul_rn(ratio, add_rn(static_cast<float>(o), 0.5f)), -0.5f);
      src = src < 0.f ? 0.f : src;
    }
    const int lo = std::min(static_cast<int>(src), in - 1);  // src >= 0: truncation is floor
    const float l = fminf(fmaxf(src - static_cast<float>(lo), 0.f), 1.f);
    return {lo, lo + (lo < in - 1 ? 1 : 0), 1.f - l, l};
  }
  __host__ __device__ int lower(int o) const { return tap(o).lo; }
  __host__ __device__ float weight(int o, int i) const {
    const Tap t = tap(o);
    return (t.lo == i ? t.w_lo : 0.f) + (t.hi == i ? t.w_hi : 0.f);
  }
  // An estimate of the smallest o whose source is >= t (the exact answer is found by first_at_least).
  __host__ __device__ float inverse(int t) const {
    if (in == out) return static_cast<float>(t);
    if (ratio <= 0.f) return static_cast<float>(out);  // align_corners with one output: every o reads 0
    return align_corners ? t / ratio : (t + 0.5f) / ratio - 0.5f;
  }
};

// One axis of a nearest upsampling: floor(o * ratio) with the ratio and the product in float, as
// PyTorch's NCHW nearest kernel (and the CPU reference) computes it.
struct NearestAxis {
  int in, out;
  float ratio;

  __host__ __device__ int lower(int o) const {
    return std::min(static_cast<int>(floorf(mul_rn(static_cast<float>(o), ratio))), in - 1);
  }
  __host__ __device__ float inverse(int t) const { return t / ratio; }
};

// The smallest output index o in [0, out] with axis.lower(o) >= t (out when there is none).
// lower() is monotone non-decreasing in o: every float operation in it (a product with a positive
// ratio, adding constants, the clamps at 0 and at in - 1, truncation) preserves order. So the
// answer is the boundary of a monotone predicate, and the two walks below land on it exactly,
// evaluating lower() itself; inverse() only picks the starting point, so its rounding can cost an
// extra step but never a wrong answer. t <= 0 and t > in - 1 are the clamped ends, settled directly.
template <class Axis>
__host__ __device__ int first_at_least(const Axis& a, int t) {
  if (t <= 0) return 0;
  if (t > a.in - 1) return a.out;
  const float g = a.inverse(t);
  int o = g >= static_cast<float>(a.out) ? a.out : (g > 0.f ? static_cast<int>(ceilf(g)) : 0);
  while (o > 0 && a.lower(o - 1) >= t) --o;
  while (o < a.out && a.lower(o) < t) ++o;
  return o;
}

// Forward: one thread per output pixel of kPlanes planes (x, y in the 2-d grid, plane groups in z).
__global__ void bilinear_forward_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t planes,
                                        LinearAxis ah, LinearAxis aw) {
  const int ox = blockIdx.x * kTileW + threadIdx.x, oy = blockIdx.y * kTileH + threadIdx.y;
  if (ox >= aw.out || oy >= ah.out) return;
  const Tap ty = ah.tap(oy), tx = aw.tap(ox);
  const int64_t in_plane = static_cast<int64_t>(ah.in) * aw.in, out_plane = static_cast<int64_t>(ah.out) * aw.out;
  const int64_t row0 = static_cast<int64_t>(ty.lo) * aw.in, row1 = static_cast<int64_t>(ty.hi) * aw.in;
  const int64_t out_off = static_cast<int64_t>(oy) * aw.out + ox;
  for (int64_t p0 = static_cast<int64_t>(blockIdx.z) * kPlanes; p0 < planes;
       p0 += static_cast<int64_t>(gridDim.z) * kPlanes) {
#pragma unroll
    for (int j = 0; j < kPlanes; ++j) {
      const int64_t p = p0 + j;
      if (p >= planes) break;
      const float* r0 = x + p * in_plane + row0;
      const float* r1 = x + p * in_plane + row1;
      y[p * out_plane + out_off] =
          ty.w_lo * (tx.w_lo * r0[tx.lo] + tx.w_hi * r0[tx.hi]) + ty.w_hi * (tx.w_lo * r1[tx.lo] + tx.w_hi * r1[tx.hi]);
    }
  }
}

// Backward as a gather: one thread per input pixel of kPlanes planes. Output o feeds input i only
// through tap(o).lo == i or tap(o).hi == i, and hi is lo + 1 (or lo itself at the last row and at
// equal sizes), so both cases need lower(o) in {i - 1, i}: by monotonicity that is the contiguous range
// [first_at_least(i - 1), first_at_least(i + 1)), exact (see first_at_least), the clamped ends
// included: at the low end every o whose source clamps to 0 has lower(o) = 0 and falls in input 0's
// range (and input 1's, with weight 0); at the high end hi == lo == in - 1 and weight() adds both
// of its terms. Inside the range the weights are the forward's own taps, recomputed.
__global__ void bilinear_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, int64_t planes,
                                         LinearAxis ah, LinearAxis aw) {
  const int ix = blockIdx.x * kTileW + threadIdx.x, iy = blockIdx.y * kTileH + threadIdx.y;
  if (ix >= aw.in || iy >= ah.in) return;
  const int oy0 = first_at_least(ah, iy - 1), oy1 = first_at_least(ah, iy + 1);
  const int ox0 = first_at_least(aw, ix - 1), ox1 = first_at_least(aw, ix + 1);
  const int64_t in_plane = static_cast<int64_t>(ah.in) * aw.in, out_plane = static_cast<int64_t>(ah.out) * aw.out;
  const int64_t in_off = static_cast<int64_t>(iy) * aw.in + ix;
  for (int64_t p0 = static_cast<int64_t>(blockIdx.z) * kPlanes; p0 < planes;
       p0 += static_cast<int64_t>(gridDim.z) * kPlanes) {
    const int np = planes - p0 < kPlanes ? static_cast<int>(planes - p0) : kPlanes;
    float acc[kPlanes] = {};
    for (int oy = oy0; oy < oy1; ++oy) {
      const float wy = ah.weight(oy, iy);
      if (wy == 0.f) continue;
      for (int ox = ox0; ox < ox1; ++ox) {
        const float w = wy * aw.weight(ox, ix);
        const float* g = dy + p0 * out_plane + static_cast<int64_t>(oy) * aw.out + ox;
#pragma unroll
        for (int j = 0; j < kPlanes; ++j) {
          if (j < np) acc[j] += w * g[j * out_plane];
        }
      }
    }
#pragma unroll
    for (int j = 0; j < kPlanes; ++j) {
      if (j < np) dx[(p0 + j) * in_plane + in_off] = acc[j];
    }
  }
}

__global__ void nearest_forward_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t planes,
                                       NearestAxis ah, NearestAxis aw) {
  const int ox = blockIdx.x * kTileW + threadIdx.x, oy = blockIdx.y * kTileH + threadIdx.y;
  if (ox >= aw.out || oy >= ah.out) return;
  const int64_t in_plane = static_cast<int64_t>(ah.in) * aw.in, out_plane = static_cast<int64_t>(ah.out) * aw.out;
  const int64_t in_off = static_cast<int64_t>(ah.lower(oy)) * aw.in + aw.lower(ox);
  const int64_t out_off = static_cast<int64_t>(oy) * aw.out + ox;
  for (int64_t p0 = static_cast<int64_t>(blockIdx.z) * kPlanes; p0 < planes;
       p0 += static_cast<int64_t>(gridDim.z) * kPlanes) {
#pragma unroll
    for (int j = 0; j < kPlanes; ++j) {
      const int64_t p = p0 + j;
      if (p >= planes) break;
      y[p * out_plane + out_off] = x[p * in_plane + in_off];
    }
  }
}

// Nearest backward as a gather: input i receives exactly the outputs with lower(o) == i, the
// range [first_at_least(i), first_at_least(i + 1)) by the same monotonicity argument.
__global__ void nearest_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, int64_t planes,
                                        NearestAxis ah, NearestAxis aw) {
  const int ix = blockIdx.x * kTileW + threadIdx.x, iy = blockIdx.y * kTileH + threadIdx.y;
  if (ix >= aw.in || iy >= ah.in) return;
  const int oy0 = first_at_least(ah, iy), oy1 = first_at_least(ah, iy + 1);
  const int ox0 = first_at_least(aw, ix), ox1 = first_at_least(aw, ix + 1);
  const int64_t in_plane = static_cast<int64_t>(ah.in) * aw.in, out_plane = static_cast<int64_t>(ah.out) * aw.out;
  const int64_t in_off = static_cast<int64_t>(iy) * aw.in + ix;
  for (int64_t p0 = static_cast<int64_t>(blockIdx.z) * kPlanes; p0 < planes;
       p0 += static_cast<int64_t>(gridDim.z) * kPlanes) {
    const int np = planes - p0 < kPlanes ? static_cast<int>(planes - p0) : kPlanes;
    float acc[kPlanes] = {};
    for (int oy = oy0; oy < oy1; ++oy) {
      for (int ox = ox0; ox < ox1; ++ox) {
        const float* g = dy + p0 * out_plane + static_cast<int64_t>(oy) * aw.out + ox;
#pragma unroll
        for (int j = 0; j < kPlanes; ++j) {
          if (j < np) acc[j] += g[j * out_plane];
        }
      }
    }
#pragma unroll
    for (int j = 0; j < kPlanes; ++j) {
      if (j < np) dx[(p0 + j) * in_plane + in_off] = acc[j];
    }
  }
}

int to_int(int64_t v, const char* op, const char* what, const Tensor& t) {
  check(v >= 0 && v <= INT_MAX, op, " (CUDA): ", what, " ", v, " of ", t.str(), " exceeds the int range");
  return static_cast<int>(v);
}

// The ratio PyTorch's area_pixel_compute_scale<float> gives one axis.
LinearAxis linear_axis(int in, int out, bool align_corners, double scale) {
  float ratio;
  if (align_corners) {
    ratio = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.f;
  } else {
    ratio = scale > 0.0 ? static_cast<float>(1.0 / scale) : static_cast<float>(in) / static_cast<float>(out);
  }
  return {in, out, ratio, align_corners};
}

NearestAxis nearest_axis(int in, int out, double scale) {
  const float ratio = scale > 0.0 ? static_cast<float>(1.0 / scale) : static_cast<float>(in) / static_cast<float>(out);
  return {in, out, ratio};
}

// Launch geometry over a (height x width) pixel grid of `planes` planes; false when empty.
bool launch_dims(const char* op, const Tensor& t, int64_t planes, int height, int width, dim3& grid) {
  if (planes == 0 || height == 0 || width == 0) return false;
  const int64_t gy = (height + kTileH - 1) / kTileH;
  check(gy <= kMaxGridYZ, op, " (CUDA): height ", height, " of ", t.str(), " exceeds the launch grid");
  const int64_t groups = (planes + kPlanes - 1) / kPlanes;
  grid = dim3(static_cast<unsigned>((width + kTileW - 1) / kTileW), static_cast<unsigned>(gy),
              static_cast<unsigned>(std::min<int64_t>(groups, kMaxGridYZ)));
  return true;
}

// Runs a kernel over the pixels of dst (the output for a forward, the input gradient for a backward).
template <class Axis, class Kernel>
void launch(const char* op, Kernel kernel, const Tensor& src, Tensor& dst, const Axis& ah, const Axis& aw) {
  const int64_t planes = dst.size(0) * dst.size(1);
  dim3 grid;
  if (!launch_dims(op, dst, planes, static_cast<int>(dst.size(2)), static_cast<int>(dst.size(3)), grid)) return;
  kernel<<<grid, dim3(kTileW, kTileH), 0, wb::cuda::current_stream(src.device().index)>>>(src.data<float>(), dst.data<float>(),
                                                                                planes, ah, aw);
  wb::cuda::check_launch(op);
}

}  // namespace

void resize_bilinear_forward(const Tensor& x, const ResizeParams& p, Tensor& y) {
  const char* op = "resize_bilinear";
  const int ih = to_int(x.size(2), op, "height", x), iw = to_int(x.size(3), op, "width", x);
  const int oh = to_int(p.out_h, op, "output height", y), ow = to_int(p.out_w, op, "output width", y);
  launch(op, bilinear_forward_kernel, x, y, linear_axis(ih, oh, p.align_corners, p.scale_h),
         linear_axis(iw, ow, p.align_corners, p.scale_w));
}

void resize_bilinear_backward(const Tensor& dy, const ResizeParams& p, Tensor& dx) {
  const char* op = "resize_bilinear_backward";
  const int ih = to_int(dx.size(2), op, "height", dx), iw = to_int(dx.size(3), op, "width", dx);
  const int oh = to_int(p.out_h, op, "output height", dy), ow = to_int(p.out_w, op, "output width", dy);
  launch(op, bilinear_backward_kernel, dy, dx, linear_axis(ih, oh, p.align_corners, p.scale_h),
         linear_axis(iw, ow, p.align_corners, p.scale_w));
}

void upsample_nearest_forward(const Tensor& x, const ResizeParams& p, Tensor& y) {
  const char* op = "upsample_nearest";
  const int ih = to_int(x.size(2), op, "height", x), iw = to_int(x.size(3), op, "width", x);
  const int oh = to_int(p.out_h, op, "output height", y), ow = to_int(p.out_w, op, "output width", y);
  launch(op, nearest_forward_kernel, x, y, nearest_axis(ih, oh, p.scale_h), nearest_axis(iw, ow, p.scale_w));
}

void upsample_nearest_backward(const Tensor& dy, const ResizeParams& p, Tensor& dx) {
  const char* op = "upsample_nearest_backward";
  const int ih = to_int(dx.size(2), op, "height", dx), iw = to_int(dx.size(3), op, "width", dx);
  const int oh = to_int(p.out_h, op, "output height", dy), ow = to_int(p.out_w, op, "output width", dy);
  launch(op, nearest_backward_kernel, dy, dx, nearest_axis(ih, oh, p.scale_h), nearest_axis(iw, ow, p.scale_w));
}

}  // namespace wb::kernels::cuda
