// One supernet training step by the sandwich rule (spec/zoomnas.md §2.2, following BigNAS): the
// largest, the smallest and `random_subnets` uniform sub-networks each run on the batch and
// backpropagate into the shared weights, then one optimizer step. The largest is supervised by
// the ground truth; the others by the ground truth plus in-place distillation from the largest's
// heatmaps (detached). nas/ reads no data: the caller hands a batch at the largest input size
// and this resizes it (docs/nas.md: why bilinear resizing of images, targets and teacher).
#pragma once
#include <vector>

#include "nas/elastic.h"
#include "nas/space.h"
#include "nn/optimizer.h"
#include "tensor/generator.h"

namespace wb::nas {

struct SandwichBatch {
  Tensor images;          // [N, 3, H, W] at the largest sub-network's input size
  Tensor targets;         // [N, K, H/4, W/4] ground-truth heatmaps for that size
  Tensor target_weights;  // [N, K] (undefined: all ones)
};

struct SandwichOptions {
  int random_subnets = 2;
  double distill_weight = 1.0;  // student loss = GT MSE + distill_weight * MSE to the teacher
};

struct SandwichStep {
  std::vector<pose::HRNetConfig> configs;  // largest, smallest, the random ones
  std::vector<double> losses;              // the loss of each, same order
};

// The model must be in training mode. Draws the random sub-networks from `gen`.
SandwichStep sandwich_step(ElasticHRNet& super, const HRNetSpace& space, const SandwichBatch& batch,
                           nn::Optimizer& optimizer, Generator& gen, const SandwichOptions& options = {});

}  // namespace wb::nas
