#include "tasks/model_spec.h"

#include <set>

#include "pose/models/config_reader.h"
#include "pose/models/factory.h"
#include "tasks/train_config.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"

namespace wb::tasks {
namespace {

const std::string kModelPrefix = "model.", kOptimizerPrefix = "optimizer.";

// A training checkpoint holds only "model.*" and "optimizer.*" entries (nn/checkpoint.h); a model's
// own state_dict has neither prefix on every name.
bool is_training_checkpoint(const TensorMap& tensors) {
  bool any_model = false;
  for (const auto& [name, _] : tensors) {
    const bool model = name.rfind(kModelPrefix, 0) == 0;
    if (!model && name.rfind(kOptimizerPrefix, 0) != 0) return false;
    any_model |= model;
  }
  return any_model;
}

}  // namespace

int checked_side(int64_t v, const std::string& where, const char* field) {
  check(v >= 2 && v <= kMaxSide, where, ": field \"", field, "\": a side of ", v, " is outside [2, ", kMaxSide, "]");
  return static_cast<int>(v);
}

pose::HeatmapCodec default_codec(std::array<int64_t, 2> input_size, const std::string& where) {
  pose::HeatmapCodec c;
  c.input_h = checked_side(input_size[0], where, "input_size");
  c.input_w = checked_side(input_size[1], where, "input_size");
  c.heatmap_h = c.input_h / 4;
  c.heatmap_w = c.input_w / 4;
  c.sigma = c.input_w >= 288 ? 3.0 : 2.0;  // MMPose's 384x288 configs use sigma 3, 256x192 sigma 2
  return c;
}

pose::HeatmapCodec codec_from_json(const nlohmann::json& j, const std::string& where, pose::HeatmapCodec base) {
  pose::HeatmapCodec c = std::move(base);
  pose::ConfigReader r(j, where);
  std::string encoding = pose::encoding_name(c.encoding), decoding = c.decoding == pose::HeatmapDecoding::Dark ? "dark" : "shift";
  std::array<int64_t, 2> heatmap_size{c.heatmap_h, c.heatmap_w};
  std::vector<int64_t> kernel_sizes(c.kernel_sizes.begin(), c.kernel_sizes.end());
  int64_t blur = c.blur_kernel;
  r.get("encoding", encoding);
  r.get("decoding", decoding);
  r.get("heatmap_size", heatmap_size);
  r.get("kernel_sizes", kernel_sizes);
  r.get("blur_kernel", blur);
  r.skip("sigma");
  r.finish();
  if (const auto s = j.find("sigma"); s != j.end()) {
    if (!s->is_number()) r.fail_field("sigma", std::string("expected a number, got ") + s->type_name());
    c.sigma = s->get<double>();
  }
  if (encoding == "msra") {
    c.encoding = pose::HeatmapEncoding::Msra;
  } else if (encoding == "udp") {
    c.encoding = pose::HeatmapEncoding::Udp;
  } else if (encoding == "megvii") {
    c.encoding = pose::HeatmapEncoding::Megvii;
  } else {
    r.fail_field("encoding", "\"" + encoding + "\" is not \"msra\", \"udp\" or \"megvii\"");
  }
  if (decoding == "shift") {
    c.decoding = pose::HeatmapDecoding::Shift;
  } else if (decoding == "dark") {
    c.decoding = pose::HeatmapDecoding::Dark;
  } else {
    r.fail_field("decoding", "\"" + decoding + "\" is not \"shift\" or \"dark\"");
  }
  c.heatmap_h = checked_side(heatmap_size[0], where, "heatmap_size");
  c.heatmap_w = checked_side(heatmap_size[1], where, "heatmap_size");
  // Kernels wider than the largest heatmap mean nothing; the bound keeps the int conversion exact.
  const auto kernel = [&](int64_t k, const char* field) {
    if (k < 1 || k > kMaxSide) r.fail_field(field, "a kernel of " + std::to_string(k) + " is outside [1, " +
                                                       std::to_string(kMaxSide) + "]");
    return static_cast<int>(k);
  };
  c.kernel_sizes.clear();
  for (int64_t k : kernel_sizes) c.kernel_sizes.push_back(kernel(k, "kernel_sizes"));
  c.blur_kernel = kernel(blur, "blur_kernel");
  try {
    c.validate();
  } catch (const Error& e) {
    fail(where, ": ", e.what());
  }
  return c;
}

const pose::KeypointSet& keypoint_set_for(int64_t num_keypoints, const std::string& where) {
  if (num_keypoints == pose::coco_wholebody().size()) return pose::coco_wholebody();
  if (num_keypoints == pose::coco_body().size()) return pose::coco_body();
  fail(where, ": a model of ", num_keypoints, " keypoints; prediction knows COCO-WholeBody (133) and COCO (17)");
}

Device parse_run_device(const std::string& name) {
  const Device d = Device::parse(name);
  if (d.is_cuda()) {
    check(cuda::available(), "--device ", name, ": no CUDA device can be used (",
          WBPOSE_WITH_CUDA ? "no GPU is visible" : "this build has no CUDA", ")");
    check(d.index < cuda::device_count(), "--device ", name, ": only ", cuda::device_count(), " GPU(s) visible");
  }
  return d;
}

pose::HeatmapCodec model_codec(const PoseFamily& family, const nlohmann::json& model, const std::string& model_where,
                               const nlohmann::json* codec, const std::string& codec_where) {
  pose::HeatmapCodec base = family.default_codec(model, model_where);
  pose::HeatmapCodec c = codec != nullptr ? codec_from_json(*codec, codec_where, std::move(base)) : std::move(base);
  family.check_codec(c, model, codec_where);
  return c;
}

ModelSpec read_model_spec(const std::string& config_path) {
  const nlohmann::json j = pose::read_json_file(config_path);
  check(j.is_object(), config_path, ": a config must be a JSON object, got ", j.type_name());
  const bool run_config = j.contains("model");
  check(!run_config || j.at("model").is_object(), config_path, ": field \"model\" must be an object");
  if (run_config) validate_run_config(j, config_path);
  const nlohmann::json& model_json = run_config ? j.at("model") : j;
  const std::string model_where = run_config ? config_path + " (model)" : config_path;
  FamilyModel built = build_family_model(model_json, model_where);
  ModelSpec spec;
  spec.family = built.family;
  spec.model = std::move(built.model);
  const nlohmann::json* codec = run_config && j.contains("codec") ? &j.at("codec") : nullptr;
  spec.codec = model_codec(*spec.family, model_json, model_where, codec, config_path + " (codec)");
  spec.keypoints = &keypoint_set_for(built.facts.num_keypoints, config_path);
  return spec;
}

void load_model_weights(const std::string& path, nn::Module& model) {
  SafetensorsFile file = load_safetensors(path);
  TensorMap state;
  if (is_training_checkpoint(file.tensors)) {
    for (auto& [name, t] : file.tensors)
      if (name.rfind(kModelPrefix, 0) == 0) state.emplace(name.substr(kModelPrefix.size()), t);
  } else {
    state = std::move(file.tensors);
  }
  // The strict check, reported on one line: the first difference and how many there are.
  std::string first;
  int64_t differences = 0;
  auto note = [&](const std::string& what) {
    if (differences++ == 0) first = what;
  };
  std::set<std::string> known;
  for (const auto& [name, t] : model.state_dict()) {
    known.insert(name);
    const auto it = state.find(name);
    if (it == state.end()) {
      note("the model's tensor \"" + name + "\" is missing");
    } else if (const std::string why = nn::state_mismatch(it->second, t); !why.empty()) {
      note("tensor \"" + name + "\": " + why);
    }
  }
  for (const auto& [name, _] : state)
    if (!known.count(name)) note("tensor \"" + name + "\" is not in the model");
  check(differences == 0, path, ": not a checkpoint of this model: ", first,
        differences > 1 ? " (and " + std::to_string(differences - 1) + " more differences)" : std::string());
  model.load_state_dict(state, /*strict=*/true);
}

}  // namespace wb::tasks
