#include "tasks/families/heatmap_family.h"

#include "autograd/ops_pose.h"
#include "pose/models/factory.h"
#include "pose/models/hrnet.h"
#include "pose/models/simple_baseline.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace {

pose::TopDownModel& as_topdown(nn::Module& model, const std::string& family) {
  auto* m = dynamic_cast<pose::TopDownModel*>(&model);
  check(m != nullptr, family, ": expected a top-down heatmap model, got a ", model.type_name());
  return *m;
}

ModelFacts hrnet_facts(const nlohmann::json& config, const std::string& where) {
  const pose::HRNetConfig c = pose::hrnet_config_from_json(config, where);
  check(c.input_size[0] % 32 == 0 && c.input_size[1] % 32 == 0, where,
        ": field \"input_size\": HRNet trains on sizes divisible by 32 (its four branches halve the stride-4 ",
        "features three times), got ", c.input_size[0], "x", c.input_size[1]);
  return {c.input_size, c.num_keypoints};
}

ModelFacts simple_baseline_facts(const nlohmann::json& config, const std::string& where) {
  const pose::SimpleBaselineConfig c = pose::simple_baseline_config_from_json(config, where);
  return {c.input_size, c.num_keypoints};
}

}  // namespace

std::shared_ptr<nn::Module> HeatmapFamily::build(const nlohmann::json& config, const std::string& where) const {
  return build_(config, where);
}

ModelFacts HeatmapFamily::facts(const nlohmann::json& config, const std::string& where) const {
  return facts_(config, where);
}

void HeatmapFamily::init_weights(nn::Module& model, Generator& gen) const {
  as_topdown(model, name_).init_weights(gen);
}

FamilyLoss HeatmapFamily::loss(nn::Module& model, const data::Batch& batch, const Tensor& images) const {
  const Tensor pred = model(images);
  return {ops::heatmap_mse_loss(pred, batch.heatmaps.to(images.device()), batch.weights.to(images.device())), {}};
}

const PoseFamily& hrnet_family() {
  static const HeatmapFamily family("HRNet", &pose::build_model, &hrnet_facts);
  return family;
}

const PoseFamily& simple_baseline_family() {
  static const HeatmapFamily family("SimpleBaseline", &pose::build_model, &simple_baseline_facts);
  return family;
}

}  // namespace wb::tasks
