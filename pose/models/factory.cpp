#include "pose/models/factory.h"

#include "pose/models/hrnet.h"
#include "pose/models/simple_baseline.h"
#include "tensor/atomic_file.h"
#include "tensor/error.h"

namespace wb::pose {

std::string model_type(const nlohmann::json& config, const std::string& where) {
  check(config.is_object(), where, ": a model config must be a JSON object, got ", config.type_name());
  const auto type = config.find("type");
  check(type != config.end() && type->is_string(), where, ": field \"type\" must name the model (\"hrnet\", ",
        "\"simplebaseline\" or \"zoomnet\")");
  return type->get<std::string>();
}

std::shared_ptr<TopDownModel> build_model(const nlohmann::json& config, const std::string& where) {
  const std::string name = model_type(config, where);
  if (name == "hrnet") {
    const HRNetConfig c = hrnet_config_from_json(config, where);
    HeatmapHeadOptions h;
    h.in_channels = c.out_channels();
    h.num_keypoints = c.num_keypoints;
    if (c.v2()) h.conv_channels = {c.out_channels()};
    return std::make_shared<TopDownModel>(std::make_shared<HRNet>(c), std::make_shared<HeatmapHead>(h),
                                          c.num_keypoints, c.input_size, BackboneInit::Normal001);
  }
  if (name == "simplebaseline") {
    const SimpleBaselineConfig c = simple_baseline_config_from_json(config, where);
    auto backbone = std::make_shared<ResNet>(c.depth, c.stem_channels, c.base_channels);
    HeatmapHeadOptions h;
    h.in_channels = backbone->out_channels();
    h.num_keypoints = c.num_keypoints;
    h.deconv_channels = c.deconv_channels;
    h.deconv_kernels = c.deconv_kernels;
    return std::make_shared<TopDownModel>(backbone, std::make_shared<HeatmapHead>(h), c.num_keypoints,
                                          c.input_size, BackboneInit::KaimingNormal);
  }
  if (name == "zoomnet") {
    fail(where, ": a \"zoomnet\" config is not a single top-down model (build_zoomnet builds it); this use "
         "needs one");
  }
  fail(where, ": field \"type\": unknown model \"", name, "\" (expected \"hrnet\" or \"simplebaseline\")");
}

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e999
    fail(path, ": malformed JSON: ", e.what());
  }
}

std::shared_ptr<TopDownModel> build_model_from_file(const std::string& path) {
  return build_model(read_json_file(path), path);
}

}  // namespace wb::pose
