// wbpose-eval: evaluation of keypoint results.
//   score: COCO-WholeBody OKS evaluation of a results file against ground truth, with xtcocotools'
//          semantics; prints a table (parts x ten stats) and optionally writes the stats as JSON.
//   run:   a trained model on every person box of a data folder (tasks/eval_run.h): writes the
//          results and metrics, prints the same table.
#include <CLI/CLI.hpp>
#include <iostream>

#include "datasets/coco.h"
#include "datasets/oks_eval.h"
#include "tasks/eval_run.h"
#include "tensor/atomic_file.h"

int main(int argc, char** argv) {
  CLI::App app{"wbpose-eval: keypoint evaluation against COCO / COCO-WholeBody ground truth"};
  app.require_subcommand(1);

  CLI::App* score = app.add_subcommand("score", "OKS AP/AR of a results file, per body part (xtcocotools semantics)");
  std::string gt_path, results_path, json_path, parts = "body,foot,face,lefthand,righthand,wholebody";
  score->add_option("--gt", gt_path, "ground truth, COCO-WholeBody v1.0 or COCO person keypoints")->required();
  score->add_option("--results", results_path, "results in the COCO(-WholeBody) results format")->required();
  score->add_option("--json", json_path, "also write the stats here as JSON");
  score->add_option("--parts", parts, "comma-separated parts to evaluate")->capture_default_str();

  CLI::App* run = app.add_subcommand("run", "run a trained top-down model on a data folder and score it");
  wb::tasks::EvalRunOptions r;
  std::string decode;
  run->add_option("--config", r.config, "model config (configs/*.json) or run config with \"model\"/\"codec\"")
      ->required();
  run->add_option("--checkpoint", r.checkpoint, "weights or training checkpoint (.safetensors), loaded strictly")
      ->required();
  run->add_option("--data", r.data_dir, "folder with annotations/val.json and images/")->required();
  auto* boxes = run->add_option("--boxes", r.boxes, "detector person boxes (COCO detection results JSON)");
  bool use_gt_boxes = false;
  auto* gt_boxes = run->add_flag("--gt-boxes", use_gt_boxes, "use the ground-truth boxes (the default)");
  boxes->excludes(gt_boxes);
  run->add_option("--box-threshold", r.min_box_score, "leave out detector boxes scored below this")
      ->capture_default_str();
  run->add_flag("--flip-test", r.flip_test, "average with the mirrored crop (MMPose's flip test)");
  run->add_option("--decode", decode, "keypoint decoding: argmax (+ quarter-pixel shift) or dark; default: config's")
      ->check(CLI::IsMember({"argmax", "dark"}));
  run->add_option("--device", r.device, "cpu, cuda or cuda:N")->capture_default_str();
  run->add_option("--batch", r.batch_size, "crops per forward pass")->check(CLI::Range(1, 4096))->capture_default_str();
  run->add_option("--out", r.out_dir, "folder for results.json and metrics.json")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "wbpose-eval: " << e.what() << "\n";
    return 2;
  }

  try {
    if (run->parsed()) {
      if (decode == "argmax") r.decoding = wb::pose::HeatmapDecoding::Shift;
      if (decode == "dark") r.decoding = wb::pose::HeatmapDecoding::Dark;
      const auto table = wb::tasks::run_evaluation(r, std::cerr);
      std::cout << wb::data::format_oks_table(table);
      std::cerr << "results and metrics in " << r.out_dir << "\n";
      return 0;
    }
    const std::vector<std::string> part_list = wb::data::parse_part_list(parts);
    const wb::data::CocoKeypointsFile gt = wb::data::read_coco_keypoints(gt_path);
    const std::vector<wb::data::KeypointResult> results = wb::data::read_keypoint_results(results_path);
    const auto stats = wb::data::evaluate_wholebody(gt, results, part_list);
    std::cout << wb::data::format_oks_table(stats);
    if (!json_path.empty()) wb::write_file_atomic(json_path, wb::data::oks_stats_json(stats));
  } catch (const std::exception& e) {
    std::cerr << "wbpose-eval: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
