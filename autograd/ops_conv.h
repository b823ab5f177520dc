// Differentiable convolution, transposed convolution and linear layers. Bias may be undefined;
// each backward computes only the gradients of inputs that require them.
#pragma once
#include "kernels/conv.h"
#include "tensor/tensor.h"

namespace wb::ops {

// x [N, C, H, W], w [O, C/groups, kh, kw], bias [O].
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const kernels::Conv2dParams& p);
// Inference only (an error if a gradient would be recorded): conv2d followed by its epilogue, a
// per-channel scale and bias, a residual and p.relu, in one pass (see kernels::ConvEpilogue).
Tensor conv2d_fused(const Tensor& x, const Tensor& w, const kernels::ConvEpilogue& e, const kernels::Conv2dParams& p);
// x [N, C, H, W], w [C, O/groups, kh, kw], bias [O] (PyTorch's layout and output size rule).
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, const kernels::Conv2dParams& p);
// x [N, in], w [out, in], bias [out]: y = x w^T + bias.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias);

}  // namespace wb::ops
