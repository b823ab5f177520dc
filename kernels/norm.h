// Batch normalisation over (N, H, W) per channel of NCHW input, PyTorch semantics: training uses
// the biased batch variance to normalise and updates running_var with the unbiased one;
// running = (1 - momentum) * running + momentum * batch. `relu` fuses a ReLU after the affine
// step (the backward then needs the output y to mask the gradient).
#pragma once
#include "tensor/tensor.h"

namespace wb::kernels {

struct BatchNormParams {
  double momentum = 0.1;
  double eps = 1e-5;
  bool relu = false;
};

struct BatchNormTrainOut { Tensor y, save_mean, save_invstd; };  // save_*: [C], the batch statistics
// gamma/beta [C]; running_mean/var [C] are updated in place (either may be undefined: not tracked).
BatchNormTrainOut batch_norm_train_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                           Tensor& running_mean, Tensor& running_var, const BatchNormParams& p);
Tensor batch_norm_eval_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                               const Tensor& running_var, const BatchNormParams& p);

struct BatchNormGrads { Tensor dx, dgamma, dbeta; };
// y is the forward output, used only when p.relu.
BatchNormGrads batch_norm_train_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Tensor& gamma,
                                         const Tensor& save_mean, const Tensor& save_invstd, const BatchNormParams& p);
BatchNormGrads batch_norm_eval_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Tensor& gamma,
                                        const Tensor& running_mean, const Tensor& running_var,
                                        const BatchNormParams& p);

namespace cpu {
void batch_norm_train_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                              Tensor& running_var, const BatchNormParams& p, BatchNormTrainOut& out);
void batch_norm_eval_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                             const Tensor& running_var, const BatchNormParams& p, Tensor& y);
// mean/invstd are the batch statistics (train) or the running ones turned into invstd (eval);
// `train` says whether the statistics depend on x (adds the mean/variance terms to dx).
void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Tensor& gamma, const Tensor& mean,
                         const Tensor& invstd, bool train, const BatchNormParams& p, BatchNormGrads& g);
}  // namespace cpu
namespace cuda {
void batch_norm_train_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                              Tensor& running_var, const BatchNormParams& p, BatchNormTrainOut& out);
void batch_norm_eval_forward(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& running_mean,
                             const Tensor& running_var, const BatchNormParams& p, Tensor& y);
void batch_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& y, const Tensor& gamma, const Tensor& mean,
                         const Tensor& invstd, bool train, const BatchNormParams& p, BatchNormGrads& g);
}  // namespace cuda

}  // namespace wb::kernels
