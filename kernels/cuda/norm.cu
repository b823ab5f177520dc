// CUDA batch normalisation over (N, H, W) per channel, PyTorch semantics (see kernels/norm.h).
//
// Every pass is one of the two per-channel schemes of kernels/cuda/channel.cuh:
//   train forward:  Welford reduction of x per channel (blocks over channel slices, partials merged
//                   in slice order: one pass over x, no E[x^2] - E[x]^2 cancellation), whose
//                   finishing step writes the batch statistics and updates the running ones;
//                   then a map writing y = (x - mean) * invstd * gamma + beta (+ ReLU).
//   eval forward:   the map alone, with the running statistics.
//   backward:       a reduction of (sum g, sum g * (x - mean)) per channel, g = dy masked by
//                   y > 0 under the fused ReLU, which yields dbeta, dgamma and the two mean terms
//                   of dx; then a map writing dx. In eval the mean terms are zero.
#include <cmath>

#include "kernels/cuda/channel.cuh"
#include "kernels/norm.h"

namespace wb::kernels::cuda {

namespace {

using detail::ChannelGeom;
using detail::SumAcc;

ChannelGeom bn_geometry(const Tensor& x) {
  int64_t hw = 1;
  for (int64_t d = 2; d < x.dim(); ++d) hw *= x.size(d);
  return {x.size(0), x.size(1), hw};
}

bool all_aligned(std::initializer_list<const float*> ps) {
  for (const float* p : ps) {
    if (!detail::aligned16(p)) return false;
  }
  return true;
}

// Count, mean and sum of squared deviations of a set of values; merge is Chan et al.'s pairwise
// update, so partial results from any split combine without cancellation.
struct WelfordAcc {
  float n, mean, m2;
  static __device__ __forceinline__ WelfordAcc identity() { return {0.f, 0.f, 0.f}; }
  __device__ __forceinline__ void add(float x) {
    n += 1.f;
    const float d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
  }
  __device__ __forceinline__ void merge(const WelfordAcc& o) {
    if (o.n == 0.f) return;
    if (n == 0.f) {
      *this = o;
      return;
    }
    const float total = n + o.n, d = o.mean - mean, wo = o.n / total;
    mean += d * wo;
    m2 += o.m2 + d * d * n * wo;
    n = total;
  }
  __device__ __forceinline__ WelfordAcc shfl_down(int offset) const {
    return {__shfl_down_sync(0xffffffffu, n, offset), __shfl_down_sync(0xffffffffu, mean, offset),
            __shfl_down_sync(0xffffffffu, m2, offset)};
  }
};

struct WelfordElem {
  const float* x;
  template <int V>
  __device__ void accumulate(WelfordAcc& acc, int64_t i, int64_t) const {
    float v[V];
    detail::load_vec<V>(x, i, v);
    if constexpr (V == 1) {
      acc.add(v[0]);
    } else {
      // Fold the V values into their own (n, mean, m2) first: one division per unit, not per value.
      float mu = 0.f, m2 = 0.f;
#pragma unroll
      for (int k = 0; k < V; ++k) mu += v[k];
      mu *= 1.f / V;
#pragma unroll
      for (int k = 0; k < V; ++k) m2 += (v[k] - mu) * (v[k] - mu);
      acc.merge({float(V), mu, m2});
    }
  }
};

// Batch statistics: normalise with the biased variance, track the unbiased one (training checks
// that each channel has more than one value).
struct TrainStatsFinish {
  float* save_mean;
  float* save_invstd;
  float* running_mean;  // may be null: not tracked
  float* running_var;
  float eps, momentum;
  __device__ void operator()(int64_t c, const WelfordAcc& a) const {
    const float var = a.m2 / a.n;
    save_mean[c] = a.mean;
    save_invstd[c] = 1.f / sqrtf(var + eps);
    if (running_mean) running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * a.mean;
    if (running_var) running_var[c] = (1.f - momentum) * running_var[c] + momentum * (a.m2 / (a.n - 1.f));
  }
};

// y = (x - mean) * (gamma * invstd) + beta, optionally clamped at 0. `var` set means invstd is
// formed here from a variance (eval); otherwise `invstd` holds it (train).
struct NormalizeFn {
  const float* x;
  float* y;
  const float* mean;
  const float* invstd;
  const float* var;
  const float* gamma;
  const float* beta;
  float eps;
  bool relu;
  template <int V>
  __device__ void apply(int64_t i, int64_t c) const {
    const float is = var ? 1.f / sqrtf(var[c] + eps) : invstd[c];
    const float scale = gamma[c] * is, mu = mean[c], shift = beta[c];
    float v[V];
    detail::load_vec<V>(x, i, v);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float r = (v[k] - mu) * scale + shift;
      v[k] = relu && r < 0.f ? 0.f : r;
    }
    detail::store_vec<V>(y, i, v);
  }
};

// The gradient reaching the affine output: dy, zeroed where the fused ReLU clamped (y <= 0).
template <int V>
__device__ __forceinline__ void upstream(const float* dy, const float* y, int64_t i, float (&g)[V]) {
  detail::load_vec<V>(dy, i, g);
  if (y) {
    float vy[V];
    detail::load_vec<V>(y, i, vy);
#pragma unroll
    for (int k = 0; k < V; ++k) g[k] = vy[k] > 0.f ? g[k] : 0.f;
  }
}

// (sum g, sum g * (x - mean)) per channel.
struct BackwardSumsElem {
  const float* dy;
  const float* y;  // null without the fused ReLU
  const float* x;
  const float* mean;
  template <int V>
  __device__ void accumulate(SumAcc<2>& acc, int64_t i, int64_t c) const {
    const float mu = mean[c];
    float g[V], v[V];
    upstream<V>(dy, y, i, g);
    detail::load_vec<V>(x, i, v);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      acc.v[0] += g[k];
      acc.v[1] += g[k] * (v[k] - mu);
    }
  }
};

// dbeta = sum g, dgamma = invstd * sum g (x - mean); coef holds per channel the two terms dx
// subtracts in training, mean(g) and mean(g * xhat) * invstd (zero in eval).
struct BackwardFinish {
  float* dgamma;
  float* dbeta;
  float* coef;  // [2, C]
  const float* invstd;
  int64_t C;
  float inv_count;
  bool train;
  __device__ void operator()(int64_t c, const SumAcc<2>& s) const {
    const float is = invstd[c], sum_gxhat = s.v[1] * is;
    dbeta[c] = s.v[0];
    dgamma[c] = sum_gxhat;
    coef[c] = train ? s.v[0] * inv_count : 0.f;
    coef[C + c] = train ? sum_gxhat * inv_count * is : 0.f;
  }
};

// dx = gamma * invstd * (g - mean(g) - (x - mean) * invstd * mean(g * xhat)).
struct BackwardDxFn {
  const float* dy;
  const float* y;
  const float* x;
  const float* mean;
  const float* invstd;
  const float* gamma;
  const float* coef;
  int64_t C;
  float* dx;
  template <int V>
  __device__ void apply(int64_t i, int64_t c) const {
    const float mu = mean[c], scale = gamma[c] * invstd[c], mean_g = coef[c], k_x = coef[C + c];
    float g[V], v[V];
    upstream<V>(dy, y, i, g);
    detail::load_vec<V>(x, i, v);
#pragma unroll
    for (int k = 0; k < V; ++k) v[k] = scale * (g[k] - mean_g - (v[k] - mu) * k_x);
    detail::store_vec<V>(dx, i, v);
  }
};

}  // namespace

void batch_norm_train_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                              Tensor& running_var, const BatchNormParams& p, BatchNormTrainOut& out) {
  const ChannelGeom g = bn_geometry(x);
  const float* px = x.data<float>();
  float* py = out.y.data<float>();
  const bool vec4 = g.hw % 4 == 0 && all_aligned({px, py});
  const TrainStatsFinish finish{out.save_mean.data<float>(),
                                out.save_invstd.data<float>(),
                                running_mean.defined() ? running_mean.data<float>() : nullptr,
                                running_var.defined() ? running_var.data<float>() : nullptr,
                                static_cast<float>(p.eps),
                                static_cast<float>(p.momentum)};
  detail::channel_reduce<WelfordAcc>(g, vec4, WelfordElem{px}, finish, x);
  detail::channel_map(g, vec4,
                      NormalizeFn{px, py, finish.save_mean, finish.save_invstd, nullptr, gamma.data<float>(),
                                  beta.data<float>(), 0.f, p.relu},
                      x);
}

void batch_norm_eval_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                             const Tensor& running_var, const BatchNormParams& p, Tensor& y) {
  const ChannelGeom g = bn_geometry(x);
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const bool vec4 = g.hw % 4 == 0 && all_aligned({px, py});
  detail::channel_map(g, vec4,
                      NormalizeFn{px, py, running_mean.data<float>(), nullptr, running_var.data<float>(),
                                  gamma.data<float>(), beta.data<float>(), static_cast<float>(p.eps), p.relu},
                      x);
}

void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Tensor& gamma, const Tensor& mean,
                         const Tensor& invstd, bool train, const BatchNormParams& p, BatchNormGrads& g) {
  const ChannelGeom geo = bn_geometry(x);
  const float* pdy = dy.data<float>();
  const float* px = x.data<float>();
  const float* py = p.relu ? y.data<float>() : nullptr;
  const float* pm = mean.data<float>();
  const float* pi = invstd.data<float>();
  float* pdx = g.dx.data<float>();
  const bool vec4 = geo.hw % 4 == 0 && all_aligned({pdy, px, py, pdx});
  Tensor coef = Tensor::empty({2 * geo.c}, DType::F32, x.device());
  const int64_t count = geo.n * geo.hw;
  const BackwardFinish finish{g.dgamma.data<float>(),
                              g.dbeta.data<float>(),
                              coef.data<float>(),
                              pi,
                              geo.c,
                              count > 0 ? 1.f / static_cast<float>(count) : 0.f,
                              train};
  detail::channel_reduce<SumAcc<2>>(geo, vec4, BackwardSumsElem{pdy, py, px, pm}, finish, x);
  detail::channel_map(geo, vec4, BackwardDxFn{pdy, py, px, pm, pi, gamma.data<float>(), coef.data<float>(), geo.c, pdx},
                      x);
}

}  // namespace wb::kernels::cuda
