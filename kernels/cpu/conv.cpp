// CPU convolution: im2col per (sample, group, band of output rows) and a GEMM, or a direct loop
// for depthwise convolutions (one input channel per group, where a column matrix would only copy
// the input kh*kw times for a few multiply-adds). In f32, grouped convolutions with few channels
// per group (depthwise included) run the vectorized direct kernels of conv_grouped.h instead; the
// plain loops here stay the f64 path, against which those are tested.
//
// A transposed convolution is the adjoint of an ordinary one, so it is written with the same three
// primitives (forward, backward-data, backward-weight) on the geometry of that ordinary
// convolution, whose input is the transposed conv's output:
//   conv_transpose2d forward     = backward_data(dy := x)
//   conv_transpose2d backward dx = forward(x := dy)
//   conv_transpose2d backward dw = backward_weight(x := dy, dy := x)
#include <omp.h>

#include <algorithm>
#include <memory>
#include <type_traits>
#include <vector>

#include "kernels/common.h"
#include "kernels/conv.h"
#include "kernels/cpu/conv3x3_direct.h"
#include "kernels/cpu/conv3x3_winograd.h"
#include "kernels/cpu/conv_grouped.h"
#include "kernels/cpu/gemm.h"

namespace wb::kernels::cpu {

namespace {

// An ordinary convolution: input [n, c, h, w] -> output [n, o, ho, wo], weight [o, c/groups, kh, kw].
struct Geom {
  int64_t n, c, h, w;
  int64_t o, ho, wo;
  int64_t kh, kw;
  int64_t sh, sw, ph, pw, dh, dw;
  int64_t groups;

  int64_t cg() const { return c / groups; }
  int64_t og() const { return o / groups; }
  int64_t k() const { return cg() * kh * kw; }  // rows of the column matrix
  int64_t p() const { return ho * wo; }         // its columns: output pixels
  bool depthwise() const { return groups > 1 && cg() == 1; }
  // 1x1, stride 1, no padding: a group's input slice [cg, h*w] already is the column matrix.
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
  // 3x3, stride 1 or 2 (the same both ways), padding 1, dense: the shapes of conv3x3_direct (f32 only).
  bool direct3x3() const {
    return kh == 3 && kw == 3 && sh == sw && (sh == 1 || sh == 2) && ph == 1 && pw == 1 && dh == 1 && dw == 1 &&
           groups == 1;
  }
};

Geom make_geom(const Shape& in, const Shape& out, const Shape& weight, const Conv2dParams& p) {
  return {.n = in[0], .c = in[1], .h = in[2], .w = in[3],
          .o = out[1], .ho = out[2], .wo = out[3],
          .kh = weight[2], .kw = weight[3],
          .sh = p.stride[0], .sw = p.stride[1], .ph = p.padding[0], .pw = p.padding[1],
          .dh = p.dilation[0], .dw = p.dilation[1],
          .groups = p.groups};
}

// The output positions o in [lo, hi) whose input index o * stride + off lies in [0, in).
struct Range {
  int64_t lo, hi;
};
Range valid_range(int64_t off, int64_t stride, int64_t in, int64_t out) {
  const int64_t lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  const int64_t hi = in - off <= 0 ? 0 : (in - off - 1) / stride + 1;
  const int64_t l = std::min(lo, out);
  return {l, std::clamp(hi, l, out)};
}

// Samples run in parallel (each thread with its own buffer, Eigen single-threaded inside) when
// there is one per thread; otherwise one after another with the parallelism inside the GEMM and
// the column loops.
bool split_batch(int64_t n) { return n > 1 && n >= omp_get_max_threads(); }

template <class T>
std::unique_ptr<T[]> scratch(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(n, 1))]);
}

template <class T, class F>
void for_each_sample(int64_t n, int64_t buffer, F&& fn) {
  if (split_batch(n)) {
#pragma omp parallel
    {
      auto buf = scratch<T>(buffer);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < n; ++i) fn(i, buf.get());
    }
  } else {
    auto buf = scratch<T>(buffer);
    for (int64_t i = 0; i < n; ++i) fn(i, buf.get());
  }
}

// The column matrix is built for a band of output rows at a time, sized to stay in cache (about
// 1 MB) between im2col writing it and the GEMM reading it; Eigen's GEMM is also markedly faster on
// such blocks than on one [k, ho*wo] matrix of a large image.
template <class T>
int64_t band_rows(const Geom& g) {
  const int64_t budget = (int64_t{1} << 20) / static_cast<int64_t>(sizeof(T));
  return std::clamp<int64_t>(budget / (g.k() * g.wo), 1, g.ho);
}

// col [cg*kh*kw, (oh1-oh0)*wo] for output rows [oh0, oh1) from one group of one sample,
// x [cg, h, w]; zero where the kernel hangs over the padding.
template <class T>
void im2col(const Geom& g, const T* x, int64_t oh0, int64_t oh1, T* col) {
  const int64_t cg = g.cg(), cols = (oh1 - oh0) * g.wo;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < cg; ++c) {
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t off_h = i * g.dh - g.ph;
      const Range rh = valid_range(off_h, g.sh, g.h, g.ho);
      const int64_t lo = std::clamp(rh.lo, oh0, oh1), hi = std::clamp(rh.hi, lo, oh1);
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t off_w = j * g.dw - g.pw;
        const Range rw = valid_range(off_w, g.sw, g.w, g.wo);
        T* row = col + ((c * g.kh + i) * g.kw + j) * cols;
        std::fill(row, row + (lo - oh0) * g.wo, T(0));
        for (int64_t oh = lo; oh < hi; ++oh) {
          T* dst = row + (oh - oh0) * g.wo;
          const T* src = x + (c * g.h + oh * g.sh + off_h) * g.w;
          std::fill(dst, dst + rw.lo, T(0));
          if (g.sw == 1) {
            std::copy(src + rw.lo + off_w, src + rw.hi + off_w, dst + rw.lo);
          } else {
            for (int64_t ow = rw.lo; ow < rw.hi; ++ow) dst[ow] = src[ow * g.sw + off_w];
          }
          std::fill(dst + rw.hi, dst + g.wo, T(0));
        }
        std::fill(row + (hi - oh0) * g.wo, row + cols, T(0));
      }
    }
  }
}

// The adjoint of im2col: adds each column entry into the input pixel it was read from.
template <class T>
void col2im_add(const Geom& g, const T* col, int64_t oh0, int64_t oh1, T* x) {
  const int64_t cg = g.cg(), cols = (oh1 - oh0) * g.wo;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < cg; ++c) {
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t off_h = i * g.dh - g.ph;
      const Range rh = valid_range(off_h, g.sh, g.h, g.ho);
      const int64_t lo = std::clamp(rh.lo, oh0, oh1), hi = std::clamp(rh.hi, lo, oh1);
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t off_w = j * g.dw - g.pw;
        const Range rw = valid_range(off_w, g.sw, g.w, g.wo);
        const T* row = col + ((c * g.kh + i) * g.kw + j) * cols;
        for (int64_t oh = lo; oh < hi; ++oh) {
          const T* src = row + (oh - oh0) * g.wo;
          T* dst = x + (c * g.h + oh * g.sh + off_h) * g.w;
          for (int64_t ow = rw.lo; ow < rw.hi; ++ow) dst[ow * g.sw + off_w] += src[ow];
        }
      }
    }
  }
}

// ---- im2col + GEMM, per sample, group and band of output rows [oh0, oh1), q = its pixel count:
// y_g[:, band] [og, q] = w_g [og, k] col [k, q]. A pointwise conv reads x_g[:, band] in place. ----

template <class T>
void forward_gemm(const Geom& g, const T* x, const T* w, T* y) {
  const int64_t k = g.k(), p = g.p(), og = g.og(), cg_size = g.cg() * g.h * g.w, rows = band_rows<T>(g);
  for_each_sample<T>(g.n, g.pointwise() ? 0 : k * rows * g.wo, [&](int64_t n, T* col) {
    for (int64_t gr = 0; gr < g.groups; ++gr) {
      const T* xg = x + (n * g.groups + gr) * cg_size;
      const T* wg = w + gr * og * k;
      T* yg = y + (n * g.o + gr * og) * p;
      for (int64_t oh0 = 0; oh0 < g.ho; oh0 += rows) {
        const int64_t oh1 = std::min(oh0 + rows, g.ho), q0 = oh0 * g.wo, q = (oh1 - oh0) * g.wo;
        if (g.pointwise()) {
          gemm_rowmajor<T>(false, false, og, q, k, T(1), wg, k, xg + q0, p, T(0), yg + q0, p);
        } else {
          im2col(g, xg, oh0, oh1, col);
          gemm_rowmajor<T>(false, false, og, q, k, T(1), wg, k, col, q, T(0), yg + q0, p);
        }
      }
    }
  });
}

// dcol = w_g^T dy_g[:, band], folded back into dx.
template <class T>
void backward_data_gemm(const Geom& g, const T* dy, const T* w, T* dx) {
  const int64_t k = g.k(), p = g.p(), og = g.og(), cg_size = g.cg() * g.h * g.w, rows = band_rows<T>(g);
  for_each_sample<T>(g.n, g.pointwise() ? 0 : k * rows * g.wo, [&](int64_t n, T* col) {
    for (int64_t gr = 0; gr < g.groups; ++gr) {
      T* dxg = dx + (n * g.groups + gr) * cg_size;
      const T* dyg = dy + (n * g.o + gr * og) * p;
      const T* wg = w + gr * og * k;
      if (!g.pointwise()) std::fill(dxg, dxg + cg_size, T(0));
      for (int64_t oh0 = 0; oh0 < g.ho; oh0 += rows) {
        const int64_t oh1 = std::min(oh0 + rows, g.ho), q0 = oh0 * g.wo, q = (oh1 - oh0) * g.wo;
        if (g.pointwise()) {
          gemm_rowmajor<T>(true, false, k, q, og, T(1), wg, k, dyg + q0, p, T(0), dxg + q0, p);
        } else {
          gemm_rowmajor<T>(true, false, k, q, og, T(1), wg, k, dyg + q0, p, T(0), col, q);
          col2im_add(g, col, oh0, oh1, dxg);
        }
      }
    }
  });
}

// dw_g += dy_g[:, band] col^T summed over bands and the batch. With the batch split, each thread
// sums its samples into its own copy of dw; the copies are added in thread order, so the result
// does not depend on timing.
template <class T>
void backward_weight_gemm(const Geom& g, const T* x, const T* dy, T* dw) {
  const int64_t k = g.k(), p = g.p(), og = g.og(), cg_size = g.cg() * g.h * g.w, wsize = g.o * k;
  const int64_t rows = band_rows<T>(g);
  auto add_sample = [&](int64_t n, T* col, T* acc) {
    for (int64_t gr = 0; gr < g.groups; ++gr) {
      const T* xg = x + (n * g.groups + gr) * cg_size;
      const T* dyg = dy + (n * g.o + gr * og) * p;
      for (int64_t oh0 = 0; oh0 < g.ho; oh0 += rows) {
        const int64_t oh1 = std::min(oh0 + rows, g.ho), q0 = oh0 * g.wo, q = (oh1 - oh0) * g.wo;
        if (g.pointwise()) {
          gemm_rowmajor<T>(false, true, og, k, q, T(1), dyg + q0, p, xg + q0, p, T(1), acc + gr * og * k, k);
        } else {
          im2col(g, xg, oh0, oh1, col);
          gemm_rowmajor<T>(false, true, og, k, q, T(1), dyg + q0, p, col, q, T(1), acc + gr * og * k, k);
        }
      }
    }
  };
  std::fill(dw, dw + wsize, T(0));
  const int64_t buffer = g.pointwise() ? 0 : k * rows * g.wo;
  if (!split_batch(g.n)) {
    auto col = scratch<T>(buffer);
    for (int64_t n = 0; n < g.n; ++n) add_sample(n, col.get(), dw);
    return;
  }
  const int threads = omp_get_max_threads();
  std::vector<T> partial(static_cast<size_t>(threads * wsize), T(0));
#pragma omp parallel num_threads(threads)
  {
    auto col = scratch<T>(buffer);
    T* acc = partial.data() + omp_get_thread_num() * wsize;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.n; ++n) add_sample(n, col.get(), acc);
  }
  for (int t = 0; t < threads; ++t) {
    const T* acc = partial.data() + t * wsize;
    for (int64_t i = 0; i < wsize; ++i) dw[i] += acc[i];
  }
}

// ---- depthwise: output channel oc reads input channel oc / m, m = og (channel multiplier) ----

template <class T>
void forward_depthwise(const Geom& g, const T* x, const T* w, T* y) {
  const int64_t m = g.og(), hw = g.h * g.w, p = g.p();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t oc = 0; oc < g.o; ++oc) {
      const T* xc = x + (n * g.c + oc / m) * hw;
      const T* wk = w + oc * g.kh * g.kw;
      T* yc = y + (n * g.o + oc) * p;
      std::fill(yc, yc + p, T(0));
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t off_h = i * g.dh - g.ph;
        const Range rh = valid_range(off_h, g.sh, g.h, g.ho);
        for (int64_t j = 0; j < g.kw; ++j) {
          const int64_t off_w = j * g.dw - g.pw;
          const Range rw = valid_range(off_w, g.sw, g.w, g.wo);
          const T wv = wk[i * g.kw + j];
          for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
            const T* src = xc + (oh * g.sh + off_h) * g.w;
            T* dst = yc + oh * g.wo;
            for (int64_t ow = rw.lo; ow < rw.hi; ++ow) dst[ow] += wv * src[ow * g.sw + off_w];
          }
        }
      }
    }
  }
}

// Each input channel gathers from its own m output channels only, so (n, c) pairs are independent.
template <class T>
void backward_data_depthwise(const Geom& g, const T* dy, const T* w, T* dx) {
  const int64_t m = g.og(), hw = g.h * g.w, p = g.p();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t c = 0; c < g.c; ++c) {
      T* dxc = dx + (n * g.c + c) * hw;
      std::fill(dxc, dxc + hw, T(0));
      for (int64_t oc = c * m; oc < (c + 1) * m; ++oc) {
        const T* dyc = dy + (n * g.o + oc) * p;
        const T* wk = w + oc * g.kh * g.kw;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t off_h = i * g.dh - g.ph;
          const Range rh = valid_range(off_h, g.sh, g.h, g.ho);
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t off_w = j * g.dw - g.pw;
            const Range rw = valid_range(off_w, g.sw, g.w, g.wo);
            const T wv = wk[i * g.kw + j];
            for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
              const T* src = dyc + oh * g.wo;
              T* dst = dxc + (oh * g.sh + off_h) * g.w;
              for (int64_t ow = rw.lo; ow < rw.hi; ++ow) dst[ow * g.sw + off_w] += wv * src[ow];
            }
          }
        }
      }
    }
  }
}

template <class T>
void backward_weight_depthwise(const Geom& g, const T* x, const T* dy, T* dw) {
  const int64_t m = g.og(), hw = g.h * g.w, p = g.p();
#pragma omp parallel for schedule(static)
  for (int64_t oc = 0; oc < g.o; ++oc) {
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t off_h = i * g.dh - g.ph;
      const Range rh = valid_range(off_h, g.sh, g.h, g.ho);
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t off_w = j * g.dw - g.pw;
        const Range rw = valid_range(off_w, g.sw, g.w, g.wo);
        T acc = T(0);
        for (int64_t n = 0; n < g.n; ++n) {
          const T* xc = x + (n * g.c + oc / m) * hw;
          const T* dyc = dy + (n * g.o + oc) * p;
          for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
            const T* src = xc + (oh * g.sh + off_h) * g.w;
            const T* d = dyc + oh * g.wo;
            for (int64_t ow = rw.lo; ow < rw.hi; ++ow) acc += d[ow] * src[ow * g.sw + off_w];
          }
        }
        dw[(oc * g.kh + i) * g.kw + j] = acc;
      }
    }
  }
}

// ---- the three primitives and the bias ----

// The shapes of the direct grouped f32 kernels: dilation 1 and what grouped_direct_suits accepts.
bool grouped_direct(const Geom& g, GroupedConvShape& s) {
  s = {.n = g.n, .c = g.c, .h = g.h, .w = g.w, .o = g.o, .ho = g.ho, .wo = g.wo, .kh = g.kh, .kw = g.kw,
       .sh = g.sh, .sw = g.sw, .ph = g.ph, .pw = g.pw, .groups = g.groups};
  return g.dh == 1 && g.dw == 1 && grouped_direct_suits(s);
}

template <class T>
void forward(const Geom& g, const T* x, const T* w, T* y) {
  if constexpr (std::is_same_v<T, float>) {
    GroupedConvShape s;
    if (grouped_direct(g, s)) return grouped_direct_forward(s, x, w, y);
  }
  if (g.depthwise()) {
    forward_depthwise(g, x, w, y);
  } else {
    forward_gemm(g, x, w, y);
  }
}

template <class T>
void backward_data(const Geom& g, const T* dy, const T* w, T* dx) {
  if constexpr (std::is_same_v<T, float>) {
    GroupedConvShape s;
    if (grouped_direct(g, s)) return grouped_direct_backward_data(s, dy, w, dx);
  }
  if (g.depthwise()) {
    backward_data_depthwise(g, dy, w, dx);
  } else {
    backward_data_gemm(g, dy, w, dx);
  }
}

template <class T>
void backward_weight(const Geom& g, const T* x, const T* dy, T* dw) {
  if constexpr (std::is_same_v<T, float>) {
    GroupedConvShape s;
    if (grouped_direct(g, s)) return grouped_direct_backward_weight(s, x, dy, dw);
  }
  if (g.depthwise()) {
    backward_weight_depthwise(g, x, dy, dw);
  } else {
    backward_weight_gemm(g, x, dy, dw);
  }
}

// The epilogue after a GEMM or direct loop: y [n, c, p] = y * scale[c] + bias[c] + residual, then
// the ReLU, in one pass; nothing when there is nothing to apply.
template <class T>
void apply_epilogue(const ConvEpilogue& e, bool relu, Tensor& y) {
  if (!e.scale.defined() && !e.bias.defined() && !e.residual.defined() && !relu) return;
  const int64_t n = y.size(0), c = y.size(1), p = y.size(2) * y.size(3);
  const T* scale = e.scale.defined() ? e.scale.data<T>() : nullptr;
  const T* bias = e.bias.defined() ? e.bias.data<T>() : nullptr;
  const T* residual = e.residual.defined() ? e.residual.data<T>() : nullptr;
  T* py = y.data<T>();
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const int64_t at = (i * c + ch) * p;
      const T s = scale ? scale[ch] : T(1), b = bias ? bias[ch] : T(0);
      T* row = py + at;
      if (scale) {
        for (int64_t q = 0; q < p; ++q) row[q] = row[q] * s + b;
      } else if (bias) {
        for (int64_t q = 0; q < p; ++q) row[q] += b;
      }
      if (residual) {
        for (int64_t q = 0; q < p; ++q) row[q] += residual[at + q];
      }
      if (relu) {
        for (int64_t q = 0; q < p; ++q) row[q] = std::max(row[q], T(0));
      }
    }
  }
}

// An f32 3x3 convolution with padding 1 (stride 1 or 2) by the faster of the two routes for its shape.
void conv3x3_f32(const float* x, const float* w, const DirectEpilogue& e, int64_t n, int64_t c, int64_t h, int64_t wd,
                 int64_t o, int64_t stride, float* y) {
  if (stride == 1 && conv3x3_prefers_winograd(n, c, h, wd, o)) return conv3x3_winograd(x, w, e, n, c, h, wd, o, y);
  conv3x3_direct(x, w, e, n, c, h, wd, o, stride, y);
}

// dx of a 3x3 stride-1 padding-1 convolution is the same convolution of dy with the kernel turned
// round by 180 degrees and the channel axes swapped: wt [c, o, 3, 3] = w [o, c, 2 - i, 2 - j].
void backward_data_direct3x3(const Geom& g, const float* dy, const float* w, float* dx) {
  std::vector<float> wt(static_cast<size_t>(g.o * g.c * 9));
  for (int64_t oc = 0; oc < g.o; ++oc) {
    for (int64_t ic = 0; ic < g.c; ++ic) {
      for (int64_t t = 0; t < 9; ++t) wt[static_cast<size_t>((ic * g.o + oc) * 9 + 8 - t)] = w[(oc * g.c + ic) * 9 + t];
    }
  }
  conv3x3_f32(dy, wt.data(), {}, g.n, g.o, g.h, g.w, g.c, 1, dx);
}

// db[c] = sum of dy[n, c, p] over n and p.
template <class T>
void bias_grad(const Tensor& dy, Tensor& db) {
  const int64_t n = dy.size(0), c = dy.size(1), p = dy.size(2) * dy.size(3);
  const T* pdy = dy.data<T>();
  T* pdb = db.data<T>();
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) {
    T acc = T(0);
    for (int64_t i = 0; i < n; ++i) {
      const T* row = pdy + (i * c + ch) * p;
      for (int64_t q = 0; q < p; ++q) acc += row[q];
    }
    pdb[ch] = acc;
  }
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const ConvEpilogue& e, const Conv2dParams& p, Tensor& y) {
  dispatch_float(x.dtype(), "conv2d", [&](auto t) {
    using T = decltype(t);
    const Geom g = make_geom(x.shape(), y.shape(), w.shape(), p);
    if (std::is_same_v<T, float> && g.direct3x3()) {
      auto ptr = [](const Tensor& v) { return v.defined() ? v.data<float>() : nullptr; };
      conv3x3_f32(x.data<float>(), w.data<float>(), {ptr(e.scale), ptr(e.bias), ptr(e.residual), p.relu}, g.n, g.c,
                  g.h, g.w, g.o, g.sh, y.data<float>());
      return;
    }
    forward(g, x.data<T>(), w.data<T>(), y.data<T>());
    apply_epilogue<T>(e, p.relu, y);
  });
}

void conv2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Conv2dParams& p, ConvGrads& g) {
  dispatch_float(x.dtype(), "conv2d_backward", [&](auto t) {
    using T = decltype(t);
    const Geom geom = make_geom(x.shape(), dy.shape(), w.shape(), p);
    if (g.dx.defined()) {
      if (std::is_same_v<T, float> && geom.direct3x3() && geom.sh == 1) {
        backward_data_direct3x3(geom, dy.data<float>(), w.data<float>(), g.dx.data<float>());
      } else {
        backward_data(geom, dy.data<T>(), w.data<T>(), g.dx.data<T>());
      }
    }
    if (g.dw.defined()) {
      if (std::is_same_v<T, float> && geom.direct3x3() && geom.sh == 1 &&
          conv3x3_prefers_winograd(geom.n, geom.c, geom.h, geom.w, geom.o)) {
        conv3x3_winograd_backward_weight(x.data<float>(), dy.data<float>(), geom.n, geom.c, geom.h, geom.w, geom.o,
                                         g.dw.data<float>());
      } else {
        backward_weight(geom, x.data<T>(), dy.data<T>(), g.dw.data<T>());
      }
    }
    if (g.db.defined()) bias_grad<T>(dy, g.db);
  });
}

void conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                              Tensor& y) {
  dispatch_float(x.dtype(), "conv_transpose2d", [&](auto t) {
    using T = decltype(t);
    backward_data(make_geom(y.shape(), x.shape(), w.shape(), p), x.data<T>(), w.data<T>(), y.data<T>());
    ConvEpilogue bias_only;
    bias_only.bias = bias;
    apply_epilogue<T>(bias_only, false, y);
  });
}

void conv_transpose2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Conv2dParams& p,
                               ConvGrads& g) {
  dispatch_float(x.dtype(), "conv_transpose2d_backward", [&](auto t) {
    using T = decltype(t);
    const Geom geom = make_geom(dy.shape(), x.shape(), w.shape(), p);
    if (g.dx.defined()) forward(geom, dy.data<T>(), w.data<T>(), g.dx.data<T>());
    if (g.dw.defined()) backward_weight(geom, dy.data<T>(), x.data<T>(), g.dw.data<T>());
    if (g.db.defined()) bias_grad<T>(dy, g.db);
  });
}

}  // namespace wb::kernels::cpu
