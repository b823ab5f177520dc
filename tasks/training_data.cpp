#include "tasks/training_data.h"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "datasets/coco.h"
#include "tasks/model_spec.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace fs = std::filesystem;

std::unique_ptr<data::TopDownDataset> topdown_training_data(const TrainConfig& c, int64_t num_keypoints) {
  const pose::KeypointSet& kps = keypoint_set_for(num_keypoints, c.model_where);
  const fs::path root(c.data.root);
  const std::string ann = (root / c.data.train_annotations).string();
  check(fs::is_regular_file(ann), ann, ": no training annotations here (data root \"", c.data.root,
        "\", field data.train_annotations)");
  const data::CocoKeypointsFile file = data::read_coco_keypoints(ann);
  const int have = data::keypoint_count(file.format);
  check(have == num_keypoints, ann, ": has ", have, "-keypoint annotations but the model predicts ", num_keypoints);
  data::SkipCounts skipped;
  auto instances = data::instances_from_coco(file, (root / c.data.train_images).string(), &skipped);
  check(!instances.empty(), ann, ": no usable person annotation (", skipped.summary(), ")");
  return std::make_unique<data::TopDownDataset>(std::move(instances), kps, c.topdown);
}

}  // namespace wb::tasks
