#include "tasks/family.h"

#include <cstdio>

#include "nn/flops.h"
#include "pose/models/factory.h"
#include "tasks/model_spec.h"
#include "tasks/topdown_predictor.h"
#include "tasks/training_data.h"
#include "tensor/error.h"

namespace wb::tasks {

pose::HeatmapCodec PoseFamily::default_codec(const nlohmann::json& config, const std::string& where) const {
  return tasks::default_codec(facts(config, where).input_size, where);
}

void PoseFamily::check_codec(const pose::HeatmapCodec& codec, const nlohmann::json&, const std::string& where) const {
  check(codec.encoding != pose::HeatmapEncoding::Megvii, where, ": the \"megvii\" encoding renders one target per ",
        "MSPN output; a ", name(), " model trains on one (\"msra\" or \"udp\")");
}

std::unique_ptr<data::SampleSource> PoseFamily::training_data(const TrainConfig& config) const {
  return topdown_training_data(config, config.facts.num_keypoints);
}

std::vector<std::vector<pose::DecodedKeypoint>> PoseFamily::predict_crops(nn::Module& model, const Tensor& crops,
                                                                          const std::vector<pose::Affine>& image_to_input,
                                                                          const PredictOptions& options) const {
  return heatmap_predict_crops(model, crops, image_to_input, options);
}

std::string PoseFamily::describe(nn::Module& model, const std::string& config_name, std::array<int64_t, 2> hw,
                                 int depth) const {
  const nn::FlopsReport r = nn::count_flops(model, {1, 3, hw[0], hw[1]});
  char head[512];
  std::snprintf(head, sizeof head, "%s (%s) at %lldx%lld: %.2fM parameters, %.2f GFLOPs (multiply-adds / 1024^3)\n\n",
                config_name.c_str(), name().c_str(), static_cast<long long>(hw[0]), static_cast<long long>(hw[1]),
                r.params() / 1e6, r.gflops());
  return head + r.table(depth);
}

FamilyModel build_family_model(const nlohmann::json& config, const std::string& where) {
  FamilyModel m;
  m.family = &family_of(config, where);
  m.facts = m.family->facts(config, where);
  m.model = m.family->build(config, where);
  return m;
}

}  // namespace wb::tasks
