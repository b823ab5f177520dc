// The supernet: a plain HRNet top-down model (pose::TopDownModel over pose::HRNet) built from the
// largest config of a space, run as any smaller config of the same structure by slicing its
// weights (spec/zoomnas.md §2.1's elastic rules; docs/nas.md):
// - channels: every conv and BN uses the leading output channels of its shared weights, and the
//   leading input channels (HRNetV2's concatenated representation: the leading channels of each
//   branch's segment);
// - groups: a conv with G groups takes the block-diagonal of the (sliced) dense kernel: output
//   channel o of group g = o / (O/G) reads input channels g*I/G .. (g+1)*I/G - 1 through the
//   dense weight's columns of the same indices, so G = 1 is the dense kernel itself and a grouped
//   sub-network equals the dense conv with the off-diagonal blocks zeroed;
// - depth: the first stage1_blocks Bottlenecks, the first num_modules HRModules of each stage and
//   the first num_blocks BasicBlocks of each branch (trailing ones skipped);
// - resolution: the caller feeds an input of the active config's size.
// The plain model code is untouched: elastic execution is a walker over the model's public
// modules (nas/elastic_walker.h), and a sub-network exported from it loads in the plain model code (export_subnet).
#pragma once
#include <memory>

#include "pose/models/heatmap_head.h"
#include "pose/models/hrnet.h"
#include "tensor/tensor.h"

namespace wb::nas {

class ElasticHRNet {
 public:
  // `model` must be a TopDownModel over an HRNet with a HeatmapHead (pose/models/factory.h's "hrnet").
  explicit ElasticHRNet(std::shared_ptr<pose::TopDownModel> model);

  // Heatmaps of the sub-network `active` on x (whose size the caller chose). In training mode
  // (the model's flag) BN normalises with batch statistics and leaves the running statistics
  // alone (they belong to no sub-network: recalibrate after export); in eval mode it reads the
  // leading slice of the running statistics. Gradients reach only the active slices. Errors name
  // the field when `active` does not fit inside the supernet (check_fits).
  Tensor forward(const Tensor& x, const pose::HRNetConfig& active);

  // Throws when `active` is not a sub-network of the supernet: a wider or deeper value, another
  // head kind or keypoint count, a group count not dividing its width, or a module the supernet lacks.
  void check_fits(const pose::HRNetConfig& active) const;

  // A standalone plain model of `active` with the weights the supernet uses for it (copies):
  // its forward equals forward(x, active) in eval mode.
  std::shared_ptr<pose::TopDownModel> export_subnet(const pose::HRNetConfig& active);

  pose::TopDownModel& model() { return *model_; }
  const pose::HRNetConfig& largest() const { return net_->config(); }

 private:
  std::shared_ptr<pose::TopDownModel> model_;
  pose::HRNet* net_;
};

}  // namespace wb::nas
