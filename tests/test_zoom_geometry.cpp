// ZoomNet's coordinate frames and targets (pose/zoom_geometry.h, pose/zoom_targets.h): image <->
// BodyNet input <-> feature map <-> head heatmap through rotated and flipped person crops and RoI
// expansions 1.0-1.3; the frames agree with what RoIAlign samples; box and head targets.
#include <cmath>
#include <vector>

#include "autograd/ops_pose.h"
#include "pose/affine.h"
#include "pose/heatmap_codec.h"
#include "pose/keypoints.h"
#include "pose/zoom_geometry.h"
#include "pose/zoom_targets.h"
#include "tests/util.h"

using namespace wb;
using pose::Point2;

namespace {

constexpr int kInW = 288, kInH = 384, kImageW = 640;

// A person crop of a 640-wide image: centre (320, 240), 200 px wide, rotated, optionally mirrored.
pose::Affine person_affine(double rot, bool flip) {
  const Point2 scale = pose::fix_aspect_ratio({200, 240}, static_cast<double>(kInW) / kInH);
  const pose::Affine a = pose::warp_matrix({320, 240}, scale, rot, kInW, kInH);
  return flip ? a.after(pose::horizontal_flip(kImageW)) : a;
}

double dist(Point2 a, Point2 b) { return std::hypot(a.x - b.x, a.y - b.y); }

}  // namespace

TEST_CASE("zoom geometry: boxes, square RoIs and their expansion") {
  const pose::RoiBox b = pose::box_from_points({{10, 40}, {30, 20}, {22, 33}, {10, 20}, {20, 30}});
  CHECK(b.x1 == 10);
  CHECK(b.y1 == 20);
  CHECK(b.x2 == 30);
  CHECK(b.y2 == 40);
  const auto pts = pose::box_points(b);
  REQUIRE(pts.size() == 5);
  CHECK(pts[1].x == 30);
  CHECK(pts[1].y == 20);  // top right
  CHECK(pts[4].x == 20);
  CHECK(pts[4].y == 30);  // centre
  const pose::RoiBox wide{0, 0, 40, 10};
  const pose::RoiBox r = pose::make_roi(wide, 1.2, 4, 384);
  CHECK(r.width() == doctest::Approx(48));
  CHECK(r.height() == doctest::Approx(48));
  CHECK(r.center().x == doctest::Approx(20));
  CHECK(r.center().y == doctest::Approx(5));
  CHECK(pose::make_roi({5, 5, 5, 5}, 1.0, 8, 384).width() == doctest::Approx(8));  // a point: the minimum side
  CHECK(pose::make_roi({0, 0, 1000, 10}, 1.0, 8, 384).width() == doctest::Approx(384));
  CHECK_THROWS_AS(pose::make_roi(wide, 0.0, 4, 384), Error);
}

TEST_CASE("zoom geometry: image -> head heatmap -> image round trip, rotated and flipped crops, expansion 1.0-1.3") {
  const Point2 p_img{331.7, 205.2};
  for (double rot : {0.0, 30.0, -75.0}) {
    for (bool flip : {false, true}) {
      for (double e : {1.0, 1.1, 1.2, 1.3}) {
        CAPTURE(rot);
        CAPTURE(flip);
        CAPTURE(e);
        const pose::Affine a = person_affine(rot, flip);
        const Point2 q = a.apply(p_img);  // BodyNet input
        const pose::RoiFrame f{pose::make_roi({q.x - 10, q.y - 14, q.x + 16, q.y + 9}, e, 8, 384), 64};
        const pose::Affine to_head = pose::image_to_head(a, f);
        const Point2 h = to_head.apply(p_img);
        CHECK(dist(h, f.input_to_head(q)) < 1e-9);
        CHECK(h.x > -0.5);
        CHECK(h.x < 63.5);
        CHECK(dist(to_head.inverse().apply(h), p_img) < 1e-9);
        CHECK(dist(a.inverse().apply(f.head_to_input(h)), p_img) < 1e-9);
        // Through a rendered sigma-3 target and its decoding, as training and inference see it.
        pose::HeatmapCodec codec = pose::head_codec(64, 3.0);
        codec.decoding = pose::HeatmapDecoding::Dark;
        const auto t = pose::encode_heatmaps(codec, {h}, {1.0f});
        const auto d = pose::decode_heatmaps(codec, t.heatmaps);
        const Point2 back = a.inverse().apply(f.head_to_input(d[0].xy));
        CHECK(dist(back, p_img) < 0.5);
      }
    }
  }
}

TEST_CASE("zoom geometry agrees with RoIAlign: a one-hot feature lands where the frames say") {
  const int out = 64;
  const double stride = 4;
  const int64_t u = 30, v = 41;  // the hot feature pixel; input (120, 164)
  for (double rot : {0.0, 30.0, -75.0}) {
    for (bool flip : {false, true}) {
      for (double e : {1.0, 1.1, 1.2, 1.3}) {
        CAPTURE(rot);
        CAPTURE(flip);
        CAPTURE(e);
        const pose::Affine a = person_affine(rot, flip);
        const Point2 hot_input = pose::feature_to_input({static_cast<double>(u), static_cast<double>(v)}, stride);
        const Point2 hot_image = a.inverse().apply(hot_input);  // the known image point
        Tensor feats = Tensor::zeros({1, 1, kInH / 4, kInW / 4}, DType::F64);
        feats.data<double>()[v * (kInW / 4) + u] = 1.0;
        const Point2 q = a.apply(hot_image);
        const pose::RoiFrame f{pose::make_roi({q.x - 9, q.y - 13, q.x + 11, q.y + 8}, e, 8, 384), out};
        const Tensor rois = Tensor::from_vector({0.0, f.roi.x1, f.roi.y1, f.roi.x2, f.roi.y2}, {1, 5}, DType::F64);
        const Tensor y = ops::roi_align(feats, rois, pose::zoom_roi_align_params(out, stride));
        // Bilinear sampling of a one-hot map is the tent around the hot pixel, evaluated where the
        // frame puts each head pixel's centre on the feature map.
        Tensor expected = Tensor::zeros({1, 1, out, out}, DType::F64);
        for (int i = 0; i < out; ++i) {
          for (int j = 0; j < out; ++j) {
            const Point2 fp = pose::input_to_feature(f.head_to_input({double(j), double(i)}), stride);
            expected.data<double>()[i * out + j] =
                std::max(0.0, 1 - std::fabs(fp.x - u)) * std::max(0.0, 1 - std::fabs(fp.y - v));
          }
        }
        WB_CHECK_CLOSE(y, expected, 1e-12, 0);
        // The response peaks at the head pixel nearest to where the image point maps.
        const Point2 h = pose::image_to_head(a, f).apply(hot_image);
        const std::vector<double> yv = y.to_double_vector();
        const size_t peak = static_cast<size_t>(std::max_element(yv.begin(), yv.end()) - yv.begin());
        CHECK(std::fabs(static_cast<double>(peak % out) - h.x) <= 0.5 + 1e-9);
        CHECK(std::fabs(static_cast<double>(peak / out) - h.y) <= 0.5 + 1e-9);
      }
    }
  }
}

TEST_CASE("zoom targets: 38 BodyNet channels with box keypoints, invalid parts masked, head targets in the RoI") {
  const pose::KeypointSet& wb = pose::coco_wholebody();
  std::vector<Point2> k(wb.size(), Point2{100, 100});
  std::vector<float> vis(wb.size(), 0.0f);
  vis[0] = 1;  // nose
  k[0] = {140, 60};
  const int face = pose::part_begin(pose::ZoomPart::Face);
  for (int i = 0; i < 10; ++i) {  // a labelled face spanning x 120-156, y 40-76
    k[face + i] = {120.0 + 4 * i, 40.0 + 4 * (9 - i)};
    vis[face + i] = 1;
  }
  vis[pose::part_begin(pose::ZoomPart::LeftHand)] = 1;  // one point: no box; right hand unlabelled

  const auto boxes = pose::part_boxes(k, vis);
  CHECK(boxes[0].valid);
  CHECK_FALSE(boxes[1].valid);
  CHECK_FALSE(boxes[2].valid);
  CHECK(boxes[0].box.x1 == 120);
  CHECK(boxes[0].box.y2 == 76);

  pose::HeatmapCodec codec;
  codec.input_w = 288;
  codec.input_h = 384;
  codec.heatmap_w = 72;
  codec.heatmap_h = 96;
  codec.sigma = 3;
  const auto t = pose::body_targets(codec, k, vis);
  REQUIRE(t.heatmaps.shape() == Shape{38, 96, 72});
  const std::vector<double> w = t.weights.to_double_vector();
  CHECK(w[0] == 1);
  CHECK(w[1] == 0);
  for (int p = 0; p < 5; ++p) {
    CHECK(w[pose::box_channel(pose::ZoomPart::Face, p)] == 1);
    CHECK(w[pose::box_channel(pose::ZoomPart::LeftHand, p)] == 0);
    CHECK(w[pose::box_channel(pose::ZoomPart::RightHand, p)] == 0);
  }
  // The face box's bottom-right channel peaks at (156, 76) / 4 = (39, 19).
  const int br = pose::box_channel(pose::ZoomPart::Face, 3);
  CHECK(br == 23 + 3);
  CHECK(t.heatmaps.data<float>()[(br * 96 + 19) * 72 + 39] == doctest::Approx(1.0));

  // Head targets in a RoI frame: the peak at the keypoint's head-frame position (rounded).
  const pose::RoiFrame f{pose::make_roi(boxes[0].box, 1.0, 8, 384), 64};
  const auto h = pose::head_targets(f, 3.0, pose::ZoomPart::Face, k, vis);
  REQUIRE(h.heatmaps.shape() == Shape{68, 64, 64});
  const std::vector<double> hw = h.weights.to_double_vector();
  CHECK(hw[0] == 1);
  CHECK(hw[10] == 0);
  const Point2 c = f.input_to_head(k[face + 2]);
  const int cx = static_cast<int>(std::lround(c.x)), cy = static_cast<int>(std::lround(c.y));
  CHECK(h.heatmaps.data<float>()[(2 * 64 + cy) * 64 + cx] == doctest::Approx(1.0));
  CHECK_THROWS_AS(pose::part_boxes(std::vector<Point2>(17), std::vector<float>(17)), Error);
}
