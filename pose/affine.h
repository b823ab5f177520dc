// Top-down crop geometry, MMPose 1.x semantics: a person box becomes a (centre, scale) pair in image
// pixels, and a crop is the affine map from (centre, scale, rotation) to the network input. Pixel
// centres sit at integer coordinates throughout. Training (datasets/) and inference both use these,
// and decoding maps heatmap peaks back to the image through the inverse map.
#pragma once
#include <array>

namespace wb::pose {

struct Point2 {
  double x = 0, y = 0;
};

// x' = m[0] x + m[1] y + m[2],  y' = m[3] x + m[4] y + m[5]  (OpenCV's 2x3 layout, row-major).
struct Affine {
  std::array<double, 6> m{1, 0, 0, 0, 1, 0};

  Point2 apply(Point2 p) const { return {m[0] * p.x + m[1] * p.y + m[2], m[3] * p.x + m[4] * p.y + m[5]}; }
  Affine inverse() const;  // error when singular
  // The map "first `first`, then this".
  Affine after(const Affine& first) const;
};

// A box (x, y, w, h) in pixels to its centre and its size times `padding` (MMPose bbox_xywh2cs).
struct CenterScale {
  Point2 center;
  Point2 scale;  // width and height of the region, in pixels
};
CenterScale box_to_center_scale(double x, double y, double w, double h, double padding = 1.25);

// Grows one side of `scale` so that width / height == aspect (MMPose TopdownAffine._fix_aspect_ratio).
Point2 fix_aspect_ratio(Point2 scale, double aspect);

// MMPose get_warp_matrix: the similarity that maps `center` to (out_w / 2, out_h / 2), scales by
// out_w / scale.x and rotates the image content by `rot_deg`. `scale` must already have the output's
// aspect ratio (only its width is used).
Affine warp_matrix(Point2 center, Point2 scale, double rot_deg, int out_w, int out_h);

// MMPose get_udp_warp_matrix (unbiased data processing): maps `center` to ((out_w - 1) / 2,
// (out_h - 1) / 2) with scales (out_w - 1) / scale.x and (out_h - 1) / scale.y, so that the first and
// last pixel centres of the region land on the first and last pixel centres of the output. Its
// rotation has the opposite sense to warp_matrix's, as in MMPose; random rotations are symmetric,
// and image and keypoints always go through the same matrix, so training is unaffected.
Affine udp_warp_matrix(Point2 center, Point2 scale, double rot_deg, int out_w, int out_h);

// x -> width - 1 - x: the horizontal flip of an image `width` pixels wide.
Affine horizontal_flip(int width);

}  // namespace wb::pose
