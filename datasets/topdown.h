// The top-down sample pipeline, MMPose 1.x semantics and order:
//   GetBBoxCenterScale (padding 1.25) -> RandomFlip -> RandomHalfBody -> RandomBBoxTransform
//   (shift, scale, rotation) -> TopdownAffine (aspect fix to the input, warp; UDP's warp with the
//   Udp codec) -> ImageNet normalisation -> GenerateTarget (pose/heatmap_codec.h).
// Every random choice is drawn from the wb::Generator handed in, so a seed fixes a sample bit for bit.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/coco.h"
#include "datasets/image.h"
#include "datasets/sample_source.h"
#include "pose/affine.h"
#include "pose/heatmap_codec.h"
#include "pose/keypoints.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace wb::data {

// One person to crop.
struct PersonInstance {
  std::string image_path;
  int64_t image_id = 0;
  int64_t annotation_id = 0;  // 0 for detector boxes
  Box bbox;
  double box_score = 1.0;            // detector score; 1 for ground truth
  std::vector<double> keypoints;  // (x, y, v) per keypoint, v > 0 labelled; empty for detector boxes
};

// COCO (-WholeBody) ground truth to instances, skipping (and counting) what select_training_instances
// rejects. Image paths are image_dir/file_name.
std::vector<PersonInstance> instances_from_coco(const CocoKeypointsFile& file, const std::string& image_dir,
                                                SkipCounts* skipped = nullptr);
// Every non-crowd annotation with a box, as MMPose evaluates with ground-truth boxes (crowd
// annotations are ignored by the evaluator anyway); an annotation of an unlisted image is an error.
std::vector<PersonInstance> instances_from_gt_boxes(const CocoKeypointsFile& file, const std::string& image_dir);
// Detector boxes (category 1, score >= min_score) on the file's images, for evaluation. Boxes of
// zero width or height cannot be cropped: they are left out and counted in *empty_boxes.
std::vector<PersonInstance> instances_from_boxes(const std::vector<PersonBox>& boxes, const CocoKeypointsFile& file,
                                                 const std::string& image_dir, double min_score = 0.0,
                                                 int64_t* empty_boxes = nullptr);

// MMPose 1.x defaults (RandomFlip, RandomHalfBody, RandomBBoxTransform).
struct AugmentConfig {
  double flip_prob = 0.5;
  double half_body_prob = 0.3;
  int half_body_min_total = 9;   // labelled keypoints needed, over all keypoints
  int half_body_min_upper = 2;
  int half_body_min_lower = 3;
  double half_body_padding = 1.5;
  double upper_prioritized_prob = 0.7;
  double shift_factor = 0.16, shift_prob = 0.3;  // centre offset: truncnorm[-1, 1] * factor * scale
  double scale_min = 0.5, scale_max = 1.5, scale_prob = 1.0;
  double rotate_factor = 80.0, rotate_prob = 0.6;  // degrees: truncnorm[-1, 1] * factor
};

struct TopDownConfig {
  pose::HeatmapCodec codec;  // also fixes the input and heatmap sizes
  double box_padding = 1.25;
  bool augment = true;  // false: evaluation crops (no flip, half-body, shift, scale or rotation)
  AugmentConfig aug;
  // ImageNet statistics on 0..255 RGB, as MMPose's data preprocessor.
  std::array<float, 3> mean{123.675f, 116.28f, 103.53f};
  std::array<float, 3> std{58.395f, 57.12f, 57.375f};
};

// The state MMPose keeps in its results dict for one person while the transforms run.
struct CropState {
  std::vector<pose::Point2> keypoints;  // image pixels
  std::vector<float> visible;           // 1 labelled, 0 not
  pose::Point2 center, scale;           // scale: region width and height in pixels
  double rotation = 0;                  // degrees
  bool flipped = false;
};

// Horizontal flip of an image `width` pixels wide: x -> width - 1 - x and every keypoint trades
// places with its mirror partner (flip_index from pose/keypoints.h).
void flip_keypoints(std::vector<pose::Point2>& keypoints, std::vector<float>& visible,
                    const std::vector<int>& flip_index, int width);

// Upper and lower body keypoints for half-body augmentation, MMPose's "upper"/"lower" keypoint types:
// upper is the body part before the left hip, lower is the hips, knees, ankles and the feet.
struct HalfBodyIds {
  std::vector<int> upper, lower;
};
HalfBodyIds half_body_ids(const pose::KeypointSet& set);

void random_flip(CropState& s, int image_width, const std::vector<int>& flip_index, double prob, Generator& gen);
void random_half_body(CropState& s, const HalfBodyIds& ids, const AugmentConfig& aug, Generator& gen);
void random_box_transform(CropState& s, const AugmentConfig& aug, Generator& gen);

// TopdownAffine: fixes the scale's aspect ratio to the input's and returns the map from the state's
// frame (the flipped image when s.flipped) to the network input; UDP's for the Udp codec.
pose::Affine crop_affine(CropState& s, const pose::HeatmapCodec& codec);

// Bilinear warp of an 8-bit RGB image through `image_to_input` into a normalised CHW float buffer
// of 3 * out_h * out_w: pixel centres at integer positions, samples outside the image are black
// (cv2.warpAffine's constant border), then (v - mean) / std per channel.
void warp_normalize(const Image& img, const pose::Affine& image_to_input, int out_w, int out_h,
                    const std::array<float, 3>& mean, const std::array<float, 3>& std, float* chw);

// Caller-owned outputs of one sample (the loader points them into its batch).
struct SampleBuffers {
  float* image = nullptr;    // 3 * input_h * input_w
  float* heatmaps = nullptr;  // num_targets * K * heatmap_h * heatmap_w
  float* weights = nullptr;   // K
};

struct TopDownSample {
  Tensor image;     // [3, H, W]
  Tensor heatmaps;  // [K, h, w], or [S, K, h, w] for Megvii targets
  Tensor weights;   // [K]
  SampleMeta meta;
};

class TopDownDataset : public SampleSource {
 public:
  // `keypoints` must outlive the dataset. Errors name the instance whose keypoint count or box is wrong.
  TopDownDataset(std::vector<PersonInstance> instances, const pose::KeypointSet& keypoints, TopDownConfig config);

  int64_t size() const override { return static_cast<int64_t>(instances_.size()); }
  int num_keypoints() const { return keypoints_->size(); }
  const TopDownConfig& config() const { return config_; }
  const PersonInstance& instance(int64_t i) const;

  // Reads the instance's image and runs the pipeline.
  void make_sample(int64_t index, Generator& gen, const SampleBuffers& out, SampleMeta& meta) const;
  // The pipeline on an image already in memory.
  void make_sample(const Image& img, const PersonInstance& inst, Generator& gen, const SampleBuffers& out,
                   SampleMeta& meta) const;
  TopDownSample sample(int64_t index, Generator& gen) const;

  // SampleSource: [N, 3, H, W] crops, [N, K, h, w] heatmaps ([N, S, K, h, w] for Megvii targets),
  // [N, K] keypoint weights.
  Batch allocate(int64_t rows) const override;
  void make_row(int64_t index, Generator& gen, Batch& batch, int64_t row) const override;

 private:
  std::vector<PersonInstance> instances_;
  const pose::KeypointSet* keypoints_;
  TopDownConfig config_;
  HalfBodyIds half_body_;
};

}  // namespace wb::data
