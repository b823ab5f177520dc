// Building a top-down model from its JSON config (configs/*.json). The field "type" picks the
// model: "hrnet" (pose/models/hrnet.h) or "simplebaseline" (pose/models/simple_baseline.h); the
// other fields are that config's, each defaulted, unknown ones an error naming them. The other
// models have builders of their own (pose/models/zoomnet.h, mspn.h, vipnas.h); the drivers never
// choose between them: tasks/family_registry.cpp maps every "type" to its family.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "pose/models/heatmap_head.h"

namespace wb::pose {

// The config's "type" (error naming `where` when absent or not a string).
std::string model_type(const nlohmann::json& config, const std::string& where);
// `where` names the source in errors. The weights are zero until init_weights() or a load.
std::shared_ptr<TopDownModel> build_model(const nlohmann::json& config, const std::string& where);
// Reads and parses the file; errors name it.
std::shared_ptr<TopDownModel> build_model_from_file(const std::string& path);
nlohmann::json read_json_file(const std::string& path);

}  // namespace wb::pose
