// The multi-stage family (MSPN, spec/hrnet-mspn-vipnas-openpose.md §4): every stage and unit
// supervised with Megvii targets of its own kernel size, OHKM on each stage's finest output
// (pose/models/mspn_loss.h); prediction from the last stage's finest heatmaps, decoded as MMPose's
// MegviiHeatmap does (blurred with the finest kernel, quarter offset, score / 255 + 0.5), flip test
// without MSRA's one-pixel shift (MMPose's MSPN configs: shift_heatmap=False).
#include "tasks/families/mspn_family.h"

#include "pose/models/mspn.h"
#include "pose/models/mspn_loss.h"
#include "tasks/model_spec.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace {

pose::MSPN& as_mspn(nn::Module& model) {
  auto* m = dynamic_cast<pose::MSPN*>(&model);
  check(m != nullptr, "MSPN: expected an MSPN model, got a ", model.type_name());
  return *m;
}

class MSPNFamily : public PoseFamily {
 public:
  std::string name() const override { return "MSPN"; }

  std::shared_ptr<nn::Module> build(const nlohmann::json& config, const std::string& where) const override {
    return std::make_shared<pose::MSPN>(pose::mspn_config_from_json(config, where));
  }

  ModelFacts facts(const nlohmann::json& config, const std::string& where) const override {
    const pose::MSPNConfig c = pose::mspn_config_from_json(config, where);
    return {c.input_size, c.num_keypoints};
  }

  void init_weights(nn::Module& model, Generator& gen) const override { as_mspn(model).init_weights(gen); }

  // MMPose's MSPN codecs: one MegviiHeatmap per kernel size at the head's out_shape, decoded by the
  // last (finest) one, whose kernel also blurs before decoding.
  pose::HeatmapCodec default_codec(const nlohmann::json& config, const std::string& where) const override {
    const pose::MSPNConfig c = pose::mspn_config_from_json(config, where);
    pose::HeatmapCodec codec;
    codec.encoding = pose::HeatmapEncoding::Megvii;
    codec.input_h = checked_side(c.input_size[0], where, "input_size");
    codec.input_w = checked_side(c.input_size[1], where, "input_size");
    codec.heatmap_h = checked_side(c.out_shape[0], where, "out_shape");
    codec.heatmap_w = checked_side(c.out_shape[1], where, "out_shape");
    codec.kernel_sizes = pose::mspn_kernel_sizes(c);
    codec.blur_kernel = codec.kernel_sizes.back();
    return codec;
  }

  void check_codec(const pose::HeatmapCodec& codec, const nlohmann::json& config,
                   const std::string& where) const override {
    const pose::MSPNConfig c = pose::mspn_config_from_json(config, where);
    const std::vector<int> levels = pose::mspn_kernel_sizes(c);
    check(codec.encoding == pose::HeatmapEncoding::Megvii && codec.kernel_sizes.size() == levels.size(), where,
          ": MSPN supervises each output with its own Megvii target level: the codec must be \"megvii\" with ",
          levels.size(), " kernel_sizes (MMPose's are the default)");
    check(codec.heatmap_h == c.out_shape[0] && codec.heatmap_w == c.out_shape[1], where, ": heatmap_size ",
          codec.heatmap_h, "x", codec.heatmap_w, " is not the model's out_shape ", c.out_shape[0], "x",
          c.out_shape[1]);
  }

  FamilyLoss loss(nn::Module& model, const data::Batch& batch, const Tensor& images) const override {
    pose::MSPN& m = as_mspn(model);
    const Device d = images.device();
    pose::MSPNLoss l = pose::mspn_loss(m.forward_all(images), batch.heatmaps.to(d), batch.weights.to(d),
                                       pose::mspn_loss_options(m.config()));
    return {l.total, std::move(l.parts)};
  }
};

}  // namespace

const PoseFamily& mspn_family() {
  static const MSPNFamily family;
  return family;
}

}  // namespace wb::tasks
