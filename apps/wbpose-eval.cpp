// wbpose-eval: evaluation of keypoint results.
//   score: COCO-WholeBody OKS evaluation of a results file against ground truth, with xtcocotools'
//          semantics; prints a table (parts x ten stats) and optionally writes the stats as JSON.
#include <CLI/CLI.hpp>
#include <iostream>

#include "datasets/coco.h"
#include "datasets/oks_eval.h"
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "wbpose-eval: " << e.what() << "\n";
    return 2;
  }

  try {
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
