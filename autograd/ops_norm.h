// Differentiable batch normalisation (kernels/norm.h has the semantics).
#pragma once
#include "kernels/norm.h"
#include "tensor/communicator.h"
#include "tensor/tensor.h"

namespace wb::ops {

// x [N, C, ...], gamma/beta [C]. training: normalise with the batch statistics and, when the
// running statistics are defined, update them in place; the update is a raw write into the buffers
// and never enters the graph. Eval: normalise with running_mean/running_var (both required), whose
// values are constants for the backward. p.relu fuses a ReLU after the affine step.
Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                  bool training, const kernels::BatchNormParams& p = {});

// Training-mode batch norm whose statistics are those of the whole data-parallel batch (SyncBN): the
// per-channel sums of every rank's x are all-reduced over `comm` (two passes: the mean, then the
// squared deviations from it), and in the backward the sums of the gradient and of gradient * xhat.
// dgamma and dbeta stay this rank's own sums: the data-parallel reducer averages them with the other
// parameters' gradients. With N ranks each holding B/N samples, the gradients so averaged equal
// those of batch_norm on the B samples in one process (up to summation order). Every rank must call
// it in the same order. Built from existing kernels (sums, broadcast arithmetic, the eval-mode BN
// with the batch statistics), so it runs on the CPU and CUDA alike.
Tensor sync_batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                       Tensor& running_var, const kernels::BatchNormParams& p, dist::Communicator& comm);

}  // namespace wb::ops
