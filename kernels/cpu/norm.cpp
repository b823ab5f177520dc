// CPU reference for batch normalisation. x is contiguous [N, C, inner]; every statistic is per
// channel over the N * inner values, accumulated in double so that f32 batches of whole feature
// maps keep their digits.
#include <cmath>

#include "kernels/common.h"
#include "kernels/norm.h"

namespace wb::kernels::cpu {

namespace {

struct Layout {
  int64_t n, c, inner;
  int64_t count() const { return n * inner; }  // values per channel
};

Layout layout_of(const Tensor& x) {
  int64_t inner = 1;
  for (int64_t d = 2; d < x.dim(); ++d) inner *= x.size(d);
  return {x.size(0), x.size(1), inner};
}

// Sum over channel ch of (x - shift)^power, power 1 or 2. `omp simd reduction` lets the compiler
// keep several partial sums in vector lanes (a plain double loop is one serial dependency chain).
template <class T>
double channel_sum(const T* p, const Layout& l, int64_t ch, double shift, int power) {
  double acc = 0.0;
  for (int64_t i = 0; i < l.n; ++i) {
    const T* row = p + (i * l.c + ch) * l.inner;
    if (power == 1) {
#pragma omp simd reduction(+ : acc)
      for (int64_t k = 0; k < l.inner; ++k) acc += static_cast<double>(row[k]) - shift;
    } else {
#pragma omp simd reduction(+ : acc)
      for (int64_t k = 0; k < l.inner; ++k) {
        const double d = static_cast<double>(row[k]) - shift;
        acc += d * d;
      }
    }
  }
  return acc;
}

// y = x * scale + shift per channel, then the optional ReLU. The ReLU and plain loops are separate
// bodies and the ReLU is a select at T's width: GCC kept `relu && v < 0.0 ? 0.0 : v` scalar in some
// instantiations (-fopt-info-vec: control flow in loop).
template <class T>
void affine(const T* px, T* py, const Layout& l, int64_t ch, double scale, double shift, bool relu) {
  for (int64_t i = 0; i < l.n; ++i) {
    const T* x = px + (i * l.c + ch) * l.inner;
    T* y = py + (i * l.c + ch) * l.inner;
    if (relu) {
#pragma omp simd
      for (int64_t k = 0; k < l.inner; ++k) {
        const T v = static_cast<T>(static_cast<double>(x[k]) * scale + shift);
        y[k] = v < T(0) ? T(0) : v;
      }
    } else {
#pragma omp simd
      for (int64_t k = 0; k < l.inner; ++k) y[k] = static_cast<T>(static_cast<double>(x[k]) * scale + shift);
    }
  }
}

}  // namespace

void batch_norm_train_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                              Tensor& running_var, const BatchNormParams& p, BatchNormTrainOut& out) {
  dispatch_float(x.dtype(), "batch_norm", [&](auto t) {
    using T = decltype(t);
    const Layout l = layout_of(x);
    const T* px = x.data<T>();
    const T* pg = gamma.data<T>();
    const T* pb = beta.data<T>();
    T* py = out.y.data<T>();
    T* psm = out.save_mean.data<T>();
    T* psi = out.save_invstd.data<T>();
    T* prm = running_mean.defined() ? running_mean.data<T>() : nullptr;
    T* prv = running_var.defined() ? running_var.data<T>() : nullptr;
    const double m = static_cast<double>(l.count());
#pragma omp parallel for if (x.numel() > 32768)
    for (int64_t ch = 0; ch < l.c; ++ch) {
      // Two passes: the mean first, then the squared deviations from it (no cancellation).
      const double mean = channel_sum(px, l, ch, 0.0, 1) / m;
      const double sq = channel_sum(px, l, ch, mean, 2);
      const double var = sq / m;  // biased: what the batch is normalised with
      const double invstd = 1.0 / std::sqrt(var + p.eps);
      psm[ch] = static_cast<T>(mean);
      psi[ch] = static_cast<T>(invstd);
      // The running variance estimates the population variance, hence the unbiased estimator.
      if (prm) prm[ch] = static_cast<T>((1.0 - p.momentum) * static_cast<double>(prm[ch]) + p.momentum * mean);
      if (prv) {
        const double unbiased = sq / (m - 1.0);
        prv[ch] = static_cast<T>((1.0 - p.momentum) * static_cast<double>(prv[ch]) + p.momentum * unbiased);
      }
      const double scale = static_cast<double>(pg[ch]) * invstd;
      affine(px, py, l, ch, scale, static_cast<double>(pb[ch]) - mean * scale, p.relu);
    }
  });
}

void batch_norm_eval_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                             const Tensor& running_var, const BatchNormParams& p, Tensor& y) {
  dispatch_float(x.dtype(), "batch_norm (eval)", [&](auto t) {
    using T = decltype(t);
    const Layout l = layout_of(x);
    const T* px = x.data<T>();
    const T* pg = gamma.data<T>();
    const T* pb = beta.data<T>();
    const T* prm = running_mean.data<T>();
    const T* prv = running_var.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for if (x.numel() > 32768)
    for (int64_t ch = 0; ch < l.c; ++ch) {
      const double invstd = 1.0 / std::sqrt(static_cast<double>(prv[ch]) + p.eps);
      const double scale = static_cast<double>(pg[ch]) * invstd;
      affine(px, py, l, ch, scale, static_cast<double>(pb[ch]) - static_cast<double>(prm[ch]) * scale, p.relu);
    }
  });
}

namespace {

// One row of the backward's sums: g = dy (masked by y > 0 under the fused ReLU), sum_g += g,
// sum_gx += g * xhat. The masked and unmasked loops are separate, branch-free bodies so that the
// compiler vectorizes them (perf showed the masked loop scalar while the mask was a select).
template <class T>
void row_sums(const T* dy, const T* x, const T* y, int64_t len, double mu, double is, double& sum_g, double& sum_gx) {
  double sg = 0.0, sgx = 0.0;
  if (y) {
#pragma omp simd reduction(+ : sg, sgx)
    for (int64_t k = 0; k < len; ++k) {
      // The select at T's width, then widened: GCC keeps a select between doubles on a float
      // comparison as control flow (scalar).
      const T masked = y[k] > T(0) ? dy[k] : T(0);
      const double g = static_cast<double>(masked);
      sg += g;
      sgx += g * (static_cast<double>(x[k]) - mu) * is;
    }
  } else {
#pragma omp simd reduction(+ : sg, sgx)
    for (int64_t k = 0; k < len; ++k) {
      const double g = static_cast<double>(dy[k]);
      sg += g;
      sgx += g * (static_cast<double>(x[k]) - mu) * is;
    }
  }
  sum_g += sg;
  sum_gx += sgx;
}

// One row of dx = scale * (g - mean_g - xhat * mean_gx).
template <class T>
void row_dx(const T* dy, const T* x, const T* y, int64_t len, double mu, double is, double scale, double mean_g,
            double mean_gx, T* dx) {
  if (y) {
#pragma omp simd
    for (int64_t k = 0; k < len; ++k) {
      // The select at T's width, then widened: GCC keeps a select between doubles on a float
      // comparison as control flow (scalar).
      const T masked = y[k] > T(0) ? dy[k] : T(0);
      const double g = static_cast<double>(masked);
      const double xhat = (static_cast<double>(x[k]) - mu) * is;
      dx[k] = static_cast<T>(scale * (g - mean_g - xhat * mean_gx));
    }
  } else {
#pragma omp simd
    for (int64_t k = 0; k < len; ++k) {
      const double xhat = (static_cast<double>(x[k]) - mu) * is;
      dx[k] = static_cast<T>(scale * (static_cast<double>(dy[k]) - mean_g - xhat * mean_gx));
    }
  }
}

}  // namespace

// With g the gradient reaching the affine output (dy, masked by y > 0 under the fused ReLU) and
// xhat = (x - mean) * invstd:
//   dbeta = sum g,  dgamma = sum g * xhat,
//   eval:  dx = gamma * invstd * g                       (mean and invstd are constants)
//   train: dx = gamma * invstd * (g - dbeta / M - xhat * dgamma / M)
// where the two extra terms are the paths through the batch mean and variance (M values per channel).
void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Tensor& gamma, const Tensor& mean,
                         const Tensor& invstd, bool train, const BatchNormParams& p, BatchNormGrads& g) {
  dispatch_float(x.dtype(), "batch_norm_backward", [&](auto t) {
    using T = decltype(t);
    const Layout l = layout_of(x);
    const T* pdy = dy.data<T>();
    const T* px = x.data<T>();
    const T* py = p.relu ? y.data<T>() : nullptr;
    const T* pg = gamma.data<T>();
    const T* pm = mean.data<T>();
    const T* pi = invstd.data<T>();
    T* pdx = g.dx.data<T>();
    T* pdg = g.dgamma.data<T>();
    T* pdb = g.dbeta.data<T>();
    const double m = static_cast<double>(l.count());
#pragma omp parallel for if (x.numel() > 32768)
    for (int64_t ch = 0; ch < l.c; ++ch) {
      const double mu = static_cast<double>(pm[ch]), is = static_cast<double>(pi[ch]);
      double sum_g = 0.0, sum_gx = 0.0;
      for (int64_t i = 0; i < l.n; ++i) {
        const int64_t base = (i * l.c + ch) * l.inner;
        row_sums(pdy + base, px + base, py ? py + base : nullptr, l.inner, mu, is, sum_g, sum_gx);
      }
      pdb[ch] = static_cast<T>(sum_g);
      pdg[ch] = static_cast<T>(sum_gx);
      const double scale = static_cast<double>(pg[ch]) * is;
      const double mean_g = train ? sum_g / m : 0.0, mean_gx = train ? sum_gx / m : 0.0;
      for (int64_t i = 0; i < l.n; ++i) {
        const int64_t base = (i * l.c + ch) * l.inner;
        row_dx(pdy + base, px + base, py ? py + base : nullptr, l.inner, mu, is, scale, mean_g, mean_gx, pdx + base);
      }
    }
  });
}

}  // namespace wb::kernels::cpu
