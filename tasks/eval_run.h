// wbpose-eval run: a trained top-down model on every person box of a COCO(-WholeBody) folder
// (DIR/annotations/val.json, images under DIR/images/), results and metrics written to a folder.
#pragma once
#include <optional>
#include <ostream>
#include <string>

#include "pose/heatmap_codec.h"
#include "tasks/topdown_predictor.h"

namespace wb::tasks {

struct EvalRunOptions {
  std::string config;      // model or run config (tasks/model_spec.h)
  std::string checkpoint;  // weights or training checkpoint (safetensors)
  std::string data_dir;    // holds annotations/val.json and images/
  std::string boxes;       // detector person boxes (COCO detection results); empty: ground-truth boxes
  double min_box_score = 0.0;  // detector boxes below this are left out (MMPose's COCO default: 0)
  bool flip_test = false;
  std::optional<pose::HeatmapDecoding> decoding;  // overrides the config's
  std::string device = "cpu";
  int batch_size = 32;
  std::string out_dir;  // receives results.json and metrics.json
};

// Checks every input (config, checkpoint, data folder, boxes) before it creates the output folder;
// prints a progress line to `log`, writes OUT/results.json (COCO-WholeBody or COCO results) and
// OUT/metrics.json (the part table and the run's settings), both atomically, and returns the table:
// all six passes for whole-body ground truth, "body" for COCO.
PartTable run_evaluation(const EvalRunOptions& options, std::ostream& log);

}  // namespace wb::tasks
