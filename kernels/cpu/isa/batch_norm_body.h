// Batch norm's per-channel loops in f32 (kernels/cpu/norm.cpp calls them for f32 tensors), written
// once over the vector of kernels/cpu/isa/simd.h and compiled per instruction set. A channel is
// `rows` runs of `len` floats, `stride` apart (the samples of an [N, C, inner] tensor).
//
// Sums keep norm.cpp's double-precision result: each lane adds at most kFlush / L values in f32
// before the vector is added into double accumulators, so an f32 batch of a whole feature map
// loses no more than a few f32 ulps of one block (the f64 path of norm.cpp stays the reference).
#pragma once
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/isa/simd.h"

namespace wb::kernels::cpu::WB_ISA_NS {

namespace bn {

using V = Simd::V;
constexpr int64_t kL = Simd::L;
constexpr int64_t kFlush = 16 * kL;  // values per lane block added in f32: 16 per lane

inline double hsum(V v) {
  double s = 0.0;
  for (int l = 0; l < kL; ++l) s += static_cast<double>(v[l]);
  return s;
}

// The gradient reaching the affine output: dy, or 0 where the fused ReLU cut (y <= 0).
inline V upstream(const float* dy, const float* y, int64_t k) {
  const V g = Simd::load(dy + k);
  if (!y) return g;
  return Simd::load(y + k) > Simd::zero() ? g : Simd::zero();
}
inline float upstream1(const float* dy, const float* y, int64_t k) { return y && !(y[k] > 0.f) ? 0.f : dy[k]; }

}  // namespace bn

// Sum over the channel of (x - shift)^power, power 1 or 2.
double bn_sum(const float* x, int64_t rows, int64_t stride, int64_t len, float shift, int power) {
  using namespace bn;
  double total = 0.0;
  const V s = Simd::set1(shift);
  for (int64_t i = 0; i < rows; ++i) {
    const float* p = x + i * stride;
    int64_t k = 0;
    for (; k + kL <= len;) {
      V acc = Simd::zero();
      const int64_t end = std::min(len - kL + 1, k + kFlush);
      for (; k < end; k += kL) {
        const V d = Simd::load(p + k) - s;
        acc += power == 1 ? d : d * d;
      }
      total += hsum(acc);
    }
    for (; k < len; ++k) {
      const double d = static_cast<double>(p[k]) - shift;
      total += power == 1 ? d : d * d;
    }
  }
  return total;
}

// y = x * scale + shift, then the optional ReLU.
void bn_affine(const float* x, float* y, int64_t rows, int64_t stride, int64_t len, float scale, float shift,
               bool relu) {
  const Simd::V a = Simd::set1(scale), b = Simd::set1(shift);
  for (int64_t i = 0; i < rows; ++i) {
    const float* p = x + i * stride;
    float* q = y + i * stride;
    int64_t k = 0;
    for (; k + bn::kL <= len; k += bn::kL) {
      Simd::V v = Simd::load(p + k) * a + b;
      if (relu) v = Simd::max(v, Simd::zero());
      Simd::store(q + k, v);
    }
    for (; k < len; ++k) {
      const float v = p[k] * scale + shift;
      q[k] = relu && v < 0.f ? 0.f : v;
    }
  }
}

// sum_g = sum of g, sum_gx = sum of g * (x - mu) * is, g the upstream gradient (y: the fused
// ReLU's output, or null).
void bn_grad_sums(const float* dy, const float* x, const float* y, int64_t rows, int64_t stride, int64_t len, float mu,
                  float is, double* sum_g, double* sum_gx) {
  using namespace bn;
  double tg = 0.0, tgx = 0.0;
  const V m = Simd::set1(mu), s = Simd::set1(is);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t base = i * stride;
    const float* yy = y ? y + base : nullptr;
    int64_t k = 0;
    for (; k + kL <= len;) {
      V ag = Simd::zero(), agx = Simd::zero();
      const int64_t end = std::min(len - kL + 1, k + kFlush);
      for (; k < end; k += kL) {
        const V g = upstream(dy + base, yy, k);
        ag += g;
        agx += g * ((Simd::load(x + base + k) - m) * s);
      }
      tg += hsum(ag);
      tgx += hsum(agx);
    }
    for (; k < len; ++k) {
      const double g = upstream1(dy + base, yy, k);
      tg += g;
      tgx += g * ((static_cast<double>(x[base + k]) - mu) * is);
    }
  }
  *sum_g = tg;
  *sum_gx = tgx;
}

// dx = scale * (g - mean_g - (x - mu) * is * mean_gx).
void bn_grad_dx(const float* dy, const float* x, const float* y, int64_t rows, int64_t stride, int64_t len, float mu,
                float is, float scale, float mean_g, float mean_gx, float* dx) {
  using namespace bn;
  const V m = Simd::set1(mu), s = Simd::set1(is), a = Simd::set1(scale), mg = Simd::set1(mean_g),
          mgx = Simd::set1(mean_gx);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t base = i * stride;
    const float* yy = y ? y + base : nullptr;
    int64_t k = 0;
    for (; k + kL <= len; k += kL) {
      const V xhat = (Simd::load(x + base + k) - m) * s;
      Simd::store(dx + base + k, a * (upstream(dy + base, yy, k) - mg - xhat * mgx));
    }
    for (; k < len; ++k) {
      const float xhat = (x[base + k] - mu) * is;
      dx[base + k] = scale * (upstream1(dy + base, yy, k) - mean_g - xhat * mean_gx);
    }
  }
}

}  // namespace wb::kernels::cpu::WB_ISA_NS
