// The top-down model: backbone + head, as MMPose's TopdownPoseEstimator names them, and MMPose
// 1.x's HeatmapHead: optional deconv layers (4x4 s2 ConvTranspose2d + BN + ReLU each; the
// SimpleBaseline head), optional 1x1 conv layers (conv + BN + ReLU; the HRNetV2 head), then
// final_layer, a 1x1 conv with bias to K heatmaps. Names: head.deconv_layers.{0,1,3,4,...},
// head.conv_layers.{0,1,...}, head.final_layer. MMPose's ViPNASHead is this head with grouped
// deconvolutions (deconv_groups), under the same names.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"
#include "tensor/generator.h"

namespace wb::pose {

struct HeatmapHeadOptions {
  int64_t in_channels = 0;
  int64_t num_keypoints = 17;
  std::vector<int64_t> deconv_channels;  // empty: no deconv layers
  std::vector<int64_t> deconv_kernels;   // one per deconv layer: 4, 3 or 2 (MMPose's padding rule)
  std::vector<int64_t> deconv_groups;    // one per deconv layer (ViPNASHead), or empty: all 1
  std::vector<int64_t> conv_channels;    // 1x1 conv layers after the deconvs
};

class HeatmapHead : public nn::Module {
 public:
  explicit HeatmapHead(const HeatmapHeadOptions& o);
  std::string type_name() const override { return "HeatmapHead"; }
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Sequential> deconv_layers;  // null when there are none
  std::shared_ptr<nn::Sequential> conv_layers;    // null when there are none
  std::shared_ptr<nn::Conv2d> final_layer;
};

// How a backbone's convs start: mmcv's kaiming_init (normal, fan_out, ReLU; MMPose's ResNet),
// N(0, 0.001^2) (the official HRNet and MMPose's HRNet), or MMPose's ViPNAS backbones: their
// init_cfg draws every Conv2d from N(0, 0.001^2) (the GC blocks' convs too, overriding mmcv's
// last-zero init; LayerNorm keeps 1 and 0), then mmengine runs init_weights() of the backbone's
// direct children that have one, which re-initialises a direct child mmcv ConvModule with
// kaiming_init: the stem "conv1" of ViPNAS_MobileNetV3 (ViPNAS_ResNet's stem is a plain conv).
enum class BackboneInit { KaimingNormal, Normal001, ViPNAS };

// Every conv, deconv and BN under `root` initialised as TopDownModel::init_weights does for a
// backbone of that kind (heads use Normal001).
void init_module_weights(nn::Module& root, Generator& gen, BackboneInit init);

// A backbone producing one feature map, and a head turning it into K heatmaps at stride 4.
class TopDownModel : public nn::Module {
 public:
  TopDownModel(std::shared_ptr<nn::Module> backbone, std::shared_ptr<HeatmapHead> head, int64_t num_keypoints,
               std::array<int64_t, 2> input_size, BackboneInit init);
  std::string type_name() const override { return "TopDownModel"; }
  Tensor forward(const Tensor& x) override;  // [N, 3, H, W] -> [N, K, H/4, W/4]
  int64_t num_keypoints() const { return num_keypoints_; }
  std::array<int64_t, 2> input_size() const { return input_size_; }  // H, W of the config

  // MMPose's initialisation: backbone convs per BackboneInit, head convs and deconvs N(0, 0.001^2),
  // every conv bias 0, every BN weight 1 and bias 0.
  void init_weights(Generator& gen);

  std::shared_ptr<nn::Module> backbone;
  std::shared_ptr<HeatmapHead> head;

 private:
  int64_t num_keypoints_;
  std::array<int64_t, 2> input_size_;
  BackboneInit init_;
};

}  // namespace wb::pose
