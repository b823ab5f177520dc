// The top-down training set of a run: the training config's annotations (data.root,
// data.train_annotations, data.train_images) as person instances, cut out, augmented and given
// targets by datasets/topdown.h at the run's codec. What the top-down families train on
// (PoseFamily::training_data's default) and the ZoomNAS supernet too.
#pragma once
#include <cstdint>
#include <memory>

#include "datasets/topdown.h"
#include "tasks/train_config.h"

namespace wb::tasks {

// Checked before a run writes anything: the annotations exist, hold `num_keypoints` per person, and
// at least one usable person (errors name the file and the config field).
std::unique_ptr<data::TopDownDataset> topdown_training_data(const TrainConfig& config, int64_t num_keypoints);

}  // namespace wb::tasks
