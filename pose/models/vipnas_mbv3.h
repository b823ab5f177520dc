// MMPose's ViPNAS_MobileNetV3 (mmpose/models/backbones/vipnas_mbv3.py) and its InvertedResidual
// (mmpose/models/backbones/utils/inverted_residual.py). Names as MMPose's: the stem
// backbone.conv1.{conv,bn}, then the blocks of all stages numbered on, backbone.layer1 ...
// backbone.layer<sum(dep)>, each with expand_conv (absent when expan is 1), depthwise_conv, se
// (where att) and linear_conv, all mmcv ConvModules (conv, bn, activate).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"
#include "pose/models/vipnas_config.h"

namespace wb::pose {

struct InvertedResidualOptions {
  int64_t in_channels = 0, out_channels = 0, mid_channels = 0;
  int64_t kernel = 3;
  int64_t groups = 1;  // of the kernel x kernel conv
  int64_t stride = 1;  // 1 or 2
  bool se = false;     // MMPose's SELayer on the mid channels: ratio 4, ReLU / HSigmoid(1, 2)
  bool expand = true;  // false: no expand conv, in_channels must equal mid_channels
  nn::Activation act = nn::Activation::ReLU;
};

// [expand_conv 1x1 + BN + act] -> depthwise_conv kxk (groups, stride) + BN + act -> [se] ->
// linear_conv 1x1 + BN, plus the input when the stride is 1 and the width is kept.
class InvertedResidual : public nn::Module {
 public:
  explicit InvertedResidual(const InvertedResidualOptions& o);
  std::string type_name() const override { return "InvertedResidual"; }
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::ConvModule> expand_conv;  // null without
  std::shared_ptr<nn::ConvModule> depthwise_conv;
  std::shared_ptr<nn::SELayer> se;  // null without
  std::shared_ptr<nn::ConvModule> linear_conv;

 private:
  bool residual_ = false;
};

class ViPNASMobileNetV3 : public nn::Module {
 public:
  explicit ViPNASMobileNetV3(const ViPNASMobileNetV3Config& c);  // c must be valid (validate())
  std::string type_name() const override { return "ViPNAS_MobileNetV3"; }
  Tensor forward(const Tensor& x) override;  // [N, 3, H, W] -> the last block's output
  int64_t out_channels() const { return out_channels_; }

  std::shared_ptr<nn::ConvModule> conv1;
  std::vector<std::shared_ptr<InvertedResidual>> layers;  // layer1, layer2, ...

 private:
  int64_t out_channels_ = 0;
};

}  // namespace wb::pose
