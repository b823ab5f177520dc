// What a prediction run needs to rebuild a trained model: the network (from its JSON config) with its
// weights, and the heatmap codec it was trained with. Shared by wbpose-eval run and wbpose-infer.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "pose/heatmap_codec.h"
#include "pose/keypoints.h"
#include "tasks/family.h"
#include "tensor/device.h"

namespace wb::tasks {

struct ModelSpec {
  const PoseFamily* family = nullptr;  // the config's (tasks/family.h)
  std::shared_ptr<nn::Module> model;   // weights zero until load_model_weights
  pose::HeatmapCodec codec;
  const pose::KeypointSet* keypoints = nullptr;  // coco_wholebody() for 133 keypoints, coco_body() for 17
};

// The config is either a model config (configs/*.json, "type" at the top level) or a run config with
// a "model" object of that form and an optional "codec" object; a run config's other sections belong
// to the program that trains with it and are not read here. Without "codec", the codec is the
// family's default (PoseFamily::default_codec: for most, MMPose's MSRA heatmap at a quarter of the
// model's input size, sigma 2, sigma 3 from 288 pixels wide).
ModelSpec read_model_spec(const std::string& config_path);

// The run config's codec for `model` (a model config; `codec` may be null: the family's default):
// "codec": {"encoding": "msra" | "udp" | "megvii", "decoding": "shift" | "dark", "sigma": 2.0,
// "heatmap_size": [H, W], "kernel_sizes": [11, 9, 7, 5], "blur_kernel": 11}, each field defaulting to
// the family's default codec's, unknown ones an error naming them; checked by the family.
pose::HeatmapCodec model_codec(const PoseFamily& family, const nlohmann::json& model, const std::string& model_where,
                               const nlohmann::json* codec, const std::string& codec_where);
// The fields of `j` over `base` (the defaults), as above.
pose::HeatmapCodec codec_from_json(const nlohmann::json& j, const std::string& where, pose::HeatmapCodec base);
// MMPose's MSRA heatmap at a quarter of the input size, sigma 2 (sigma 3 from 288 pixels wide);
// `where` names the model config in errors.
pose::HeatmapCodec default_codec(std::array<int64_t, 2> input_size, const std::string& where);

// An input or heatmap side from a config, as the codec's int: in [2, kMaxSide] or an error naming
// `where` and `field` (a side of 2^32 + 128 once trained at 128 while config.json said otherwise).
constexpr int64_t kMaxSide = 8192;
int checked_side(int64_t v, const std::string& where, const char* field);

// Loads weights strictly into `model` from a safetensors file holding either the model's state_dict
// (nn::save_weights) or a training checkpoint (nn::save_checkpoint: the "model." entries are used,
// the optimizer's ignored). On a mismatch nothing is loaded and the one-line error names the file,
// the first offending tensor and how many others differ.
void load_model_weights(const std::string& path, nn::Module& model);

// "cpu", "cuda" or "cuda:N"; a CUDA device where none can be used (a CPU-only build, no GPU visible,
// an index beyond the GPUs) is an error naming it.
Device parse_run_device(const std::string& name);

// The keypoint set of a model with `num_keypoints` outputs; an error for other counts.
const pose::KeypointSet& keypoint_set_for(int64_t num_keypoints, const std::string& where);

}  // namespace wb::tasks
