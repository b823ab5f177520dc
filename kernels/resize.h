// Bilinear resize and nearest upsampling, NCHW, matching torch.nn.functional.interpolate.
// Source coordinate of output pixel o: align_corners ? o * (in-1)/(out-1) : (o + 0.5) * r - 0.5
// (clamped at 0), with r = 1/scale when a scale factor is given, else in/out. Nearest: floor(o * r).
#pragma once
#include "tensor/tensor.h"

namespace wb::kernels {

struct ResizeParams {
  int64_t out_h = 0, out_w = 0;
  bool align_corners = false;
  // When > 0 the ratio is 1/scale, as interpolate(scale_factor=s) without recompute_scale_factor.
  double scale_h = 0.0, scale_w = 0.0;
};

Tensor resize_bilinear_forward(const Tensor& x, const ResizeParams& p);
Tensor resize_bilinear_backward(const Tensor& dy, const Shape& x_shape, const ResizeParams& p);
Tensor upsample_nearest_forward(const Tensor& x, const ResizeParams& p);  // align_corners ignored
Tensor upsample_nearest_backward(const Tensor& dy, const Shape& x_shape, const ResizeParams& p);

namespace cpu {
void resize_bilinear_forward(const Tensor& x, const ResizeParams& p, Tensor& y);
void resize_bilinear_backward(const Tensor& dy, const ResizeParams& p, Tensor& dx);
void upsample_nearest_forward(const Tensor& x, const ResizeParams& p, Tensor& y);
void upsample_nearest_backward(const Tensor& dy, const ResizeParams& p, Tensor& dx);
}  // namespace cpu
namespace cuda {
void resize_bilinear_forward(const Tensor& x, const ResizeParams& p, Tensor& y);
void resize_bilinear_backward(const Tensor& dy, const ResizeParams& p, Tensor& dx);
void upsample_nearest_forward(const Tensor& x, const ResizeParams& p, Tensor& y);
void upsample_nearest_backward(const Tensor& dy, const ResizeParams& p, Tensor& dx);
}  // namespace cuda

}  // namespace wb::kernels
