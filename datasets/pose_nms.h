// Post-processing of top-down poses before they are written as results, as MMPose's CocoMetric
// does by default: bbox_keypoint rescoring, then OKS non-maximum suppression per image (0.9).
#pragma once
#include <optional>
#include <span>
#include <vector>

namespace wb::data {

// MMPose's score_mode 'bbox_keypoint': box score x the mean of the keypoint scores above
// `threshold` (0 when none is).
double bbox_keypoint_score(double box_score, std::span<const double> keypoint_scores, double threshold = 0.2);

// One pose of an image: (x, y, score) triples, its box area (the OKS scale) and its score.
struct PoseCandidate {
  std::vector<double> keypoints;
  double area = 0;
  double score = 0;
};

// Greedy OKS-NMS: visits poses by descending score (ties in input order), keeps one and removes
// every later pose whose OKS with it exceeds `threshold`. The OKS of two poses uses the mean of
// their areas as the scale; with a visibility threshold only keypoints scored above it in both
// poses count (a pair with none has OKS 0). Returns the kept indices in visiting order.
std::vector<size_t> oks_nms(const std::vector<PoseCandidate>& poses, double threshold, std::span<const double> sigmas,
                            std::optional<double> visibility_threshold = std::nullopt);

}  // namespace wb::data
