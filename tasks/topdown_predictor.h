// Top-down prediction, MMPose 1.x semantics: for each person box, the evaluation crop (box ->
// centre and 1.25-padded scale, aspect fixed to the input, warped and ImageNet-normalised), the
// model in batches, optionally the flip test (the crop mirrored, run, its heatmaps mirrored back,
// left/right channels swapped, shifted one pixel right as shift_heatmap=True, averaged with the
// plain ones), decoding (pose/heatmap_codec.h), and the map back to image pixels. predict() then
// rescores each pose (box score x mean keypoint score above 0.2, 'bbox_keypoint') and keeps the
// survivors of OKS-NMS (0.9) per image, as MMPose's CocoMetric does before writing results.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "datasets/coco.h"
#include "datasets/oks_eval.h"
#include "datasets/topdown.h"
#include "nn/module.h"
#include "pose/heatmap_codec.h"
#include "pose/keypoints.h"
#include "tasks/family.h"
#include "tasks/model_spec.h"
#include "tensor/device.h"

namespace wb::tasks {

struct PredictOptions {
  // How the model turns crops into keypoints (PoseFamily::predict_crops); null: the heatmap path
  // (heatmap_predict_crops below), for any module whose forward gives [N, K, h, w] heatmaps.
  const PoseFamily* family = nullptr;
  pose::HeatmapCodec codec;  // input and heatmap sizes, encoding (crop geometry) and decoding
  const pose::KeypointSet* keypoints = &pose::coco_wholebody();  // flip pairs and OKS sigmas
  Device device = Device::cpu();  // where the model's parameters are; crops are sent there
  int batch_size = 32;
  bool flip_test = false;
  // MMPose's shift_heatmap for the flip test: on in its MSRA-heatmap configs, off with UDP, whose
  // aligned grids need no shift.
  bool shift_flipped_heatmap = true;
  double box_padding = 1.25;
  std::array<float, 3> mean{123.675f, 116.28f, 103.53f};  // ImageNet, 0..255 RGB
  std::array<float, 3> std{58.395f, 57.12f, 57.375f};
  double keypoint_score_threshold = 0.2;  // rescoring: keypoints counted in the mean
  double nms_threshold = 0.9;             // OKS-NMS per image; 1 or more keeps every pose
  // Called after each batch with (poses done, poses in all), e.g. for a progress line.
  std::function<void(int64_t, int64_t)> progress;
};

// The options for a model of `family` (null: the heatmap path) trained with `codec` on `keypoints`: its
// codec, MMPose's flip-test shift for it (on for MSRA heatmaps, off for UDP and Megvii, whose MSPN
// configs set shift_heatmap=False), the rest at their defaults.
PredictOptions predict_options_for(const pose::HeatmapCodec& codec, const pose::KeypointSet& keypoints, bool flip_test,
                                   const PoseFamily* family = nullptr);

// For a run over a rebuilt model (wbpose-eval run, wbpose-infer): its options (the decoding
// overridden when given) on `device` ("cpu", "cuda", "cuda:N"), the model moved there in eval mode.
PredictOptions prepare_for_prediction(ModelSpec& spec, std::optional<pose::HeatmapDecoding> decoding, bool flip_test,
                                      const std::string& device, int batch_size);

// One pose per instance, in the instances' order: keypoints decoded to image pixels as (x, y, score)
// triples, score = the instance's box score, bbox = its box. The model runs in evaluation mode (a
// model in training mode, e.g. the trainer's, is switched for the call and switched back after); its
// family's predict_crops turns each batch of crops into keypoints (ZoomNet's runs its own pipeline);
// rescoring, NMS and evaluation are the same for every family. Images are read once per run of
// consecutive instances on the same image; one that does not decode is an error naming it.
std::vector<data::KeypointResult> predict_instances(nn::Module& model, const PredictOptions& options,
                                                    const std::vector<data::PersonInstance>& instances);

// predict_instances, then rescoring and OKS-NMS per image (kept poses in descending score per image,
// images in order of first appearance).
std::vector<data::KeypointResult> predict(nn::Module& model, const PredictOptions& options,
                                          const std::vector<data::PersonInstance>& instances);

// The whole-body (or COCO) OKS evaluation of predict()'s results on `gt`, one row per part in
// `parts` (wholebody_passes() names). For the training loop's validation and wbpose-eval run.
using PartTable = std::vector<std::pair<std::string, data::OksStats>>;
PartTable evaluate(nn::Module& model, const PredictOptions& options, const data::CocoKeypointsFile& gt,
                   const std::vector<data::PersonInstance>& instances,
                   const std::vector<std::string>& parts = {"body", "foot", "face", "lefthand", "righthand",
                                                            "wholebody"},
                   std::vector<data::KeypointResult>* results = nullptr);

// The heatmap path of prediction on crops [N, 3, H, W] (on options.device): the model must return
// [N, K, heatmap_h, heatmap_w] for the codec's input size; with the flip test, the mirrored crops'
// heatmaps are flipped back (flip_back_heatmaps) and averaged with the plain ones; each crop's
// heatmaps are decoded by the codec and mapped to the image through image_to_input[i].
std::vector<std::vector<pose::DecodedKeypoint>> heatmap_predict_crops(nn::Module& model, const Tensor& crops,
                                                                      const std::vector<pose::Affine>& image_to_input,
                                                                      const PredictOptions& options);

// The flip test's heatmap step on a [N, K, h, w] CPU f32 tensor, in place: mirror each map
// horizontally, move channel flip_index[k] to k, and (shift) move every column one to the right,
// keeping column 0. Exposed for the tests.
void flip_back_heatmaps(Tensor& heatmaps, const std::vector<int>& flip_index, bool shift);

}  // namespace wb::tasks
