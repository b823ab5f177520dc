// A pose family: one registered unit that says, for the model configs of its "type"s, how the model
// is built and initialised, what heatmap targets it trains on, its loss with named parts, how it
// predicts the people of an image from person crops, and its parameter/FLOPs breakdown. The training
// loop, validation, wbpose-train/-eval/-infer/-info and the benchmark are generic over families; a
// new family is its own files plus one line in tasks/family_registry.cpp.
//
// The families today all train on top-down person crops (training_data's default, datasets/topdown.h:
// the crop, its augmentation and the codec's targets) and differ in their networks, targets, losses
// and decoding:
//   top-down heatmap  HRNet, SimpleBaseline, S-ViPNAS (tasks/families/heatmap_family.cpp)
//   multi-stage       MSPN: every stage and unit supervised, OHKM (tasks/families/mspn_family.cpp)
//   zoom              ZoomNet: body, then RoI heads for face and hands (tasks/families/zoomnet_family.cpp)
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/loader.h"
#include "nn/module.h"
#include "pose/affine.h"
#include "pose/heatmap_codec.h"
#include "tensor/generator.h"

namespace wb::tasks {

struct PredictOptions;  // tasks/topdown_predictor.h
struct TrainConfig;     // tasks/train_config.h

// One batch's loss: `total` for backward, and the values of its named parts for the log.
struct FamilyLoss {
  Tensor total;
  std::vector<std::pair<std::string, double>> parts;
};

struct ModelFacts {
  std::array<int64_t, 2> input_size{};  // H, W of the person crop
  int64_t num_keypoints = 0;
};

class PoseFamily {
 public:
  virtual ~PoseFamily() = default;

  // What the family is called in tables and messages ("top-down heatmap", "MSPN", "ZoomNet").
  virtual std::string name() const = 0;

  // The model with zero weights, from its JSON model config (strict: errors name `where` and the
  // field). Only configs whose "type" this family was registered for are passed.
  virtual std::shared_ptr<nn::Module> build(const nlohmann::json& config, const std::string& where) const = 0;
  // The crop size and keypoint count of a config, without building it; a size the family cannot
  // train on is an error naming `where`.
  virtual ModelFacts facts(const nlohmann::json& config, const std::string& where) const = 0;
  // The reference implementation's initialisation (MMPose's, for the families it has).
  virtual void init_weights(nn::Module& model, Generator& gen) const = 0;

  // The heatmap codec a config trains and predicts with when the run config names none; a run
  // config's "codec" section overrides its fields (tasks/model_spec.h).
  virtual pose::HeatmapCodec default_codec(const nlohmann::json& config, const std::string& where) const;
  // A codec the family cannot use (ZoomNet cuts its RoIs in the MSRA geometry, MSPN needs one target
  // level per supervised output) is an error naming `where`.
  virtual void check_codec(const pose::HeatmapCodec& codec, const nlohmann::json& config,
                           const std::string& where) const;

  // What a run of `config` trains on: the samples and their targets (checked before the run writes
  // anything). Default: top-down person crops of the config's training annotations at its codec
  // (tasks/training_data.h); a family that trains on whole images or on clips returns its own source.
  virtual std::unique_ptr<data::SampleSource> training_data(const TrainConfig& config) const;

  // The loss of one batch of the top-down pipeline (its crops, targets by the config's codec, and
  // keypoints in crop pixels); `images` is batch.images on the model's device. The model is in the
  // caller's mode (training, or evaluation for tests).
  virtual FamilyLoss loss(nn::Module& model, const data::Batch& batch, const Tensor& images) const = 0;
  // The parts of the loss the progress line shows (the log has them all).
  virtual std::vector<std::string> shown_loss_parts() const { return {}; }

  // The keypoints of each crop (on options.device) in image pixels: image_to_input[i] is crop i's
  // affine. The model is in evaluation mode, gradients off. Default: the model's forward gives
  // [N, K, h, w] heatmaps, the flip test averages them with those of the mirrored crops flipped back,
  // and the codec decodes them (tasks/topdown_predictor.h: heatmap_predict_crops).
  virtual std::vector<std::vector<pose::DecodedKeypoint>> predict_crops(nn::Module& model, const Tensor& crops,
                                                                        const std::vector<pose::Affine>& image_to_input,
                                                                        const PredictOptions& options) const;

  // wbpose-info's report of a built model: parameters and GFLOPs (multiply-adds / 1024^3) in total
  // and per module down to `depth`, counted at `input` (H, W). Default: nn/flops.h's table.
  virtual std::string describe(nn::Module& model, const std::string& config_name, std::array<int64_t, 2> input,
                               int depth) const;
  // Whether describe() can count at another input size than the config's (ZoomNet counts at its own).
  virtual bool counts_at_any_size() const { return true; }
};

// The family registered for the config's "type" (an error naming `where` and the known types when
// there is none).
const PoseFamily& family_of(const nlohmann::json& config, const std::string& where);
// The registered "type" strings, sorted, for messages and tests.
std::vector<std::string> registered_model_types();

// A model config with what the drivers need of it: the family, the built model (weights zero until
// init_weights or a load) and its facts.
struct FamilyModel {
  const PoseFamily* family = nullptr;
  std::shared_ptr<nn::Module> model;
  ModelFacts facts;
};
FamilyModel build_family_model(const nlohmann::json& config, const std::string& where);

}  // namespace wb::tasks
