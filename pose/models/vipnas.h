// Building S-ViPNAS top-down models (pose/models/vipnas_config.h): ViPNAS_ResNet or
// ViPNAS_MobileNetV3 + ViPNASHead (HeatmapHead with grouped deconvolutions), initialised as
// MMPose's runner does (BackboneInit::ViPNAS; the head N(0, 0.001^2)) by init_weights().
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "pose/models/heatmap_head.h"
#include "pose/models/vipnas_config.h"

namespace wb::pose {

// c must be valid (validate()). The weights are zero until init_weights() or a load.
std::shared_ptr<TopDownModel> build_vipnas_model(const ViPNASResNetConfig& c);
std::shared_ptr<TopDownModel> build_vipnas_model(const ViPNASMobileNetV3Config& c);
// From a JSON config whose "type" is "vipnas_resnet" or "vipnas_mbv3"; `where` names the source
// in errors.
std::shared_ptr<TopDownModel> build_vipnas_model(const nlohmann::json& config, const std::string& where);

}  // namespace wb::pose
