// MMPose's ViPNAS_ResNet (mmpose/models/backbones/vipnas_resnet.py, style "pytorch", no deep
// stem, no avg_down): conv1 (ks[0], s2), bn1, ReLU, 3x3 s2 max pool, layer1..4 of Bottlenecks
// (pose/models/blocks.h with the searched kernel, groups, expansion and GC attention). Names as
// MMPose's: backbone.conv1, backbone.bn1, backbone.layer1.0.conv2, backbone.layer1.0.attention.
// channel_add_conv.3, backbone.layer1.0.downsample.1, ...
#pragma once
#include <array>
#include <memory>
#include <string>

#include "pose/models/blocks.h"
#include "pose/models/vipnas_config.h"

namespace wb::pose {

class ViPNASResNet : public nn::Module {
 public:
  explicit ViPNASResNet(const ViPNASResNetConfig& c);  // c must be valid (ViPNASResNetConfig::validate)
  std::string type_name() const override { return "ViPNAS_ResNet"; }
  Tensor forward(const Tensor& x) override;  // [N, 3, H, W] -> the last stage's output
  int64_t out_channels() const { return out_channels_; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::MaxPool2d> maxpool;
  std::array<std::shared_ptr<nn::Sequential>, 4> layers;  // layer1..4

 private:
  int64_t out_channels_ = 0;
};

}  // namespace wb::pose
