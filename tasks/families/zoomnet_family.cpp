#include "tasks/families/zoomnet_family.h"

#include <cstdio>

#include "nn/flops.h"
#include "pose/keypoints.h"
#include "pose/models/zoomnet.h"
#include "tasks/topdown_predictor.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace {

pose::ZoomNet& as_zoomnet(nn::Module& model) {
  auto* z = dynamic_cast<pose::ZoomNet*>(&model);
  check(z != nullptr, "ZoomNet: expected a ZoomNet, got a ", model.type_name());
  return *z;
}

class ZoomNetFamily : public PoseFamily {
 public:
  std::string name() const override { return "ZoomNet"; }

  std::shared_ptr<nn::Module> build(const nlohmann::json& config, const std::string& where) const override {
    return pose::build_zoomnet(config, where);
  }

  // The crops are BodyNet's input (its config checks the sizes the heads need); the labels are the
  // COCO-WholeBody keypoints.
  ModelFacts facts(const nlohmann::json& config, const std::string& where) const override {
    return {pose::zoomnet_config_from_json(config, where).body.input_size, pose::coco_wholebody().size()};
  }

  void init_weights(nn::Module& model, Generator& gen) const override { as_zoomnet(model).init_weights(gen); }

  // ZoomNet decodes its body heatmaps with the MSRA geometry (pose/models/zoomnet_pipeline.h), so its
  // crops must be cut with it.
  void check_codec(const pose::HeatmapCodec& codec, const nlohmann::json&, const std::string& where) const override {
    check(codec.encoding == pose::HeatmapEncoding::Msra, where,
          ": ZoomNet needs the \"msra\" encoding (its crops and body decoding use the MSRA geometry)");
  }

  FamilyLoss loss(nn::Module& model, const data::Batch& batch, const Tensor& images) const override {
    const pose::ZoomLoss l = pose::zoomnet_loss(as_zoomnet(model), zoom_batch(batch, images));
    return {l.total, {{"body", l.body.item()}, {"face", l.face.item()}, {"hand", l.hand.item()}}};
  }
  std::vector<std::string> shown_loss_parts() const override { return {"body", "face", "hand"}; }

  // The whole pipeline (body, RoIs, heads, its own flip test), straight to image pixels.
  std::vector<std::vector<pose::DecodedKeypoint>> predict_crops(nn::Module& model, const Tensor& crops,
                                                                const std::vector<pose::Affine>& image_to_input,
                                                                const PredictOptions& o) const override {
    check(o.keypoints->size() == pose::coco_wholebody().size() && o.codec.encoding == pose::HeatmapEncoding::Msra,
          "predict: ZoomNet predicts the 133 COCO-WholeBody keypoints on MSRA crops; the options ask for ",
          o.keypoints->size(), " keypoints (", o.keypoints->name, ")");
    return pose::zoomnet_predict(as_zoomnet(model), crops, image_to_input, o.flip_test, o.codec.decoding);
  }

  // The paper's breakdown (spec/zoomnas.md Table 10), counted on one person crop, so the HandHead
  // runs twice (left and right hand).
  std::string describe(nn::Module& model, const std::string& config_name, std::array<int64_t, 2> hw,
                       int depth) const override {
    const nn::FlopsReport r = nn::count_flops(model, {1, 3, hw[0], hw[1]});
    const auto g = [](int64_t macs) { return static_cast<double>(macs) / (1024.0 * 1024.0 * 1024.0); };
    const nn::ModuleCost &body = r.at("body"), &face = r.at("face_head"), &hand = r.at("hand_head");
    char text[1024];
    std::snprintf(text, sizeof text,
                  "%s (ZoomNet) at %lldx%lld:\n"
                  "  %-12s %8.2fM parameters %7.2f GFLOPs\n"
                  "  %-12s %8.2fM parameters %7.2f GFLOPs\n"
                  "  %-12s %8.2fM parameters %7.2f GFLOPs per hand, x2 = %.2f\n"
                  "  %-12s %8.2fM parameters %7.2f GFLOPs (multiply-adds / 1024^3)\n\n",
                  config_name.c_str(), static_cast<long long>(hw[0]), static_cast<long long>(hw[1]), "BodyNet",
                  body.params / 1e6, g(body.macs), "FaceHead", face.params / 1e6, g(face.macs), "HandHead",
                  hand.params / 1e6, g(hand.macs) / 2, g(hand.macs), "total", r.params() / 1e6, r.gflops());
    return text + r.table(depth);
  }
  bool counts_at_any_size() const override { return false; }
};

}  // namespace

const PoseFamily& zoomnet_family() {
  static const ZoomNetFamily family;
  return family;
}

pose::ZoomBatch zoom_batch(const data::Batch& batch, const Tensor& images) {
  pose::ZoomBatch zb;
  zb.images = images;
  for (const data::SampleMeta& m : batch.meta) {
    zb.keypoints.push_back(m.input_keypoints);
    zb.visible.push_back(m.visible);
  }
  return zb;
}

}  // namespace wb::tasks
