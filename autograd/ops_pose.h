// Differentiable pose-specific ops: resizing, RoIAlign, heatmap losses and elastic weight
// slicing. Semantics are those of the kernels/ headers named below; each op records its
// backward next to its forward when an input requires grad.
#pragma once
#include <cstdint>

#include "kernels/elastic.h"
#include "kernels/resize.h"
#include "kernels/roi_align.h"
#include "tensor/tensor.h"

namespace wb::ops {

Tensor resize_bilinear(const Tensor& x, const kernels::ResizeParams& p);   // kernels/resize.h
Tensor upsample_nearest(const Tensor& x, const kernels::ResizeParams& p);  // align_corners ignored
// [N, C, h, w] by resize_bilinear with align_corners false; x itself when already that size.
Tensor resize_bilinear_to(const Tensor& x, int64_t h, int64_t w);

// Gradient into the features only: the boxes are data (kernels/roi_align.h).
Tensor roi_align(const Tensor& x, const Tensor& rois, const kernels::RoIAlignParams& p);

// kernels/loss.h. Gradients reach pred and target; the weight is data and gets none.
// An undefined weight means all ones. The result is 0-d.
Tensor heatmap_mse_loss(const Tensor& pred, const Tensor& target, const Tensor& weight = Tensor());
Tensor ohkm_mse_loss(const Tensor& pred, const Tensor& target, const Tensor& weight, int64_t topk);

// The active sub-kernel of a shared weight; its gradient lands in the full weight (kernels/elastic.h).
Tensor elastic_slice(const Tensor& w, const kernels::ElasticSliceParams& p);

}  // namespace wb::ops
