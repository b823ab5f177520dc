// The CUDA convolution family's internal entry points. kernels/cuda/conv.cu (the CUDA dispatcher
// behind kernels::cuda::conv2d_* and conv_transpose2d_*) chooses among them; each works on
// contiguous f32 NCHW tensors with preallocated outputs, on the engine stream.
//
// Transposed convolution is expressed through the same three primitives with roles swapped:
//   conv_transpose2d forward     == conv2d backward-data  (dy := x, dx := y)
//   conv_transpose2d backward-dx == conv2d forward        (x := dy_t, y := dx_t)
//   conv_transpose2d backward-dw == conv2d backward-weight with x and dy swapped
#pragma once
#include "kernels/conv.h"

namespace wb::kernels::cuda::detail {

// Tensor-core implicit GEMM (TF32 inputs, f32 accumulation) for dense and grouped convolutions
// with enough channels per group to fill a tile. Each overwrites its output; the forward adds
// the bias in its epilogue.
void implicit_gemm_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
void implicit_gemm_backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& p, Tensor& dx);
void implicit_gemm_backward_weight(const Tensor& dy, const Tensor& x, const Conv2dParams& p, Tensor& dw);

// Direct kernels for depthwise (groups == in == out/multiplier) and small-channel grouped convs.
void grouped_direct_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
void grouped_direct_backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& p, Tensor& dx);
void grouped_direct_backward_weight(const Tensor& dy, const Tensor& x, const Conv2dParams& p, Tensor& dw);

// cuDNN, the comparison path (never chosen silently).
void cudnn_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
void cudnn_backward_data(const Tensor& dy, const Tensor& w, const Conv2dParams& p, Tensor& dx);
void cudnn_backward_weight(const Tensor& dy, const Tensor& x, const Conv2dParams& p, Tensor& dw);

// Bias gradient: db[c] = sum over n, h, w of dy.
void bias_backward(const Tensor& dy, Tensor& db);

}  // namespace wb::kernels::cuda::detail
