#include "pose/models/vipnas.h"

#include "pose/models/vipnas_mbv3.h"
#include "pose/models/vipnas_resnet.h"
#include "tensor/error.h"

namespace wb::pose {

namespace {

std::shared_ptr<HeatmapHead> vipnas_head(const ViPNASHeadConfig& h, int64_t in_channels, int64_t num_keypoints) {
  HeatmapHeadOptions o;
  o.in_channels = in_channels;
  o.num_keypoints = num_keypoints;
  o.deconv_channels = h.deconv_channels;
  o.deconv_kernels = h.deconv_kernels;
  o.deconv_groups = h.deconv_groups;
  return std::make_shared<HeatmapHead>(o);
}

}  // namespace

std::shared_ptr<TopDownModel> build_vipnas_model(const ViPNASResNetConfig& c) {
  auto backbone = std::make_shared<ViPNASResNet>(c);
  return std::make_shared<TopDownModel>(backbone, vipnas_head(c.head, backbone->out_channels(), c.num_keypoints),
                                        c.num_keypoints, c.input_size, BackboneInit::ViPNAS);
}

std::shared_ptr<TopDownModel> build_vipnas_model(const ViPNASMobileNetV3Config& c) {
  auto backbone = std::make_shared<ViPNASMobileNetV3>(c);
  return std::make_shared<TopDownModel>(backbone, vipnas_head(c.head, backbone->out_channels(), c.num_keypoints),
                                        c.num_keypoints, c.input_size, BackboneInit::ViPNAS);
}

std::shared_ptr<TopDownModel> build_vipnas_model(const nlohmann::json& config, const std::string& where) {
  check(config.is_object(), where, ": a model config must be a JSON object, got ", config.type_name());
  const auto type = config.find("type");
  check(type != config.end() && type->is_string(), where,
        ": field \"type\" must name the model (\"vipnas_resnet\" or \"vipnas_mbv3\")");
  if (*type == "vipnas_resnet") return build_vipnas_model(vipnas_resnet_config_from_json(config, where));
  if (*type == "vipnas_mbv3") return build_vipnas_model(vipnas_mbv3_config_from_json(config, where));
  fail(where, ": field \"type\": \"", type->get<std::string>(), "\" is not a ViPNAS model (expected \"vipnas_resnet\" ",
       "or \"vipnas_mbv3\")");
}

}  // namespace wb::pose
