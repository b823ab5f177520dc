// ZoomNAS supernet training (spec/zoomnas.md §2.2; wbpose-search train-supernet): the training loop
// of tasks/trainer.h with a sandwich-rule step (nas/elastic_zoomnet.h) instead of one model's loss.
//
// The config is a training config (tasks/train_config.h: data, codec, augmentation, optimizer,
// schedule, eval, seed) whose "model" is the base ZoomNet ("type": "zoomnet"; its body input size
// must be the space's largest, the size the batches are cropped at; its keypoint counts, head kinds,
// adapter widths, sigma and min_roi_side are kept, its searched fields come from the space), plus
//   "search_space":  nas::zoomnas_space_from_json (omitted: Table 2),
//   "sandwich":      {"random_subnets": 2, "distill_weight": 1.0},
//   "recalibration": {"batches": 16, "batch_size": train.batch_size} (before each validation),
// every field defaulted, unknown ones an error naming them.
//
// Each iteration: the batch (crops at the largest input size) through zoom_sandwich_backward (the
// largest, the smallest and random_subnets uniform sub-networks, gradients accumulated), one
// optimizer step. The random sub-networks come from a Generator seeded by (seed, global iteration),
// so a resumed run draws the same ones without saving generator state. Logged loss: the largest's
// total; loss_parts: the largest's body, face and hand, and "students", the mean total loss of the
// other sub-networks. Validation: the largest and the smallest exported, recalibrated and validated
// (tasks/subnet_eval.h); the largest's part table and AP rank best.safetensors, the smallest's AP and
// table go in the record's "smallest". The run folder is wbpose-train's (tasks/trainer.h), its
// weights the supernet's shared weights (nas::ElasticZoomNet::module()).
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "nas/elastic_zoomnet.h"
#include "nas/space.h"
#include "pose/models/zoomnet.h"
#include "tasks/train_config.h"
#include "tasks/trainer.h"

namespace wb::tasks {

struct SupernetConfig {
  TrainConfig train;
  pose::ZoomNetConfig base;  // train.model read
  nas::ZoomNasSpace space;
  nas::ZoomSandwichOptions sandwich;
  int64_t recal_batches = 16;
  int64_t recal_batch_size = 0;  // filled from train.batch_size when not given

  // Every field with its default filled in: what config.json records and the search reads back.
  nlohmann::json to_json() const;
};

SupernetConfig read_supernet_config(const std::string& path);
SupernetConfig parse_supernet_config(const nlohmann::json& j, const std::string& path);

// Trains the supernet into options.out_dir; with `validate`, validates as the config's eval.interval
// says (the validation and training annotations are read before anything is written).
TrainResult train_supernet(const SupernetConfig& config, const TrainOptions& options, bool validate = true);

}  // namespace wb::tasks
