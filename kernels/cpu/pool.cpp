// CPU reference for pooling: one (n, c) plane at a time, windows clipped to the input exactly as
// PyTorch's CPU kernels clip them.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/common.h"
#include "kernels/pool.h"

namespace wb::kernels::cpu {

namespace {

struct Geometry {
  int64_t planes, h, w, oh, ow;
};

Geometry geometry(const Tensor& x, const Tensor& y) {
  return {x.size(0) * x.size(1), x.size(2), x.size(3), y.size(2), y.size(3)};
}

// Window of output position o along one axis: [lo, hi) clipped to the input, plus `padded`, the
// window's size clipped only to the padded extent (avg pooling divides by it under
// count_include_pad; a ceil_mode window hanging past the padding does not count the overhang).
struct Window {
  int64_t lo, hi, padded;
};

Window window(int64_t o, int64_t in, int64_t k, int64_t s, int64_t pad) {
  const int64_t start = o * s - pad;
  const int64_t end = std::min(start + k, in + pad);
  return {std::max<int64_t>(start, 0), std::min(end, in), end - start};
}

}  // namespace

void max_pool2d_forward(const Tensor& x, const Pool2dParams& p, MaxPoolOut& out) {
  dispatch_float(x.dtype(), "max_pool2d", [&](auto t) {
    using T = decltype(t);
    const Geometry g = geometry(x, out.y);
    const T* px = x.data<T>();
    T* py = out.y.data<T>();
    int64_t* pi = out.indices.data<int64_t>();
#pragma omp parallel for if (x.numel() > 32768)
    for (int64_t pl = 0; pl < g.planes; ++pl) {
      const T* src = px + pl * g.h * g.w;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const Window wy = window(oy, g.h, p.kernel[0], p.stride[0], p.padding[0]);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const Window wx = window(ox, g.w, p.kernel[1], p.stride[1], p.padding[1]);
          // Padding never wins: it is -inf. A NaN in the window wins, as in PyTorch.
          T best = -std::numeric_limits<T>::infinity();
          int64_t best_i = wy.lo * g.w + wx.lo;
          for (int64_t iy = wy.lo; iy < wy.hi; ++iy) {
            for (int64_t ix = wx.lo; ix < wx.hi; ++ix) {
              const T v = src[iy * g.w + ix];
              if (v > best || std::isnan(v)) {
                best = v;
                best_i = iy * g.w + ix;
              }
            }
          }
          const int64_t o = (pl * g.oh + oy) * g.ow + ox;
          py[o] = best;
          pi[o] = best_i;
        }
      }
    }
  });
}

void max_pool2d_backward(const Tensor& dy, const Tensor& indices, Tensor& dx) {
  dispatch_float(dy.dtype(), "max_pool2d_backward", [&](auto t) {
    using T = decltype(t);
    const int64_t planes = dx.size(0) * dx.size(1), plane = dx.size(2) * dx.size(3);
    const int64_t per_plane = dy.size(2) * dy.size(3);
    const T* pdy = dy.data<T>();
    const int64_t* pi = indices.data<int64_t>();
    T* pdx = dx.data<T>();
    bool out_of_range = false;
    // Planes are disjoint, so the scatter-add needs no atomics.
#pragma omp parallel for reduction(|| : out_of_range) if (dx.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl) {
      T* dst = pdx + pl * plane;
      for (int64_t i = 0; i < plane; ++i) dst[i] = T(0);
      for (int64_t o = pl * per_plane; o < (pl + 1) * per_plane; ++o) {
        const int64_t idx = pi[o];
        if (idx < 0 || idx >= plane) {
          out_of_range = true;
          continue;
        }
        dst[idx] += pdy[o];
      }
    }
    check(!out_of_range, "max_pool2d_backward: indices ", indices.str(), " point outside the ", dx.size(2), "x",
          dx.size(3), " planes of input ", dx.str());
  });
}

void avg_pool2d_forward(const Tensor& x, const Pool2dParams& p, Tensor& y) {
  dispatch_float(x.dtype(), "avg_pool2d", [&](auto t) {
    using T = decltype(t);
    const Geometry g = geometry(x, y);
    const T* px = x.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for if (x.numel() > 32768)
    for (int64_t pl = 0; pl < g.planes; ++pl) {
      const T* src = px + pl * g.h * g.w;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const Window wy = window(oy, g.h, p.kernel[0], p.stride[0], p.padding[0]);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const Window wx = window(ox, g.w, p.kernel[1], p.stride[1], p.padding[1]);
          double sum = 0.0;
          for (int64_t iy = wy.lo; iy < wy.hi; ++iy) {
            for (int64_t ix = wx.lo; ix < wx.hi; ++ix) sum += static_cast<double>(src[iy * g.w + ix]);
          }
          const int64_t count = p.count_include_pad ? wy.padded * wx.padded : (wy.hi - wy.lo) * (wx.hi - wx.lo);
          py[(pl * g.oh + oy) * g.ow + ox] = static_cast<T>(sum / static_cast<double>(count));
        }
      }
    }
  });
}

void avg_pool2d_backward(const Tensor& dy, const Pool2dParams& p, Tensor& dx) {
  dispatch_float(dy.dtype(), "avg_pool2d_backward", [&](auto t) {
    using T = decltype(t);
    const Geometry g = geometry(dx, dy);
    const T* pdy = dy.data<T>();
    T* pdx = dx.data<T>();
#pragma omp parallel for if (dx.numel() > 32768)
    for (int64_t pl = 0; pl < g.planes; ++pl) {
      T* dst = pdx + pl * g.h * g.w;
      for (int64_t i = 0; i < g.h * g.w; ++i) dst[i] = T(0);
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const Window wy = window(oy, g.h, p.kernel[0], p.stride[0], p.padding[0]);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const Window wx = window(ox, g.w, p.kernel[1], p.stride[1], p.padding[1]);
          const int64_t count = p.count_include_pad ? wy.padded * wx.padded : (wy.hi - wy.lo) * (wx.hi - wx.lo);
          const T share =
              static_cast<T>(static_cast<double>(pdy[(pl * g.oh + oy) * g.ow + ox]) / static_cast<double>(count));
          for (int64_t iy = wy.lo; iy < wy.hi; ++iy) {
            for (int64_t ix = wx.lo; ix < wx.hi; ++ix) dst[iy * g.w + ix] += share;
          }
        }
      }
    }
  });
}

void global_avg_pool_forward(const Tensor& x, Tensor& y) {
  dispatch_float(x.dtype(), "global_avg_pool", [&](auto t) {
    using T = decltype(t);
    const int64_t planes = x.size(0) * x.size(1), plane = x.size(2) * x.size(3);
    const T* px = x.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for if (x.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl) {
      double sum = 0.0;
      for (int64_t i = 0; i < plane; ++i) sum += static_cast<double>(px[pl * plane + i]);
      py[pl] = static_cast<T>(sum / static_cast<double>(plane));
    }
  });
}

void global_avg_pool_backward(const Tensor& dy, Tensor& dx) {
  dispatch_float(dy.dtype(), "global_avg_pool_backward", [&](auto t) {
    using T = decltype(t);
    const int64_t planes = dx.size(0) * dx.size(1), plane = dx.size(2) * dx.size(3);
    const T* pdy = dy.data<T>();
    T* pdx = dx.data<T>();
#pragma omp parallel for if (dx.numel() > 32768)
    for (int64_t pl = 0; pl < planes; ++pl) {
      const T share = static_cast<T>(static_cast<double>(pdy[pl]) / static_cast<double>(plane));
      for (int64_t i = 0; i < plane; ++i) pdx[pl * plane + i] = share;
    }
  });
}

}  // namespace wb::kernels::cpu
