#include "tasks/eval_run.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "datasets/coco.h"
#include "datasets/oks_eval.h"
#include "tasks/model_spec.h"
#include "tasks/progress.h"
#include "tensor/atomic_file.h"
#include "tensor/error.h"

namespace wb::tasks {
namespace fs = std::filesystem;

PartTable run_evaluation(const EvalRunOptions& o, std::ostream& log) {
  // Inputs first: nothing is created before all of them have been read and checked.
  check(fs::is_directory(o.data_dir), "--data ", o.data_dir, ": no such folder");
  const std::string ann_path = (fs::path(o.data_dir) / "annotations" / "val.json").string();
  check(fs::is_regular_file(ann_path), "--data ", o.data_dir, ": no annotations/val.json in it");
  const std::string image_dir = (fs::path(o.data_dir) / "images").string();
  check(fs::is_directory(image_dir), "--data ", o.data_dir, ": no images/ folder in it");
  check(!o.out_dir.empty(), "--out: an output folder is required");
  check(!fs::exists(o.out_dir) || fs::is_directory(o.out_dir), "--out ", o.out_dir, ": exists and is not a folder");
  check_can_create(o.out_dir, "--out");
  const data::CocoKeypointsFile gt = data::read_coco_keypoints(ann_path);

  ModelSpec spec = read_model_spec(o.config);
  const int gt_keypoints = data::keypoint_count(gt.format);
  check(spec.keypoints->size() == gt_keypoints, o.config, ": the model predicts ", spec.keypoints->size(),
        " keypoints but ", ann_path, " has ", gt_keypoints);
  load_model_weights(o.checkpoint, *spec.model);

  std::vector<data::PersonInstance> instances;
  int64_t empty_boxes = 0;
  if (o.boxes.empty()) {
    instances = data::instances_from_gt_boxes(gt, image_dir);
  } else {
    instances = data::instances_from_boxes(data::read_person_boxes(o.boxes), gt, image_dir, o.min_box_score,
                                           &empty_boxes);
  }
  // Grouped by image, so that each image is read once.
  std::stable_sort(instances.begin(), instances.end(),
                   [](const data::PersonInstance& a, const data::PersonInstance& b) { return a.image_id < b.image_id; });

  PredictOptions p = prepare_for_prediction(spec, o.decoding, o.flip_test, o.device, o.batch_size);

  log << "evaluating " << o.checkpoint << " on " << instances.size() << " person boxes ("
      << (o.boxes.empty() ? "ground truth" : o.boxes) << ") of " << gt.images.size() << " images"
      << (o.flip_test ? ", flip test" : "") << "\n";
  if (empty_boxes > 0) log << "left out " << empty_boxes << " detector boxes of zero width or height\n";
  ProgressLine progress(log, "predict", "poses");
  p.progress = [&](int64_t done, int64_t total) { progress.update(done, total); };
  const auto start = std::chrono::steady_clock::now();
  std::vector<data::KeypointResult> results;
  const std::vector<std::string> parts =
      gt.format == data::KeypointFormat::coco_wholebody
          ? std::vector<std::string>{"body", "foot", "face", "lefthand", "righthand", "wholebody"}
          : std::vector<std::string>{"body"};
  const PartTable table = evaluate(*spec.model, p, gt, instances, parts, &results);
  progress.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  fs::create_directories(o.out_dir);
  data::write_keypoint_results((fs::path(o.out_dir) / "results.json").string(), results);
  nlohmann::json metrics;
  metrics["stats"] = nlohmann::json::parse(data::oks_stats_json(table));
  metrics["config"] = o.config;
  metrics["checkpoint"] = o.checkpoint;
  metrics["annotations"] = ann_path;
  metrics["boxes"] = o.boxes.empty() ? "ground truth" : o.boxes;
  metrics["person_boxes"] = instances.size();
  metrics["poses_kept"] = results.size();
  metrics["flip_test"] = o.flip_test;
  metrics["decoding"] = p.codec.decoding == pose::HeatmapDecoding::Dark ? "dark" : "shift";
  metrics["device"] = p.device.str();
  metrics["seconds"] = seconds;
  write_file_atomic((fs::path(o.out_dir) / "metrics.json").string(), metrics.dump(2) + "\n");
  return table;
}

}  // namespace wb::tasks
