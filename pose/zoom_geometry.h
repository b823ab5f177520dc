// ZoomNet's coordinate frames (docs/zoomnet.md, spec/zoomnas.md §1.2-1.3) and the maps between them.
// Every frame puts pixel centres at integer coordinates, as pose/affine.h does:
//   image    --person affine (pose/affine.h: centre, scale, rotation, flip)-->  BodyNet input
//   input    --/ stride (4)-->  BodyNet feature map and BodyNet heatmap (the Msra codec's frame)
//   input    --RoI (a square box in input pixels)-->  head input = head heatmap (out x out pixels)
// A RoI's head pixel j covers [x1 + j s / out, x1 + (j + 1) s / out) of the input, s = x2 - x1, so
// its centre is x1 + (j + 0.5) s / out. That is exactly what torchvision's RoIAlign samples with
// aligned = false and spatial_scale = 1 / stride when the feature pixel i sits at input 4 i (true of
// the stride-4 stem: two 3x3 stride-2 convs with padding 1), so the RoI goes to RoIAlign unchanged.
// The RoI side stays >= stride input pixels, so RoIAlign's "width at least one feature pixel" clamp
// (aligned = false) never alters the map.
#pragma once
#include <vector>

#include "kernels/roi_align.h"
#include "pose/affine.h"

namespace wb::pose {

// An axis-aligned box in BodyNet input pixels, corners (x1, y1) top left and (x2, y2) bottom right.
struct RoiBox {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  double width() const { return x2 - x1; }
  double height() const { return y2 - y1; }
  Point2 center() const { return {(x1 + x2) / 2, (y1 + y2) / 2}; }
};

// The minimal rectangle of the points (ZoomNet's box decoding: min/max of the 5 box keypoints).
RoiBox box_from_points(const std::vector<Point2>& points);

// A box's five box keypoints in ZoomNet's channel order: top left, top right, bottom left,
// bottom right, centre.
std::vector<Point2> box_points(const RoiBox& box);

// The RoI of a decoded box: same centre, square with side max(w, h) * expansion (the heads take
// square inputs; squaring keeps faces and hands undistorted), the side clamped to [min_side, max_side].
RoiBox make_roi(const RoiBox& box, double expansion, double min_side, double max_side);

// The map between the BodyNet input and one head's input / heatmap (out x out pixels) for a RoI.
struct RoiFrame {
  RoiBox roi;
  int out = 64;

  Point2 input_to_head(Point2 p) const;
  Point2 head_to_input(Point2 p) const;
  Affine input_to_head_affine() const;
};

// Between BodyNet input pixels and its stride-s feature map (and Msra heatmap).
inline Point2 input_to_feature(Point2 p, double stride) { return {p.x / stride, p.y / stride}; }
inline Point2 feature_to_input(Point2 p, double stride) { return {p.x * stride, p.y * stride}; }

// RoIAlign as ZoomNet calls it on a stride-`stride` feature map for out x out heads: RoIs in input
// pixels, aligned = false (the convention above), adaptive sampling (torchvision's default).
kernels::RoIAlignParams zoom_roi_align_params(int out, double stride);

// The whole chain from the image to a head's heatmap, and back: person affine then RoI.
Affine image_to_head(const Affine& image_to_input, const RoiFrame& frame);

}  // namespace wb::pose
