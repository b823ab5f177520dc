// SimpleBaseline (Xiao et al., ECCV'18): a ResNet backbone (torchvision structure, MMPose's
// names: conv1, bn1, layer1..4 with downsample) and a head of three 4x4 stride-2 deconvolutions
// (256 channels, BN, ReLU) and a final 1x1 conv to K heatmaps at stride 4. Also the base of
// ViPNAS-ResNet.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pose/models/blocks.h"

namespace wb::pose {

struct SimpleBaselineConfig {
  int64_t num_keypoints = 17;
  std::array<int64_t, 2> input_size{256, 192};  // H, W
  int64_t depth = 50;                           // 18, 34 (BasicBlock), 50, 101, 152 (Bottleneck)
  int64_t stem_channels = 64;
  int64_t base_channels = 64;  // planes of layer1; layer i has base * 2^(i-1)
  std::vector<int64_t> deconv_channels{256, 256, 256};
  std::vector<int64_t> deconv_kernels{4, 4, 4};

  void validate(const std::string& where) const;  // errors name the field
};

SimpleBaselineConfig simple_baseline_config_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json to_json(const SimpleBaselineConfig& c);

// MMPose's ResNet (style "pytorch", no deep stem): 7x7 s2 conv, BN, ReLU, 3x3 s2 max pool, four
// stages; forward returns the last stage's output (stride 32).
class ResNet : public nn::Module {
 public:
  ResNet(int64_t depth, int64_t stem_channels, int64_t base_channels);
  std::string type_name() const override { return "ResNet"; }
  Tensor forward(const Tensor& x) override;
  int64_t out_channels() const { return out_channels_; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::MaxPool2d> maxpool;
  std::array<std::shared_ptr<nn::Sequential>, 4> layers;  // layer1..4

 private:
  int64_t out_channels_ = 0;
};

}  // namespace wb::pose
