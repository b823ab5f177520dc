// CPU reference for bilinear resize and nearest upsampling. The source-coordinate arithmetic
// follows PyTorch's UpSample.h step by step, in the tensor's own scalar type (nearest: in float,
// as PyTorch does for every dtype), so that tap indices agree with torch exactly and weights to
// the last bit of that type. Each axis is resolved once into a table of taps; the 2-d passes are
// then plain loops over (n, c) planes.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common.h"
#include "kernels/resize.h"

namespace wb::kernels::cpu {

namespace {

// Output position o along one axis reads in[i0] * l0 + in[i1] * l1.
template <class T>
struct LinearTap {
  int64_t i0, i1;
  T l0, l1;
};

template <class T>
std::vector<LinearTap<T>> linear_taps(int64_t in, int64_t out, bool align_corners, double scale) {
  std::vector<LinearTap<T>> taps(static_cast<size_t>(out));
  T ratio;
  if (align_corners) {
    ratio = out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0);
  } else {
    ratio = scale > 0.0 ? static_cast<T>(1.0 / scale) : static_cast<T>(in) / static_cast<T>(out);
  }
  for (int64_t o = 0; o < out; ++o) {
    LinearTap<T>& t = taps[static_cast<size_t>(o)];
    if (in == out) {
      // PyTorch copies when the sizes agree, even when a scale factor says otherwise.
      t = {o, o, T(1), T(0)};
      continue;
    }
    const T src = align_corners ? ratio * static_cast<T>(o)
                                : std::max(ratio * (static_cast<T>(o) + T(0.5)) - T(0.5), T(0));
    const int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
    const T l1 = std::clamp(src - static_cast<T>(i0), T(0), T(1));
    t = {i0, i0 + (i0 < in - 1 ? 1 : 0), T(1) - l1, l1};
  }
  return taps;
}

// floor(o * ratio) with the ratio and the product in float, as PyTorch's NCHW nearest kernel.
// (PyTorch's nearest backward shortcuts out == in and out == 2 * in whatever the scale factor, so
// with such a scale its gradient is not the adjoint of its forward; ours is.)
std::vector<int64_t> nearest_taps(int64_t in, int64_t out, double scale) {
  std::vector<int64_t> idx(static_cast<size_t>(out));
  const float ratio = scale > 0.0 ? static_cast<float>(1.0 / scale) : static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    idx[static_cast<size_t>(o)] = std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * ratio)), in - 1);
  }
  return idx;
}

}  // namespace

void resize_bilinear_forward(const Tensor& x, const ResizeParams& p, Tensor& y) {
  dispatch_float(x.dtype(), "resize_bilinear", [&](auto tag) {
    using T = decltype(tag);
    const int64_t planes = x.size(0) * x.size(1), ih = x.size(2), iw = x.size(3), oh = p.out_h, ow = p.out_w;
    const auto th = linear_taps<T>(ih, oh, p.align_corners, p.scale_h);
    const auto tw = linear_taps<T>(iw, ow, p.align_corners, p.scale_w);
    const T* px = x.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for if (y.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* src = px + pl * ih * iw;
      T* dst = py + pl * oh * ow;
      for (int64_t oy = 0; oy < oh; ++oy) {
        const LinearTap<T>& a = th[static_cast<size_t>(oy)];
        const T* r0 = src + a.i0 * iw;
        const T* r1 = src + a.i1 * iw;
        for (int64_t ox = 0; ox < ow; ++ox) {
          const LinearTap<T>& b = tw[static_cast<size_t>(ox)];
          dst[oy * ow + ox] = a.l0 * (b.l0 * r0[b.i0] + b.l1 * r0[b.i1]) + a.l1 * (b.l0 * r1[b.i0] + b.l1 * r1[b.i1]);
        }
      }
    }
  });
}

// The adjoint of the forward: every output gradient is scattered to its four taps. Planes are
// independent, so one thread per plane needs no atomics.
void resize_bilinear_backward(const Tensor& dy, const ResizeParams& p, Tensor& dx) {
  dispatch_float(dy.dtype(), "resize_bilinear_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t planes = dx.size(0) * dx.size(1), ih = dx.size(2), iw = dx.size(3), oh = p.out_h, ow = p.out_w;
    const auto th = linear_taps<T>(ih, oh, p.align_corners, p.scale_h);
    const auto tw = linear_taps<T>(iw, ow, p.align_corners, p.scale_w);
    const T* pg = dy.data<T>();
    T* pd = dx.data<T>();
#pragma omp parallel for if (dy.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* g = pg + pl * oh * ow;
      T* d = pd + pl * ih * iw;
      std::fill(d, d + ih * iw, T(0));
      for (int64_t oy = 0; oy < oh; ++oy) {
        const LinearTap<T>& a = th[static_cast<size_t>(oy)];
        T* r0 = d + a.i0 * iw;
        T* r1 = d + a.i1 * iw;
        for (int64_t ox = 0; ox < ow; ++ox) {
          const LinearTap<T>& b = tw[static_cast<size_t>(ox)];
          const T v = g[oy * ow + ox];
          r0[b.i0] += a.l0 * b.l0 * v;
          r0[b.i1] += a.l0 * b.l1 * v;
          r1[b.i0] += a.l1 * b.l0 * v;
          r1[b.i1] += a.l1 * b.l1 * v;
        }
      }
    }
  });
}

void upsample_nearest_forward(const Tensor& x, const ResizeParams& p, Tensor& y) {
  dispatch_float(x.dtype(), "upsample_nearest", [&](auto tag) {
    using T = decltype(tag);
    const int64_t planes = x.size(0) * x.size(1), ih = x.size(2), iw = x.size(3), oh = p.out_h, ow = p.out_w;
    const auto sh = nearest_taps(ih, oh, p.scale_h);
    const auto sw = nearest_taps(iw, ow, p.scale_w);
    const T* px = x.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for if (y.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* src = px + pl * ih * iw;
      T* dst = py + pl * oh * ow;
      for (int64_t oy = 0; oy < oh; ++oy) {
        const T* row = src + sh[static_cast<size_t>(oy)] * iw;
        for (int64_t ox = 0; ox < ow; ++ox) dst[oy * ow + ox] = row[sw[static_cast<size_t>(ox)]];
      }
    }
  });
}

void upsample_nearest_backward(const Tensor& dy, const ResizeParams& p, Tensor& dx) {
  dispatch_float(dy.dtype(), "upsample_nearest_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t planes = dx.size(0) * dx.size(1), ih = dx.size(2), iw = dx.size(3), oh = p.out_h, ow = p.out_w;
    const auto sh = nearest_taps(ih, oh, p.scale_h);
    const auto sw = nearest_taps(iw, ow, p.scale_w);
    const T* pg = dy.data<T>();
    T* pd = dx.data<T>();
#pragma omp parallel for if (dy.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T* g = pg + pl * oh * ow;
      T* d = pd + pl * ih * iw;
      std::fill(d, d + ih * iw, T(0));
      for (int64_t oy = 0; oy < oh; ++oy) {
        T* row = d + sh[static_cast<size_t>(oy)] * iw;
        for (int64_t ox = 0; ox < ow; ++ox) row[sw[static_cast<size_t>(ox)]] += g[oy * ow + ox];
      }
    }
  });
}

}  // namespace wb::kernels::cpu
