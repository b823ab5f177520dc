// What a training batch is, and what the loader (datasets/loader.h) batches: a SampleSource is a
// fixed number of samples, each made from its own seeded generator into one row of a batch that the
// source allocates. A pose family owns its source (tasks/family.h: PoseFamily::training_data): the
// top-down crops of datasets/topdown.h today; a family that trains on whole images or on frame
// sequences brings its own source and lays out the same batch fields in its own shapes.
#pragma once
#include <cstdint>
#include <vector>

#include "pose/affine.h"
#include "pose/keypoints.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace wb::data {

// Where one sample came from and how it was cut out of its image.
struct SampleMeta {
  int64_t image_id = 0, annotation_id = 0;
  double box_score = 1.0;
  pose::Point2 center, scale;  // after augmentation and aspect fix: what the crop covers
  double rotation = 0;
  bool flipped = false;
  pose::Affine image_to_input;  // maps the original image to the network input
  // The labels the heatmaps were rendered from: every keypoint in input pixels (after the crop affine
  // and the flip's left/right swap) and 1 labelled / 0 not. ZoomNet renders its own targets from
  // these (pose/models/zoomnet_pipeline.h), since its head targets depend on its predicted boxes.
  std::vector<pose::Point2> input_keypoints;
  std::vector<float> visible;
};

// One batch, as CPU tensors (pinned where a GPU is present). The top-down source's shapes:
struct Batch {
  int64_t index = 0;      // batch number within the epoch
  Tensor images;          // [N, 3, H, W] f32, normalised
  Tensor heatmaps;        // [N, K, h, w], or [N, S, K, h, w] for Megvii targets
  Tensor weights;         // [N, K]
  std::vector<int64_t> dataset_indices;  // [N]
  std::vector<SampleMeta> meta;          // [N]: centre, scale, image id, crop map, ...
};

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  virtual int64_t size() const = 0;
  // A batch of `rows` samples: its tensors allocated, meta sized (dataset_indices and index are the
  // loader's to fill).
  virtual Batch allocate(int64_t rows) const = 0;
  // Sample `index`, its random choices drawn from `gen` only, into row `row` of `batch`. Called from
  // several loader threads at once, each on its own row.
  virtual void make_row(int64_t index, Generator& gen, Batch& batch, int64_t row) const = 0;
};

}  // namespace wb::data
