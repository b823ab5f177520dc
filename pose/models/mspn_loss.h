// MSPN's multi-stage, multi-scale loss, exactly MMPose 1.3.2's MSPNHead.loss with the loss list of
// its shipped configs (td-hm_{,2x,3x,4x}mspn50_8xb32-210e_coco-256x192.py): output i (stage-major,
// each stage coarse to fine) is compared with target level level_indices[i] and that level's
// keypoint weights, by
//   KeypointMSELoss(use_target_weight, loss_weight 0.25)       on every unit but a stage's finest:
//       0.25 * mean over (n, k, h, w) of w_nk (pred - target)^2            (ops::heatmap_mse_loss)
//   KeypointOHKMMSELoss(use_target_weight, topk 8, loss_weight 1) on each stage's finest unit:
//       mean over n of the mean of the top-k over k of mean over (h, w) of (w_nk (pred - target))^2
//                                                                           (ops::ohkm_mse_loss)
// and the total ("loss_kpt") is their sum. The targets are the Megvii heatmaps of
// pose/heatmap_codec.h, one level per kernel size (HeatmapCodec::kernel_sizes, coarse to fine).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "pose/models/mspn.h"

namespace wb::pose {

struct MSPNLossOptions {
  int64_t num_units = 4;               // outputs per stage; the last of each stage gets OHKM
  std::vector<int64_t> level_indices;  // target level of each output (num_stages * num_units)
  double mse_weight = 0.25;
  double ohkm_weight = 1.0;
  int64_t topk = 8;
};

// MMPose's settings for `c`: with one stage levels [0, ..., U-1] of kernels [11, 9, 7, 5]; with
// S > 1 stages levels [0, ..., U-1] * (S-1) + [1, ..., U] of kernels [15, 11, 9, 7, 5] (the
// last stage one level finer). For U != 4 (no MMPose config) the same rule keeps the finest
// U (one stage) or U + 1 (several) kernels of those lists; U > 4 is an error.
MSPNLossOptions mspn_loss_options(const MSPNConfig& c);
// The Megvii kernel sizes (HeatmapCodec::kernel_sizes) those levels index.
std::vector<int> mspn_kernel_sizes(const MSPNConfig& c);

struct MSPNLoss {
  Tensor total;  // 0-d, differentiable
  // For logging: "stage1" ... "stageS", each the sum of that stage's weighted terms.
  std::vector<std::pair<std::string, double>> parts;
};

// outputs: MSPN::forward_all's num_stages * num_units heatmaps [N, K, h, w]; targets [N, L, K, h, w]
// (L levels); weights [N, K] (the same for every level, as the data pipeline gives them) or
// [N, L, K] (MMPose's per-level keypoint_weights). Errors name the mismatched shapes.
MSPNLoss mspn_loss(const std::vector<Tensor>& outputs, const Tensor& targets, const Tensor& weights,
                   const MSPNLossOptions& o);

}  // namespace wb::pose
