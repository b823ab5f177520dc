// CPU reference for the optimizer steps. The operations follow torch.optim's single-tensor
// implementations in the same order, so f64 results agree with PyTorch to rounding.
#include "kernels/optim.h"

#include <cmath>

#include "kernels/common.h"

namespace wb::kernels::cpu {

void sgd_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& momentum_bufs,
              const SgdParams& p) {
  const bool uses_momentum = p.momentum != 0.0;
  for (size_t i = 0; i < params.size(); ++i) {
    if (!grads[i].defined()) continue;
    dispatch_float(params[i].dtype(), "sgd_step", [&](auto t) {
      using T = decltype(t);
      T* w = params[i].data<T>();
      const T* grad = grads[i].data<T>();
      T* buf = uses_momentum ? momentum_bufs[i].data<T>() : nullptr;
      const T lr = static_cast<T>(p.lr), wd = static_cast<T>(p.weight_decay), mu = static_cast<T>(p.momentum);
      const T damp = static_cast<T>(1.0 - p.dampening);
      const int64_t n = params[i].numel();
#pragma omp parallel for if (n > 32768)
      for (int64_t j = 0; j < n; ++j) {
        T g = grad[j];
        // PyTorch adds the decay term only when it is non-zero, which matters for inf weights.
        if (p.weight_decay != 0.0) g += wd * w[j];
        if (uses_momentum) {
          const T b = p.first_step ? g : mu * buf[j] + damp * g;
          buf[j] = b;
          g = p.nesterov ? g + mu * b : b;
        }
        w[j] -= lr * g;
      }
    });
  }
}

void adam_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avg,
               std::vector<Tensor>& exp_avg_sq, const AdamParams& p) {
  const double t = static_cast<double>(p.step);
  const double bias_correction1 = 1.0 - std::pow(p.beta1, t);
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(p.beta2, t));
  for (size_t i = 0; i < params.size(); ++i) {
    if (!grads[i].defined()) continue;
    dispatch_float(params[i].dtype(), "adam_step", [&](auto tag) {
      using T = decltype(tag);
      T* w = params[i].data<T>();
      const T* grad = grads[i].data<T>();
      T* m = exp_avg[i].data<T>();
      T* v = exp_avg_sq[i].data<T>();
      const T b1 = static_cast<T>(p.beta1), b2 = static_cast<T>(p.beta2);
      const T one_minus_b1 = static_cast<T>(1.0 - p.beta1), one_minus_b2 = static_cast<T>(1.0 - p.beta2);
      const T wd = static_cast<T>(p.weight_decay), eps = static_cast<T>(p.eps);
      const T decay_factor = static_cast<T>(1.0 - p.lr * p.weight_decay);
      const T step_size = static_cast<T>(p.lr / bias_correction1);
      const T bc2_sqrt = static_cast<T>(bias_correction2_sqrt);
      const int64_t n = params[i].numel();
#pragma omp parallel for if (n > 32768)
      for (int64_t j = 0; j < n; ++j) {
        T g = grad[j];
        if (p.decoupled) {
          w[j] *= decay_factor;
        } else if (p.weight_decay != 0.0) {
          g += wd * w[j];
        }
        m[j] = b1 * m[j] + one_minus_b1 * g;
        v[j] = b2 * v[j] + one_minus_b2 * g * g;
        const T denom = std::sqrt(v[j]) / bc2_sqrt + eps;
        w[j] -= step_size * (m[j] / denom);
      }
    });
  }
}

}  // namespace wb::kernels::cpu
