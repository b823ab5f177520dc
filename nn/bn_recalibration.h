// Batch-norm recalibration: a sub-network exported from a supernet carries running statistics that
// belong to no sub-network (docs/nas.md: the supernet trains on batch statistics only), so before it
// is evaluated its BN layers re-estimate them on a few training batches (OFA, BigNAS).
#pragma once
#include <cstdint>
#include <functional>

#include "nn/module.h"

namespace wb::nn {

// Re-estimates every BatchNorm2d's running statistics in `model` (a plain model) as the plain average
// over `batches` forward passes of model(images_for(i)), i = 0..batches-1, in training mode with no
// graph; restores the model's mode afterwards. Weights and biases are untouched.
//
// Each pass contributes its batch statistics with equal weight, as the kernels define them: the batch
// mean, and the unbiased batch variance that running_var always tracks (nn/layers.h, PyTorch's
// convention), whatever the batch sizes. The average is taken in f64 over the passes that reach the
// layer (one a pass skips keeps its statistics if no pass reaches it); a layer run twice in one pass
// is an error naming it. num_batches_tracked and each
// layer's momentum are left as they were. On an error (images_for throws, a pass fails) the running
// statistics are restored too, so the model is as it was.
void recalibrate_batchnorm(Module& model, int64_t batches, const std::function<Tensor(int64_t)>& images_for);

}  // namespace wb::nn
