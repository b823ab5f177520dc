// Optimizer steps over all parameters in one call (fused multi-tensor on CUDA), PyTorch semantics:
//  SGD: g = grad + wd * p; buf = momentum * buf + (1 - dampening) * g (buf = g on the first step);
//       g = nesterov ? g + momentum * buf : buf; p -= lr * g.
//  Adam: g = grad + wd * p (AdamW instead: p *= 1 - lr * wd); m = b1 m + (1-b1) g;
//        v = b2 v + (1-b2) g^2; p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace wb::kernels {

struct SgdParams {
  double lr = 0.01, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
  bool first_step = false;  // momentum buffers are initialised with g on the first step
};
struct AdamParams {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled = false;  // AdamW
  int64_t step = 1;        // t, counted from 1, for bias correction
};

// Parameters with an undefined grad are skipped. momentum_bufs may be empty when momentum is 0.
void sgd_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& momentum_bufs,
              const SgdParams& p);
void adam_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avg,
               std::vector<Tensor>& exp_avg_sq, const AdamParams& p);

namespace cpu {
void sgd_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& momentum_bufs,
              const SgdParams& p);
void adam_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avg,
               std::vector<Tensor>& exp_avg_sq, const AdamParams& p);
}  // namespace cpu
namespace cuda {
void sgd_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& momentum_bufs,
              const SgdParams& p);
void adam_step(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avg,
               std::vector<Tensor>& exp_avg_sq, const AdamParams& p);
}  // namespace cuda

}  // namespace wb::kernels
