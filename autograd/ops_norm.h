// Differentiable batch normalisation (kernels/norm.h has the semantics).
#pragma once
#include "kernels/norm.h"
#include "tensor/tensor.h"

namespace wb::ops {

// x [N, C, ...], gamma/beta [C]. training: normalise with the batch statistics and, when the
// running statistics are defined, update them in place; the update is a raw write into the buffers
// and never enters the graph. Eval: normalise with running_mean/running_var (both required), whose
// values are constants for the backward. p.relu fuses a ReLU after the affine step.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                  bool training, const kernels::BatchNormParams& p = {});

}  // namespace wb::ops
