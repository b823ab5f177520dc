// MSPN (Li et al., "Rethinking on Multi-Stage Networks for Human Pose Estimation";
// spec/hrnet-mspn-vipnas-openpose.md §4) as MMPose 1.3.2 builds it: the MSPN backbone
// (mmpose/models/backbones/mspn.py) and MSPNHead (models/heads/heatmap_heads/mspn_head.py) under
// TopdownPoseEstimator's names, so MMPose's state_dict loads strictly:
//   backbone.top.top.0.{conv,bn}                  ResNet stem: 7x7 s2 conv + BN + ReLU, 3x3 s2 max pool
//   backbone.multi_stage_mspn.<s>.downsample.layer<u+1>.<b>.{conv1..3,bn1..3,downsample.{conv,bn}}
//                                                 down unit u: Bottlenecks of planes C * 2^u (C =
//                                                 res_top_channels), stride 2 for u > 0; from the second
//                                                 stage on, the previous stage's skip1[u] + skip2[u]
//                                                 are added to its output
//   backbone.multi_stage_mspn.<s>.upsample.up<u+1>.{in_skip,up_conv,out_skip1,out_skip2,cross_conv}
//                                                 up unit u (coarse to fine): in_skip (1x1 + BN) of
//                                                 the down feature, plus (u > 0) up_conv (1x1 + BN) of
//                                                 the previous up unit's output resized bilinearly
//                                                 (align_corners true) to this scale, then ReLU;
//                                                 every stage but the last adds out_skip1 (1x1 + BN +
//                                                 ReLU of the down feature) and out_skip2 (of the up
//                                                 output), and its finest unit cross_conv (1x1 to C
//                                                 + BN + ReLU): the next stage's input
//   head.predict_layers.<s * U + u>.conv_layers.{0,1}
//                                                 1x1 conv + BN + ReLU, 3x3 conv + BN, then a
//                                                 bilinear resize (align_corners true) to out_shape
// MMPose's restriction: its ResNetTop and cross_conv are always 64 channels wide whatever
// res_top_channels says, so MMPose builds a working network only with res_top_channels = 64. Ours
// gives the stem and cross_conv C channels, the same network at 64 and a consistent one elsewhere.
// MSPNHead's optional PRM (use_prm, an RSN addition that no MSPN config enables) is not built.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pose/models/blocks.h"
#include "tensor/generator.h"

namespace wb::pose {

// MMPose's MSPN(...) and MSPNHead(...) arguments, under their names. The loss settings
// (level_indices, the loss list) stay with the loss: pose/models/mspn_loss.h.
struct MSPNConfig {
  int64_t num_keypoints = 17;                   // MSPNHead out_channels
  std::array<int64_t, 2> input_size{256, 192};  // H, W: the size FLOPs are counted at
  std::array<int64_t, 2> out_shape{64, 48};     // H, W of every heatmap; from JSON: input_size / 4 when absent
  int64_t num_stages = 4;
  int64_t num_units = 4;                         // down/up units per stage (scales 1/4 ... 1/2^(u+2))
  std::vector<int64_t> num_blocks{3, 4, 6, 3};  // Bottlenecks per down unit; one per unit
  int64_t unit_channels = 256;                   // width of the up path and the heads' 1x1 convs
  int64_t res_top_channels = 64;                 // C: stem width; down unit u outputs 4 C 2^u

  int64_t down_channels(int64_t unit) const { return 4 * res_top_channels * (int64_t{1} << unit); }
  int64_t num_outputs() const { return num_stages * num_units; }
  // Positive sizes, num_units >= 2 (MMPose asserts it), one block count per unit; errors name the field.
  void validate(const std::string& where) const;
};

// "type" must be "mspn" when present; every other field as named in MSPNConfig, unknown ones an
// error naming them. `where` names the source in errors.
MSPNConfig mspn_config_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json to_json(const MSPNConfig& c);

// One stage's down path (DownsampleModule): children layer1..layerU.
class MSPNDownsample : public nn::Module {
 public:
  MSPNDownsample(const MSPNConfig& c, bool has_skip);
  std::string type_name() const override { return "DownsampleModule"; }
  // Features of every unit, coarsest first (MMPose reverses them). skip1/skip2 (finest first, one
  // per unit) are added after each unit when has_skip; ignored otherwise.
  std::vector<Tensor> forward_units(const Tensor& x, const std::vector<Tensor>& skip1,
                                    const std::vector<Tensor>& skip2);

  std::vector<std::shared_ptr<nn::Sequential>> layers;

 private:
  bool has_skip_;
};

// UpsampleUnit `ind` of a stage.
class MSPNUpsampleUnit : public nn::Module {
 public:
  MSPNUpsampleUnit(int64_t ind, const MSPNConfig& c, int64_t in_channels, bool gen_skip, bool gen_cross_conv);
  std::string type_name() const override { return "UpsampleUnit"; }

  std::shared_ptr<nn::ConvModule> in_skip, up_conv, out_skip1, out_skip2, cross_conv;  // null when absent
};

// One stage's up path (UpsampleModule): children up1..upU, coarse to fine.
class MSPNUpsample : public nn::Module {
 public:
  MSPNUpsample(const MSPNConfig& c, bool gen_skip, bool gen_cross_conv);
  std::string type_name() const override { return "UpsampleModule"; }

  struct Outputs {
    std::vector<Tensor> features;      // per unit, coarse to fine: [N, unit_channels, h_u, w_u]
    std::vector<Tensor> skip1, skip2;  // per unit, fine to coarse (empty without gen_skip)
    Tensor cross;                      // the next stage's input (undefined without gen_cross_conv)
  };
  // `down`: the down path's features, coarsest first.
  Outputs forward_units(const std::vector<Tensor>& down);

  std::vector<std::shared_ptr<MSPNUpsampleUnit>> units;
};

// SingleStageNetwork: children downsample, upsample.
class MSPNStage : public nn::Module {
 public:
  MSPNStage(const MSPNConfig& c, bool has_skip, bool gen_skip_and_cross);
  std::string type_name() const override { return "SingleStageNetwork"; }

  std::shared_ptr<MSPNDownsample> downsample;
  std::shared_ptr<MSPNUpsample> upsample;
};

// ResNetTop: child "top", a Sequential of the 7x7 s2 ConvModule and the 3x3 s2 max pool.
class MSPNTop : public nn::Module {
 public:
  explicit MSPNTop(int64_t channels);
  std::string type_name() const override { return "ResNetTop"; }
  Tensor forward(const Tensor& x) override { return (*top)(x); }

  std::shared_ptr<nn::Sequential> top;
};

// MMPose's MSPN backbone: children top, multi_stage_mspn.
class MSPNBackbone : public nn::Module {
 public:
  explicit MSPNBackbone(const MSPNConfig& c);
  std::string type_name() const override { return "MSPN"; }
  // Per stage, the up path's features, coarse to fine (what MSPN.forward returns).
  std::vector<std::vector<Tensor>> forward_stages(const Tensor& x);

  std::shared_ptr<MSPNTop> top;
  std::shared_ptr<ModuleList> multi_stage_mspn;  // of MSPNStage
  std::vector<std::shared_ptr<MSPNStage>> stages;
};

// PredictHeatmap without PRM: conv_layers, then the resize to out_shape.
class MSPNPredictHeatmap : public nn::Module {
 public:
  explicit MSPNPredictHeatmap(const MSPNConfig& c);
  std::string type_name() const override { return "PredictHeatmap"; }
  Tensor forward(const Tensor& x) override;  // [N, unit_channels, h, w] -> [N, K, out_h, out_w]

  std::shared_ptr<nn::Sequential> conv_layers;

 private:
  std::array<int64_t, 2> out_shape_;
};

// MSPNHead: predict_layers, one per (stage, unit), stage-major.
class MSPNHead : public nn::Module {
 public:
  explicit MSPNHead(const MSPNConfig& c);
  std::string type_name() const override { return "MSPNHead"; }
  std::vector<Tensor> forward_all(const std::vector<std::vector<Tensor>>& feats);

  std::shared_ptr<ModuleList> predict_layers;

 private:
  MSPNConfig cfg_;
};

// The whole top-down model: children backbone, head.
class MSPN : public nn::Module {
 public:
  explicit MSPN(const MSPNConfig& c);
  std::string type_name() const override { return "TopdownMSPN"; }
  // Every stage x unit's heatmaps in MSPNHead.forward's order: stage-major, each stage coarse to
  // fine; num_outputs() tensors [N, K, out_h, out_w].
  std::vector<Tensor> forward_all(const Tensor& x);
  // The prediction: the last stage's finest output, forward_all(x).back() (MSPNHead.predict uses
  // forward(...)[-1]), without running the other heads.
  Tensor forward(const Tensor& x) override;
  std::array<int64_t, 2> input_size() const { return cfg_.input_size; }
  int64_t num_keypoints() const { return cfg_.num_keypoints; }
  const MSPNConfig& config() const { return cfg_; }
  // MMPose's initialisation from scratch (MSPN's and MSPNHead's init_cfg, mmcv's ConvModule
  // init): every conv kaiming normal (fan_out, ReLU gain) with zero bias, every BN weight 1 and
  // bias 0. (MMPose's configs start the down path from torchvision's ImageNet ResNet-50 instead.)
  void init_weights(Generator& gen);

  std::shared_ptr<MSPNBackbone> backbone;
  std::shared_ptr<MSPNHead> head;

 private:
  MSPNConfig cfg_;
};

}  // namespace wb::pose
