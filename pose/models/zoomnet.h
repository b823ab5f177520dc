// ZoomNet (spec/zoomnas.md §0-1, docs/zoomnet.md): one network for whole-body pose.
//   body       BodyNet, an HRNet (W32 at 384x288 in the paper) with 38 heatmaps: 17 body, 6 foot and
//              15 box keypoints (pose/zoom_targets.h gives the channel order).
//   connection the face, left-hand and right-hand boxes are decoded from the box channels (minimal
//              rectangle of the 5 points), squared and expanded into RoIs (pose/zoom_geometry.h), and
//              RoIAlign crops the highest-resolution output of a chosen BodyNet feature stage to the
//              head's input size (ZoomNet: stage 0, expansion 1.0, 64x64).
//   face_head  FaceHead: a 1x1 conv + BN + ReLU adapting the tapped features to the head's width
//              (stem_channels), then an HRNetV2 without stem (68 heatmaps at the head's input size).
//   hand_head  HandHead, the same kind with 21 heatmaps, run on both hands (no mirroring).
// body is a TopDownModel (backbone + head) and each head a ZoomHead (adapter + backbone + head), so
// the state_dict names are MMPose's with a prefix: body.backbone.stage2.0..., face_head.adapter.0.weight,
// face_head.backbone.layer1.0.conv1.weight, face_head.head.final_layer.weight, ...
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pose/heatmap_codec.h"
#include "pose/models/heatmap_head.h"
#include "pose/models/hrnet.h"
#include "pose/zoom_geometry.h"
#include "pose/zoom_targets.h"

namespace wb::pose {

// One head and its connection to BodyNet. net.input_size is the RoIAlign output (square), and
// net.stem_channels the width the adapter maps the tapped BodyNet features to.
struct ZoomHeadConfig {
  HRNetConfig net;
  int64_t feature_stage = 0;   // 0-4 (Table 2's numbering: 0 the stem)
  double roi_expansion = 1.0;  // 1.0-1.3 in the paper's search space
};

// Defaults: the paper's ZoomNet (configs/zoomnet_w32_384x288.json spells them out).
struct ZoomNetConfig {
  HRNetConfig body;
  ZoomHeadConfig face_head, hand_head;
  double sigma = 3.0;          // Gaussian sigma of every target, in heatmap pixels
  double min_roi_side = 8.0;   // BodyNet input pixels; RoIs never shrink below this (nor below the stride)

  ZoomNetConfig();
  // Consistency between the parts; errors name the field ("face_head.input_size", ...).
  void validate(const std::string& where) const;
};

// Fields "body", "face_head", "hand_head" (objects: the HRNet fields, plus "feature_stage" and
// "roi_expansion" for the heads), "sigma", "min_roi_side"; "type" must be "zoomnet".
ZoomNetConfig zoomnet_config_from_json(const nlohmann::json& j, const std::string& where);
// Every field and "type": "zoomnet": what zoomnet_config_from_json reads back to an equal config
// (NAS writes its sampled architectures with it).
nlohmann::json to_json(const ZoomNetConfig& c);

// The three RoIs of one person, BodyNet input pixels.
struct ZoomRois {
  std::array<RoiBox, kZoomParts> roi;  // face, left hand, right hand
  RoiBox& operator[](ZoomPart p) { return roi[static_cast<int>(p)]; }
  const RoiBox& operator[](ZoomPart p) const { return roi[static_cast<int>(p)]; }
};

// A FaceHead or HandHead: RoI features [R, in_channels, S, S] -> heatmaps [R, K, S, S].
class ZoomHead : public nn::Module {
 public:
  ZoomHead(int64_t in_channels, const HRNetConfig& net);
  std::string type_name() const override { return "ZoomHead"; }
  Tensor forward(const Tensor& roi_features) override;

  std::shared_ptr<nn::Sequential> adapter;  // 1x1 conv, BN, ReLU
  std::shared_ptr<HRNet> backbone;
  std::shared_ptr<HeatmapHead> head;
};

struct ZoomOutputs {
  Tensor body;   // [N, 38, H/4, W/4]
  Tensor face;   // [N, 68, S, S]
  Tensor hands;  // [2N, 21, S, S]: person n's left hand at 2n, its right hand at 2n + 1
  std::vector<ZoomRois> rois;  // the RoIs the heads read, one per person
};

// The steps of ZoomNet's pipeline that depend only on the config (ZoomNet's members below call
// them; nas/elastic_zoomnet.h runs sub-networks of a supernet with them).
HeatmapCodec zoom_body_codec(const ZoomNetConfig& c);     // Msra, the body input and heatmap sizes, sigma
int zoom_head_size(const ZoomNetConfig& c, ZoomPart part);  // the RoI output = head heatmap side
// Boxes (minimal rectangles of the decoded box keypoints) and the RoIs made from them.
std::vector<std::array<RoiBox, kZoomParts>> decode_zoom_boxes(const ZoomNetConfig& c, const Tensor& body_heatmaps);
ZoomRois zoom_rois_from_boxes(const ZoomNetConfig& c, const std::array<RoiBox, kZoomParts>& boxes);
std::vector<ZoomRois> decode_zoom_rois(const ZoomNetConfig& c, const Tensor& body_heatmaps);
// RoIAlign of `parts` of every person (person by person, parts in order) from the tapped feature
// map at `stride` (the BodyNet stride) to out x out: [N * parts.size(), C, out, out].
Tensor crop_zoom_rois(const Tensor& features, const std::vector<ZoomRois>& rois, const std::vector<ZoomPart>& parts,
                      int out, double stride);

class ZoomNet : public nn::Module {
 public:
  explicit ZoomNet(const ZoomNetConfig& cfg);
  std::string type_name() const override { return "ZoomNet"; }

  // The whole pipeline on person crops [N, 3, H, W]. The RoIs are decoded from the body heatmaps
  // (data: no gradient reaches the box channels through them) unless `rois` gives them (N entries).
  // Gradients from the heads reach BodyNet through RoIAlign's features.
  ZoomOutputs run(const Tensor& images, const std::vector<ZoomRois>* rois = nullptr);
  // run(images).body: the whole pipeline runs, so count_flops() sees all three modules.
  Tensor forward(const Tensor& images) override;

  // The free functions above for this model's config.
  std::vector<std::array<RoiBox, kZoomParts>> decode_boxes(const Tensor& body_heatmaps) const;
  std::vector<ZoomRois> decode_rois(const Tensor& body_heatmaps) const;
  ZoomRois rois_from_boxes(const std::array<RoiBox, kZoomParts>& boxes) const;

  const ZoomNetConfig& config() const { return cfg_; }
  HeatmapCodec body_codec() const;                  // Msra, the body input and heatmap sizes, sigma
  int head_size(ZoomPart part) const;               // the RoI output = head heatmap side
  RoiFrame frame(const ZoomRois& r, ZoomPart part) const { return {r[part], head_size(part)}; }
  double body_stride() const { return static_cast<double>(cfg_.body.stride()); }

  // MMPose's HRNet initialisation for all three (pose/models/heatmap_head.h).
  void init_weights(Generator& gen);

  std::shared_ptr<TopDownModel> body;
  std::shared_ptr<ZoomHead> face_head, hand_head;

 private:
  ZoomNetConfig cfg_;
  HRNet* body_net_ = nullptr;
};

std::shared_ptr<ZoomNet> build_zoomnet(const nlohmann::json& config, const std::string& where);
std::shared_ptr<ZoomNet> build_zoomnet_from_file(const std::string& path);

}  // namespace wb::pose
