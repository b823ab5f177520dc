// HRNet (Wang et al., TPAMI; spec/hrnet-mspn-vipnas-openpose.md §3) as the official code and
// MMPose 1.x build it: stem (two 3x3 s2 convs), layer1 of Bottlenecks, transitions, stages 2-4 of
// HRModules, each module = branches of BasicBlocks + fuse layers (j > i: 1x1 conv + BN + upsampling,
// nearest or bilinear per config; j < i: chain of 3x3 s2 convs; sum, ReLU). Branch widths C, 2C, 4C, 8C.
// Without the stem (stem = false: ZoomNet's FaceHead and HandHead, spec/zoomnas.md §2.1) the
// network starts at layer1 on a [N, stem_channels, H, W] feature map and keeps its resolution.
// Parameter names equal MMPose's (backbone.stage2.0.fuse_layers.0.1.0.weight, ...).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pose/models/blocks.h"

namespace wb::pose {

// The representation the head reads: "heatmap" (HRNetV1: the highest-resolution branch) or "v2"
// (HRNetV2: the last module keeps all four outputs, the lower ones are resized bilinearly
// (align_corners false) to the top resolution and concatenated: 15C channels).
struct HRNetConfig {
  int64_t num_keypoints = 17;
  std::array<int64_t, 2> input_size{256, 192};  // H, W: the size FLOPs are counted at
  int64_t width = 32;                           // C
  int64_t stem_channels = 64;
  int64_t stage1_blocks = 4;
  int64_t stage1_channels = 64;  // Bottleneck planes; layer1 outputs 4x this
  std::array<int64_t, 3> num_modules{1, 4, 3};
  std::array<int64_t, 3> num_blocks{4, 4, 4};  // BasicBlocks per branch in stages 2, 3, 4
  std::string head = "heatmap";                 // "heatmap" or "v2"
  // The fuse layers' upsampling: "nearest" (MMPose's default, the official code, every HRNetV1
  // config) or "bilinear" (align_corners false: what all of MMPose's HRNetV2 face and hand configs
  // set, so their checkpoints need it). Independent of the V2 head's own bilinear concat.
  std::string upsample = "nearest";
  bool stem = true;  // false: no conv1/conv2, the input is a stem_channels-wide feature map
  // NAS sub-networks (spec/zoomnas.md Table 2, docs/nas.md): one width per branch, shared by
  // stages 2-4 (empty: C * 2^b), and the groups of the 3x3 convs in the blocks (stage 1's
  // Bottlenecks; each branch's BasicBlocks). Transitions and fuse layers stay dense.
  std::vector<int64_t> branch_widths;
  int64_t stage1_groups = 1;
  std::array<int64_t, 4> branch_groups{1, 1, 1, 1};

  int64_t stride() const { return stem ? 4 : 1; }  // input pixels per output pixel

  int64_t branch_width(int b) const;  // branch b (0-3): branch_widths[b], or C * 2^b
  std::vector<int64_t> branch_channels(int stage) const;  // stage 2..4: branch_width(b) for b < stage
  int64_t out_channels() const;  // channels of the representation: branch 0's, or all four's for "v2"
  // Channels of feature stage 0-4's highest-resolution output (what HRNet::forward_branches taps).
  int64_t feature_channels(int stage) const;
  bool v2() const { return head == "v2"; }
  // Positive sizes, a known head and upsampling mode; errors name the field.
  void validate(const std::string& where) const;
};

// Fields as named above; "type" must be "hrnet" when present. `where` names the source in errors.
HRNetConfig hrnet_config_from_json(const nlohmann::json& j, const std::string& where);
nlohmann::json to_json(const HRNetConfig& c);

class HRModule : public nn::Module {
 public:
  // One branch per entry of `channels`; with multiscale_output false only the top output is fused.
  HRModule(const std::vector<int64_t>& channels, int64_t num_blocks, bool multiscale_output,
           const std::vector<int64_t>& groups = {},  // groups per branch (empty: dense)
           Upsample::Mode upsample = Upsample::Mode::Nearest);
  std::string type_name() const override { return "HRModule"; }
  std::vector<Tensor> forward_branches(const std::vector<Tensor>& xs);

  std::shared_ptr<ModuleList> branches;
  std::shared_ptr<ModuleList> fuse_layers;  // fuse_layers[i][j]: branch j -> resolution i; [i][i] absent

 private:
  std::vector<int64_t> channels_;
};

class HRNet : public nn::Module {
 public:
  explicit HRNet(const HRNetConfig& cfg);
  std::string type_name() const override { return "HRNet"; }
  // The outputs of the last module: the top branch only, or all four for "v2". With `taps` set,
  // (*taps)[s] receives the highest-resolution output of feature stage s on the way: 0 the stem,
  // 1 layer1, 2-4 stages 2-4 (spec/zoomnas.md Table 2's numbering; ZoomNet's connection).
  using FeatureTaps = std::array<Tensor, 5>;
  std::vector<Tensor> forward_branches(const Tensor& x, FeatureTaps* taps = nullptr);
  // The representation the head reads (see HRNetConfig), with the taps as above.
  Tensor forward_tapped(const Tensor& x, FeatureTaps* taps);
  // The representation the head reads (see HRNetConfig): [N, out_channels, H / stride, W / stride].
  Tensor forward(const Tensor& x) override { return forward_tapped(x, nullptr); }
  const HRNetConfig& config() const { return cfg_; }

  std::shared_ptr<nn::Conv2d> conv1, conv2;  // null without the stem
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Sequential> layer1;
  std::array<std::shared_ptr<ModuleList>, 3> transitions;  // transition1..3
  std::array<std::shared_ptr<nn::Sequential>, 3> stages;   // stage2..4 (of HRModules)

 private:
  HRNetConfig cfg_;
};

// HRNetV2's representation: every feature map resized bilinearly (align_corners false) to the
// first one's size and concatenated along channels (MMPose's FeatureMapProcessor(concat=True)).
Tensor concat_resized(const std::vector<Tensor>& feats);

}  // namespace wb::pose
