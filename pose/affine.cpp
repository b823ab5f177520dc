#include "pose/affine.h"

#include <cmath>

#include "tensor/error.h"

namespace wb::pose {

Affine Affine::inverse() const {
  const double det = m[0] * m[4] - m[1] * m[3];
  check(std::fabs(det) > 1e-300, "Affine::inverse: singular matrix [", m[0], ", ", m[1], "; ", m[3], ", ",
        m[4], "]");
  const double a = m[4] / det, b = -m[1] / det, d = -m[3] / det, e = m[0] / det;
  return {{a, b, -(a * m[2] + b * m[5]), d, e, -(d * m[2] + e * m[5])}};
}

Affine Affine::after(const Affine& f) const {
  const auto& g = m;
  const auto& h = f.m;
  return {{g[0] * h[0] + g[1] * h[3], g[0] * h[1] + g[1] * h[4], g[0] * h[2] + g[1] * h[5] + g[2],
           g[3] * h[0] + g[4] * h[3], g[3] * h[1] + g[4] * h[4], g[3] * h[2] + g[4] * h[5] + g[5]}};
}

CenterScale box_to_center_scale(double x, double y, double w, double h, double padding) {
  return {{x + 0.5 * w, y + 0.5 * h}, {w * padding, h * padding}};
}

Point2 fix_aspect_ratio(Point2 scale, double aspect) {
  check(aspect > 0, "fix_aspect_ratio: aspect ratio ", aspect, " is not positive");
  if (scale.x > scale.y * aspect) return {scale.x, scale.x / aspect};
  return {scale.y * aspect, scale.y};
}

Affine warp_matrix(Point2 center, Point2 scale, double rot_deg, int out_w, int out_h) {
  check(scale.x > 0 && out_w > 0 && out_h > 0, "warp_matrix: scale ", scale.x, "x", scale.y, " to output ",
        out_w, "x", out_h);
  // MMPose builds this from three point pairs with cv2.getAffineTransform; the pairs (centre, a point
  // half a width above it rotated by rot, and the perpendicular third point) define exactly the
  // similarity k * R(-rot) (p - centre) + (out_w / 2, out_h / 2) with k = out_w / scale.x.
  const double k = out_w / scale.x;
  const double r = rot_deg * M_PI / 180.0;
  const double c = std::cos(r) * k, s = std::sin(r) * k;
  const double tx = 0.5 * out_w, ty = 0.5 * out_h;
  return {{c, s, tx - c * center.x - s * center.y, -s, c, ty + s * center.x - c * center.y}};
}

Affine udp_warp_matrix(Point2 center, Point2 scale, double rot_deg, int out_w, int out_h) {
  check(scale.x > 0 && scale.y > 0 && out_w > 1 && out_h > 1, "udp_warp_matrix: scale ", scale.x, "x",
        scale.y, " to output ", out_w, "x", out_h);
  const double sx = (out_w - 1) / scale.x, sy = (out_h - 1) / scale.y;
  const double r = rot_deg * M_PI / 180.0;
  const double c = std::cos(r), s = std::sin(r);
  // sx, sy times R(rot) (p - centre), then the region's centre onto the output's centre pixel.
  return {{c * sx, -s * sx, sx * (-c * center.x + s * center.y + 0.5 * scale.x),
           s * sy, c * sy, sy * (-s * center.x - c * center.y + 0.5 * scale.y)}};
}

Affine horizontal_flip(int width) { return {{-1, 0, width - 1.0, 0, 1, 0}}; }

}  // namespace wb::pose
