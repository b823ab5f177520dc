// RoIAlign, matching torchvision.ops.roi_align: rois [K, 5] = (batch index, x1, y1, x2, y2) in
// input coordinates, scaled by spatial_scale; aligned=true shifts by -0.5 px; sampling_ratio 0
// means ceil(roi_size / out_size) samples per bin. K may be 0 (empty output). Gradients flow into
// the features, not the boxes.
#pragma once
#include "tensor/tensor.h"

namespace wb::kernels {

struct RoIAlignParams {
  int64_t out_h = 7, out_w = 7;
  double spatial_scale = 1.0;
  int64_t sampling_ratio = 0;
  bool aligned = true;
};

Tensor roi_align_forward(const Tensor& x, const Tensor& rois, const RoIAlignParams& p);  // [K, C, oh, ow]
Tensor roi_align_backward(const Tensor& dy, const Tensor& rois, const Shape& x_shape, const RoIAlignParams& p);

namespace cpu {
void roi_align_forward(const Tensor& x, const Tensor& rois, const RoIAlignParams& p, Tensor& y);
void roi_align_backward(const Tensor& dy, const Tensor& rois, const RoIAlignParams& p, Tensor& dx);  // dx zeroed
}  // namespace cpu
namespace cuda {
void roi_align_forward(const Tensor& x, const Tensor& rois, const RoIAlignParams& p, Tensor& y);
void roi_align_backward(const Tensor& dy, const Tensor& rois, const RoIAlignParams& p, Tensor& dx);  // dx zeroed
}  // namespace cuda

}  // namespace wb::kernels
