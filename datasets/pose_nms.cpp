#include "datasets/pose_nms.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "tensor/error.h"

namespace wb::data {

double bbox_keypoint_score(double box_score, std::span<const double> keypoint_scores, double threshold) {
  double sum = 0;
  int count = 0;
  for (double s : keypoint_scores) {
    if (s > threshold) {
      sum += s;
      ++count;
    }
  }
  return count > 0 ? box_score * (sum / count) : 0.0;
}

namespace {

// MMPose's oks_iou for one pair: exp(-d^2 / (2 * mean_area * (2 sigma)^2)), averaged.
double pair_oks(const PoseCandidate& a, const PoseCandidate& b, std::span<const double> sigmas,
                std::optional<double> visibility_threshold) {
  const double scale = (a.area + b.area) / 2 + std::numeric_limits<double>::epsilon();
  double sum = 0;
  size_t n = 0;
  for (size_t k = 0; k < sigmas.size(); ++k) {
    if (visibility_threshold &&
        !(a.keypoints[3 * k + 2] > *visibility_threshold && b.keypoints[3 * k + 2] > *visibility_threshold)) {
      continue;
    }
    const double dx = a.keypoints[3 * k] - b.keypoints[3 * k];
    const double dy = a.keypoints[3 * k + 1] - b.keypoints[3 * k + 1];
    const double var = (2 * sigmas[k]) * (2 * sigmas[k]);
    sum += std::exp(-(dx * dx + dy * dy) / var / scale / 2);
    ++n;
  }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

}  // namespace

std::vector<size_t> oks_nms(const std::vector<PoseCandidate>& poses, double threshold, std::span<const double> sigmas,
                            std::optional<double> visibility_threshold) {
  for (size_t i = 0; i < poses.size(); ++i) {
    check(poses[i].keypoints.size() == 3 * sigmas.size(), "oks_nms: pose #", i, " has ", poses[i].keypoints.size(),
          " keypoint values but there are ", sigmas.size(), " sigmas (expected ", 3 * sigmas.size(), ")");
  }
  std::vector<size_t> order(poses.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return poses[a].score > poses[b].score; });
  std::vector<bool> removed(poses.size(), false);
  std::vector<size_t> kept;
  for (size_t i = 0; i < order.size(); ++i) {
    if (removed[order[i]]) continue;
    kept.push_back(order[i]);
    for (size_t j = i + 1; j < order.size(); ++j) {
      if (!removed[order[j]] && pair_oks(poses[order[i]], poses[order[j]], sigmas, visibility_threshold) > threshold) {
        removed[order[j]] = true;
      }
    }
  }
  return kept;
}

}  // namespace wb::data
