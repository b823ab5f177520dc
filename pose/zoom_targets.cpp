#include "pose/zoom_targets.h"

#include "pose/keypoints.h"
#include "tensor/error.h"

namespace wb::pose {

namespace {

const char* part_name(ZoomPart part) {
  switch (part) {
    case ZoomPart::Face: return "face";
    case ZoomPart::LeftHand: return "lefthand";
    case ZoomPart::RightHand: return "righthand";
  }
  return "?";
}

void check_wholebody(const std::vector<Point2>& keypoints, const std::vector<float>& visible, const char* what) {
  const size_t n = static_cast<size_t>(coco_wholebody().size());
  check(keypoints.size() == n && visible.size() == n, what, ": expected ", n, " whole-body keypoints and flags, got ",
        keypoints.size(), " and ", visible.size());
}

}  // namespace

int part_begin(ZoomPart part) { return coco_wholebody().part(part_name(part)).begin; }
int part_size(ZoomPart part) { return coco_wholebody().part(part_name(part)).size(); }

std::array<PartBox, kZoomParts> part_boxes(const std::vector<Point2>& keypoints, const std::vector<float>& visible) {
  check_wholebody(keypoints, visible, "part_boxes");
  std::array<PartBox, kZoomParts> out;
  for (int p = 0; p < kZoomParts; ++p) {
    const ZoomPart part = static_cast<ZoomPart>(p);
    std::vector<Point2> labelled;
    for (int k = part_begin(part); k < part_begin(part) + part_size(part); ++k) {
      if (visible[k] > 0) labelled.push_back(keypoints[k]);
    }
    out[p].valid = labelled.size() >= 2;
    if (out[p].valid) out[p].box = box_from_points(labelled);
  }
  return out;
}

HeatmapTargets body_targets(const HeatmapCodec& codec, const std::vector<Point2>& keypoints,
                            const std::vector<float>& visible) {
  check_wholebody(keypoints, visible, "body_targets");
  std::vector<Point2> pts(keypoints.begin(), keypoints.begin() + kZoomBodyKeypoints);
  std::vector<float> vis(visible.begin(), visible.begin() + kZoomBodyKeypoints);
  for (const PartBox& b : part_boxes(keypoints, visible)) {
    for (const Point2& q : box_points(b.box)) {
      pts.push_back(q);
      vis.push_back(b.valid ? 1.0f : 0.0f);
    }
  }
  return encode_heatmaps(codec, pts, vis);
}

HeatmapCodec head_codec(int out, double sigma) {
  HeatmapCodec c;
  c.encoding = HeatmapEncoding::Msra;
  c.input_w = c.input_h = c.heatmap_w = c.heatmap_h = out;
  c.sigma = sigma;
  return c;
}

HeatmapTargets head_targets(const RoiFrame& roi, double sigma, ZoomPart part, const std::vector<Point2>& keypoints,
                            const std::vector<float>& visible) {
  check_wholebody(keypoints, visible, "head_targets");
  const int b = part_begin(part), n = part_size(part);
  std::vector<Point2> pts;
  for (int k = b; k < b + n; ++k) pts.push_back(roi.input_to_head(keypoints[k]));
  return encode_heatmaps(head_codec(roi.out, sigma), pts,
                         std::vector<float>(visible.begin() + b, visible.begin() + b + n));
}

}  // namespace wb::pose
