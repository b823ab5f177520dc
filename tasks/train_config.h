// Training configs: MMPose's top-down heatmap recipe in one JSON file (configs/train_*.json).
//
//   {
//     "model":   {a model config object, as configs/hrnet_*.json: pose/models/factory.h},
//     "data":    {"root", "train_annotations", "val_annotations", "train_images",
//                 "val_images", "val_boxes", "workers"},
//     "codec":   tasks/model_spec.h's model_codec: {"encoding": "msra" | "udp" | "megvii", "sigma",
//                "decoding": "shift" | "dark", "heatmap_size", "kernel_sizes", "blur_kernel"},
//     "augment": {"enabled", and every datasets/topdown AugmentConfig field by its name},
//     "train":   {"epochs", "batch_size", "optimizer": "adam" | "adamw", "lr", "weight_decay",
//                 "warmup_iters", "warmup_start_factor", "milestones", "gamma", "log_interval",
//                 "sync_bn"},
//     "eval":    {"interval", "batch_size", "flip_test"},
//     "seed": 0
//   }
//
// Every field has a default (the structs below: MMPose's HRNet recipe), a present field must have
// the right type, and an unknown field at any level is an error naming the file and the field.
// The codec defaults to the model family's (PoseFamily::default_codec: for most, the model's input
// size, heatmaps a quarter of it, sigma 2, 3 from 288 pixels wide). wbpose-eval run and wbpose-infer read the same
// "model" and "codec" sections (tasks/model_spec.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/topdown.h"
#include "nn/lr_schedule.h"
#include "tasks/family.h"

namespace wb::tasks {

struct DataConfig {
  std::string root;  // the dataset folder; the other paths are relative to it (--data overrides it)
  std::string train_annotations = "annotations/train.json";
  std::string val_annotations = "annotations/val.json";
  // Folders that the annotations' file_name is relative to.
  std::string train_images = "images";
  std::string val_images = "images";
  // Person boxes for validation: "gt" (the ground-truth boxes) or a COCO detection-results file.
  std::string val_boxes = "gt";
  int workers = 4;  // loader threads (0: in the training thread)
};

struct OptimConfig {
  int64_t epochs = 210;
  int64_t batch_size = 32;  // the global batch: split evenly over the ranks of a data-parallel run
  std::string optimizer = "adam";  // "adam" or "adamw"
  double lr = 5e-4;
  double weight_decay = 0.0;
  int64_t warmup_iters = 500;  // linear warm-up by iteration (0: none)
  double warmup_start_factor = 0.001;
  std::vector<int64_t> milestones{170, 200};  // epochs at which the rate is multiplied by gamma
  double gamma = 0.1;
  int64_t log_interval = 50;  // iterations per progress line and metrics.jsonl loss record
  // Data-parallel runs (mpirun): batch norm over the whole global batch (SyncBN) instead of each
  // rank's share (MMPose's default, and ours). No effect in one process.
  bool sync_bn = false;
};

struct EvalConfig {
  int64_t interval = 10;  // validate after every interval-th epoch and after the last (0: only the last)
  int64_t batch_size = 32;  // the global batch: split evenly over the ranks of a data-parallel run
  bool flip_test = true;
};

struct TrainConfig {
  std::string path;           // the file read, for messages
  nlohmann::json model;       // the model config object (its family reads it)
  std::string model_where;    // names the model config in errors ("X.json: model")
  const PoseFamily* family = nullptr;  // the model's (tasks/family.h)
  ModelFacts facts;                    // its input size and keypoint count
  DataConfig data;
  data::TopDownConfig topdown;  // codec (sizes from the model), augmentation
  OptimConfig optim;
  EvalConfig eval;
  uint64_t seed = 0;

  nn::LrSchedule lr_schedule() const;
  // The config with every default filled in and the model inline: what a run folder records.
  nlohmann::json to_json() const;
};

// Reads and validates a training config; errors name the file and the field. `own_fields`: top-level
// fields that a caller with a config of its own reads itself (wbpose-search's "search_space"), not
// unknown here.
TrainConfig read_train_config(const std::string& path);
TrainConfig parse_train_config(const nlohmann::json& j, const std::string& path,
                               const std::vector<std::string>& own_fields = {});

// The top-level fields a supernet config (tasks/supernet_train.h) adds to a training config.
const std::vector<std::string>& supernet_own_fields();

// Checks a training or supernet config as wbpose-train / wbpose-search would, so that the tools that
// read only its model (wbpose-info, -eval, -infer) still refuse a typo in any of its sections.
void validate_run_config(const nlohmann::json& j, const std::string& path);

// The model config that `path` describes: a model config file as it is, or a training config's
// "model" (the whole training config validated). For tools that take either (wbpose-info,
// wbpose-eval). `where` receives the name to use in errors.
nlohmann::json read_model_config(const std::string& path, std::string* where = nullptr);

}  // namespace wb::tasks
