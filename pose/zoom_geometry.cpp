#include "pose/zoom_geometry.h"

#include <algorithm>

#include "tensor/error.h"

namespace wb::pose {

RoiBox box_from_points(const std::vector<Point2>& points) {
  check(!points.empty(), "box_from_points: no points");
  RoiBox b{points[0].x, points[0].y, points[0].x, points[0].y};
  for (const Point2& p : points) {
    b.x1 = std::min(b.x1, p.x);
    b.y1 = std::min(b.y1, p.y);
    b.x2 = std::max(b.x2, p.x);
    b.y2 = std::max(b.y2, p.y);
  }
  return b;
}

std::vector<Point2> box_points(const RoiBox& b) {
  return {{b.x1, b.y1}, {b.x2, b.y1}, {b.x1, b.y2}, {b.x2, b.y2}, b.center()};
}

RoiBox make_roi(const RoiBox& box, double expansion, double min_side, double max_side) {
  check(expansion > 0 && min_side > 0 && max_side >= min_side, "make_roi: expansion ", expansion, ", min_side ",
        min_side, " and max_side ", max_side, " must be positive with min_side <= max_side");
  const double side = std::clamp(std::max(box.width(), box.height()) * expansion, min_side, max_side);
  const Point2 c = box.center();
  return {c.x - side / 2, c.y - side / 2, c.x + side / 2, c.y + side / 2};
}

Point2 RoiFrame::input_to_head(Point2 p) const {
  return {(p.x - roi.x1) * out / roi.width() - 0.5, (p.y - roi.y1) * out / roi.height() - 0.5};
}

Point2 RoiFrame::head_to_input(Point2 p) const {
  return {roi.x1 + (p.x + 0.5) * roi.width() / out, roi.y1 + (p.y + 0.5) * roi.height() / out};
}

Affine RoiFrame::input_to_head_affine() const {
  const double sx = out / roi.width(), sy = out / roi.height();
  return Affine{{sx, 0, -roi.x1 * sx - 0.5, 0, sy, -roi.y1 * sy - 0.5}};
}

kernels::RoIAlignParams zoom_roi_align_params(int out, double stride) {
  kernels::RoIAlignParams p;
  p.out_h = p.out_w = out;
  p.spatial_scale = 1.0 / stride;
  p.sampling_ratio = 0;
  p.aligned = false;
  return p;
}

Affine image_to_head(const Affine& image_to_input, const RoiFrame& frame) {
  return frame.input_to_head_affine().after(image_to_input);
}

}  // namespace wb::pose
