// ZoomNet's training targets (docs/zoomnet.md, spec/zoomnas.md §1.2, §1.5), from one person's 133
// COCO-WholeBody keypoints given in BodyNet input pixels:
//   BodyNet, 38 channels: 0-16 body and 17-22 foot (the whole-body order), then 15 box keypoints,
//     5 per part in the order face, left hand, right hand, each top left, top right, bottom left,
//     bottom right, centre (pose/zoom_geometry.h box_points). A part's box is the minimal rectangle
//     of its labelled keypoints (the dataset's own definition of the face and hand boxes); with fewer
//     than two labelled keypoints the part has no box and its 5 channels get weight 0.
//   FaceHead (68) and HandHead (21 per hand): Gaussians rendered in the head heatmap frame of the RoI
//     the network itself predicted (the paper's "same boxes"), weight = visibility, 0 when the
//     Gaussian falls off the head heatmap.
// All Gaussians are the Msra codec's (pose/heatmap_codec.h) with the given sigma (the paper: 3).
#pragma once
#include <array>
#include <vector>

#include "pose/heatmap_codec.h"
#include "pose/zoom_geometry.h"

namespace wb::pose {

constexpr int kZoomBodyKeypoints = 23;  // body + foot: the first 23 whole-body keypoints
constexpr int kZoomBoxPoints = 5;
constexpr int kZoomParts = 3;  // face, left hand, right hand
constexpr int kZoomBodyChannels = kZoomBodyKeypoints + kZoomParts * kZoomBoxPoints;  // 38

enum class ZoomPart { Face = 0, LeftHand = 1, RightHand = 2 };

// The whole-body keypoint slice of a part: [23, 91), [91, 112) or [112, 133).
int part_begin(ZoomPart part);
int part_size(ZoomPart part);
// The BodyNet channel of box point `point` (0-4) of `part`.
inline int box_channel(ZoomPart part, int point) {
  return kZoomBodyKeypoints + static_cast<int>(part) * kZoomBoxPoints + point;
}

struct PartBox {
  RoiBox box;
  bool valid = false;  // at least two labelled keypoints
};
// keypoints, visible: 133 each (BodyNet input pixels; visible > 0 labelled).
std::array<PartBox, kZoomParts> part_boxes(const std::vector<Point2>& keypoints, const std::vector<float>& visible);

// The BodyNet codec's targets for the 38 channels: heatmaps [38, h, w], weights [38].
HeatmapTargets body_targets(const HeatmapCodec& codec, const std::vector<Point2>& keypoints,
                            const std::vector<float>& visible);

// The Msra codec of a head heatmap: out x out, stride 1 (keypoints go in in head pixels).
HeatmapCodec head_codec(int out, double sigma);

// A part's targets in the frame of `roi`: heatmaps [part_size, out, out], weights [part_size].
HeatmapTargets head_targets(const RoiFrame& roi, double sigma, ZoomPart part, const std::vector<Point2>& keypoints,
                            const std::vector<float>& visible);

}  // namespace wb::pose
