// The one place where model families are registered: a config's "type" names its family.
#include <algorithm>
#include <map>

#include "pose/models/factory.h"
#include "tasks/families/heatmap_family.h"
#include "tasks/families/mspn_family.h"
#include "tasks/families/vipnas_family.h"
#include "tasks/families/zoomnet_family.h"
#include "tasks/family.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace {

const std::map<std::string, const PoseFamily*>& registry() {
  static const std::map<std::string, const PoseFamily*> families = {
      {"hrnet", &hrnet_family()},
      {"simplebaseline", &simple_baseline_family()},
      {"vipnas_resnet", &vipnas_resnet_family()},
      {"vipnas_mbv3", &vipnas_mbv3_family()},
      {"mspn", &mspn_family()},
      {"zoomnet", &zoomnet_family()},
  };
  return families;
}

}  // namespace

std::vector<std::string> registered_model_types() {
  std::vector<std::string> types;
  for (const auto& [type, _] : registry()) types.push_back(type);
  return types;
}

const PoseFamily& family_of(const nlohmann::json& config, const std::string& where) {
  const std::string type = pose::model_type(config, where);
  const auto it = registry().find(type);
  if (it == registry().end()) {
    std::string known;
    for (const std::string& t : registered_model_types()) known += (known.empty() ? "\"" : ", \"") + t + "\"";
    fail(where, ": field \"type\": unknown model \"", type, "\" (known: ", known, ")");
  }
  return *it->second;
}

}  // namespace wb::tasks
