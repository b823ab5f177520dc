// COCO OKS keypoint evaluation with xtcocotools' whole-body semantics (the evaluator of
// COCO-WholeBody and MMPose), reimplemented rule by rule from spec/xtcocotools-semantics.md:
// per-part passes, GT ignore by labelled points, DT drop by visible points, part-score ranking with
// fallback, maxDets 20, DT area from the body keypoints, 10 OKS thresholds, 101 recall points,
// area ranges all/medium/large, and the ten keypoint stats.
#pragma once
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "datasets/coco.h"

namespace wb::data {

// One evaluation pass of xtcocotools: a slice of the keypoint order and its ranking score.
struct OksPass {
  std::string name;        // body, foot, face, lefthand, righthand, wholebody
  int begin = 0, end = 0;  // keypoints [begin, end) of the 133 (or 17) order; sigmas alike
  // Results are ranked by part_scores[score_part], falling back to score per result; empty: the
  // pass always ranks by score (the body pass never reads body_score).
  std::string score_part;
};

// The six passes in xtcocotools' order: body, foot, face, lefthand, righthand, wholebody.
const std::vector<OksPass>& wholebody_passes();
const OksPass& wholebody_pass(const std::string& name);  // error naming the unknown part

inline constexpr std::array<const char*, 10> kOksStatNames = {"AP", "AP50", "AP75", "APm", "APl",
                                                              "AR", "AR50", "AR75", "ARm", "ARl"};
// The ten stats in kOksStatNames order; a stat with no ground truth to measure against is -1, as
// in xtcocotools.
using OksStats = std::array<double, 10>;

// One pass over gt and results. The sigmas are pose::coco_wholebody()'s slice for the pass.
// Errors: results for an image not in gt, a pass beyond the keypoints that gt or results carry.
OksStats evaluate_oks(const CocoKeypointsFile& gt, const std::vector<KeypointResult>& results, const OksPass& pass);

// The named passes (wholebody_passes() names), in the order given.
std::vector<std::pair<std::string, OksStats>> evaluate_wholebody(const CocoKeypointsFile& gt,
                                                                 const std::vector<KeypointResult>& results,
                                                                 const std::vector<std::string>& parts);

// "body,foot" -> {"body", "foot"}; errors on unknown or repeated names and on an empty list.
std::vector<std::string> parse_part_list(const std::string& comma_separated);

// A fixed-width table, one row per pass and one column per stat, three decimals as MMPose prints.
std::string format_oks_table(const std::vector<std::pair<std::string, OksStats>>& rows);
// {"body": {"AP": .., ..., "ARl": ..}, ...} with full precision, passes in the given order.
std::string oks_stats_json(const std::vector<std::pair<std::string, OksStats>>& rows);

// Plain COCO person-keypoint evaluation (17 keypoints, ranked by score): the body pass.
OksStats evaluate_coco_body(const CocoKeypointsFile& gt, const std::vector<KeypointResult>& results);

// Ground truth as results: every non-crowd annotation's keypoints with its v as the keypoint
// score, score 1. Scoring these gives AP 1 in every pass (MMPose's evaluator test).
std::vector<KeypointResult> ground_truth_as_results(const CocoKeypointsFile& gt);

}  // namespace wb::data
