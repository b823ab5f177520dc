// S-ViPNAS (spec/hrnet-mspn-vipnas-openpose.md §2.5) trains and predicts as a top-down heatmap model:
// the two searched backbones (ViPNAS_ResNet, ViPNAS_MobileNetV3) with ViPNASHead's grouped
// deconvolutions, MMPose's KeypointMSELoss, MSRA heatmaps.
#include "tasks/families/vipnas_family.h"

#include "pose/models/vipnas.h"
#include "pose/models/vipnas_config.h"
#include "tasks/families/heatmap_family.h"

namespace wb::tasks {

namespace {

ModelFacts resnet_facts(const nlohmann::json& config, const std::string& where) {
  const pose::ViPNASResNetConfig c = pose::vipnas_resnet_config_from_json(config, where);
  return {c.input_size, c.num_keypoints};
}

ModelFacts mbv3_facts(const nlohmann::json& config, const std::string& where) {
  const pose::ViPNASMobileNetV3Config c = pose::vipnas_mbv3_config_from_json(config, where);
  return {c.input_size, c.num_keypoints};
}

}  // namespace

const PoseFamily& vipnas_resnet_family() {
  static const HeatmapFamily family("S-ViPNAS-ResNet", &pose::build_vipnas_model, &resnet_facts);
  return family;
}

const PoseFamily& vipnas_mbv3_family() {
  static const HeatmapFamily family("S-ViPNAS-MobileNetV3", &pose::build_vipnas_model, &mbv3_facts);
  return family;
}

}  // namespace wb::tasks
