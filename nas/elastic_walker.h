// The elastic walker: one forward of a sub-network through the modules of a larger plain HRNet
// (and its heatmap head) by slicing their weights, by the rules nas/elastic.h states. ElasticHRNet
// runs a whole top-down model with it, ElasticZoomNet BodyNet, the adapters and the heads' networks.
// With `record` set, every weight the sub-network uses is stored under its state_dict name (what
// an export loads into the plain model of the sub-network).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nn/layers.h"
#include "pose/models/heatmap_head.h"
#include "pose/models/hrnet.h"
#include "tensor/safetensors.h"

namespace wb::nas {

// Module -> the state_dict name its weights are recorded under.
using ModuleNames = std::map<const nn::Module*, std::string>;

// Throws when `active` is not a sub-network of the supernet `super`: a wider or deeper value,
// another stem, head kind or keypoint count, an invalid config (a group count not dividing its
// width, ...). Messages name the field, `prefix` first ("body." in a ZoomNet; "" alone).
void check_sub_hrnet(const pose::HRNetConfig& active, const pose::HRNetConfig& super, const std::string& prefix);

class ElasticWalker {
 public:
  // `active` is the sub-network's config (checked by the caller). training: BN normalises with
  // batch statistics and leaves the running ones alone; otherwise it reads their leading slice.
  // `names` must cover every module walked when `record` is set.
  ElasticWalker(const pose::HRNetConfig& active, bool training, const ModuleNames* names = nullptr,
                TensorMap* record = nullptr);

  // `c` on x with `cout` leading output channels and `groups` groups (block-diagonal rule). With
  // `in_segments`, the input channels are the leading ones of each segment (offset, length) of
  // the full input instead of the leading x.size(1).
  Tensor conv(const nn::Conv2d& c, const Tensor& x, int64_t cout, int64_t groups = 1,
              const std::vector<std::pair<int64_t, int64_t>>* in_segments = nullptr);
  // BN on the leading x.size(1) channels, then ReLU when `relu`.
  Tensor bn(nn::BatchNorm2d& b, const Tensor& x, bool relu);
  // conv -> BN -> (ReLU) as a Sequential (transitions, fuse layers, ZoomNet's adapters), to `cout` channels.
  Tensor conv_bn(nn::Module& seq, const Tensor& x, int64_t cout);

  // The representation of the active network (n's structure sliced), with its feature taps as
  // pose::HRNet::forward_branches gives them (highest-resolution output of stages 0-4).
  Tensor net(pose::HRNet& n, const Tensor& x, pose::HRNet::FeatureTaps* taps = nullptr);
  // The heatmaps of the active head on the representation of net(n, ...).
  Tensor head(pose::HeatmapHead& h, const Tensor& rep, const pose::HRNet& n);

 private:
  void keep(const nn::Module& m, const char* field, const Tensor& t);
  std::string name_of(const nn::Module& m) const;
  Tensor shortcut(nn::Module* ds, const Tensor& x, int64_t cout, int64_t stride_in);  // ds: a conv + BN Sequential or null
  Tensor bottleneck(pose::Bottleneck& b, const Tensor& x, int64_t planes, int64_t groups);
  Tensor basic(pose::BasicBlock& b, const Tensor& x, int64_t planes, int64_t groups);
  std::vector<Tensor> module(pose::HRModule& m, const std::vector<Tensor>& xs, int64_t blocks, bool multiscale,
                             const std::vector<int64_t>& widths, const std::vector<int64_t>& groups);

  const pose::HRNetConfig& active_;
  bool training_;
  const ModuleNames* names_;
  TensorMap* record_;
};

}  // namespace wb::nas
