// 2-D convolution and transposed convolution, NCHW, with stride, padding, dilation and groups.
// Weights: conv [out, in/groups, kh, kw]; transposed conv [in, out/groups, kh, kw] (PyTorch).
#pragma once
#include <array>

#include "tensor/tensor.h"

namespace wb::kernels {

// Which CUDA convolution path runs. Native: our kernels. Cudnn: cuDNN, as a comparison path.
// Autotune: both are timed once per shape and the winner is remembered. Default: the process-wide
// setting of set_conv_algo(). The CPU ignores it. Never a silent fallback: an unsupported choice
// is an error.
enum class ConvAlgo { Default, Native, Cudnn, Autotune };
void set_conv_algo(ConvAlgo a);
ConvAlgo conv_algo();

struct Conv2dParams {
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 2> padding{0, 0};
  std::array<int64_t, 2> dilation{1, 1};
  std::array<int64_t, 2> output_padding{0, 0};  // transposed conv only
  int64_t groups = 1;
  ConvAlgo algo = ConvAlgo::Default;
  // conv2d_forward only: a ReLU on the output (after the bias), fused into the store where the
  // backend can. Not differentiable: ops::conv2d refuses it when a gradient would be recorded.
  bool relu = false;
};

struct ConvGrads { Tensor dx, dw, db; };  // each undefined unless asked for

// What conv2d_forward_fused applies to each output while storing it, for inference (a conv, an
// eval-mode BatchNorm, a residual add and a ReLU in one pass over the output instead of four):
// y = conv(x, w) * scale[o] + bias[o] + residual, then the ReLU of Conv2dParams::relu. Each tensor is
// optional (undefined: the step is skipped); scale and bias are [O], residual has the output's shape.
struct ConvEpilogue {
  Tensor scale, bias, residual;
};

// bias may be undefined.
Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
Tensor conv2d_forward_fused(const Tensor& x, const Tensor& w, const ConvEpilogue& e, const Conv2dParams& p);
ConvGrads conv2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Conv2dParams& p,
                          bool need_dx, bool need_dw, bool need_db);
Tensor conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p);
ConvGrads conv_transpose2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Conv2dParams& p,
                                    bool need_dx, bool need_dw, bool need_db);

// Output spatial sizes (checked: an empty output is an error naming the shapes).
std::array<int64_t, 2> conv2d_output_hw(const Shape& x, const Shape& w, const Conv2dParams& p);
std::array<int64_t, 2> conv_transpose2d_output_hw(const Shape& x, const Shape& w, const Conv2dParams& p);

// Backends get contiguous x, w (and dy); outputs are preallocated with the right shapes.
namespace cpu {
void conv2d_forward(const Tensor& x, const Tensor& w, const ConvEpilogue& e, const Conv2dParams& p, Tensor& y);
void conv2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Conv2dParams& p, ConvGrads& g);
void conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
void conv_transpose2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Conv2dParams& p, ConvGrads& g);
}  // namespace cpu
namespace cuda {
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
void conv2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Conv2dParams& p, ConvGrads& g);
void conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, Tensor& y);
void conv_transpose2d_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Conv2dParams& p, ConvGrads& g);
}  // namespace cuda

}  // namespace wb::kernels
