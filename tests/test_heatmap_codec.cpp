#include <algorithm>
#include <cmath>

#include "pose/affine.h"
#include "pose/heatmap_codec.h"
#include "tensor/generator.h"
#include "tests/util.h"

using namespace wb;
using namespace wb::pose;

namespace {

// cv2.getAffineTransform: the affine map taking the three points src[i] to dst[i].
Affine affine_from_points(const Point2 src[3], const Point2 dst[3]) {
  // Solve [x y 1] rows for each output coordinate by Cramer's rule.
  const double a = src[0].x, b = src[0].y, c = src[1].x, d = src[1].y, e = src[2].x, f = src[2].y;
  const double det = a * (d - f) - b * (c - e) + (c * f - d * e);
  auto solve = [&](double r0, double r1, double r2) {
    const double m0 = (r0 * (d - f) - b * (r1 - r2) + (r1 * f - d * r2)) / det;
    const double m1 = (a * (r1 - r2) - r0 * (c - e) + (c * r2 - r1 * e)) / det;
    const double m2 = (a * (d * r2 - r1 * f) - b * (c * r2 - r1 * e) + r0 * (c * f - d * e)) / det;
    return std::array<double, 3>{m0, m1, m2};
  };
  const auto x = solve(dst[0].x, dst[1].x, dst[2].x), y = solve(dst[0].y, dst[1].y, dst[2].y);
  return {{x[0], x[1], x[2], y[0], y[1], y[2]}};
}

// MMPose get_warp_matrix written out the way MMPose computes it (three point pairs).
Affine mmpose_warp_matrix(Point2 center, Point2 scale, double rot_deg, int out_w, int out_h) {
  const double r = rot_deg * M_PI / 180.0;
  auto rotate = [&](Point2 p) { return Point2{p.x * std::cos(r) - p.y * std::sin(r), p.x * std::sin(r) + p.y * std::cos(r)}; };
  auto third = [](Point2 a, Point2 b) { return Point2{b.x - (a.y - b.y), b.y + (a.x - b.x)}; };
  const Point2 src_dir = rotate({0.0, scale.x * -0.5});
  Point2 src[3], dst[3];
  src[0] = center;
  src[1] = {center.x + src_dir.x, center.y + src_dir.y};
  src[2] = third(src[0], src[1]);
  dst[0] = {out_w * 0.5, out_h * 0.5};
  dst[1] = {out_w * 0.5, out_h * 0.5 - out_w * 0.5};
  dst[2] = third(dst[0], dst[1]);
  return affine_from_points(src, dst);
}

double dist(Point2 a, Point2 b) { return std::hypot(a.x - b.x, a.y - b.y); }

HeatmapCodec make_codec(HeatmapEncoding enc, HeatmapDecoding dec) {
  HeatmapCodec c;
  c.encoding = enc;
  c.decoding = dec;
  return c;
}

float at(const HeatmapTargets& t, int64_t k, int64_t y, int64_t x) {
  const int64_t h = t.heatmaps.size(-2), w = t.heatmaps.size(-1);
  return t.heatmaps.data<float>()[(k * h + y) * w + x];
}

}  // namespace

TEST_CASE("affine: warp_matrix equals MMPose's three-point construction; inverse round trip") {
  Generator gen(3);
  for (int i = 0; i < 20; ++i) {
    const Point2 c{gen.uniform(0, 640), gen.uniform(0, 480)};
    const Point2 s = fix_aspect_ratio({gen.uniform(20, 400), gen.uniform(20, 400)}, 192.0 / 256.0);
    const double rot = gen.uniform(-90, 90);
    const Affine ours = warp_matrix(c, s, rot, 192, 256);
    const Affine ref = mmpose_warp_matrix(c, s, rot, 192, 256);
    for (int j = 0; j < 6; ++j) CHECK(ours.m[j] == doctest::Approx(ref.m[j]).epsilon(1e-9).scale(1.0));
    // Affine warp then inverse returns every keypoint.
    for (const Affine& a : {ours, udp_warp_matrix(c, s, rot, 192, 256)}) {
      const Affine inv = a.inverse();
      for (int k = 0; k < 10; ++k) {
        const Point2 p{gen.uniform(-100, 700), gen.uniform(-100, 600)};
        CHECK(dist(inv.apply(a.apply(p)), p) < 1e-3);
        CHECK(dist(a.after(inv).apply(p), p) < 1e-6);
      }
    }
  }
}

TEST_CASE("affine: centre lands on the output centre; UDP aligns the first and last pixel centres") {
  const Point2 c{300.5, 200.25}, s{150.0, 200.0};
  const Point2 p = warp_matrix(c, s, 30.0, 192, 256).apply(c);
  CHECK(p.x == doctest::Approx(96.0));
  CHECK(p.y == doctest::Approx(128.0));
  const Affine u = udp_warp_matrix(c, s, 0.0, 192, 256);
  const Point2 q = u.apply(c);
  CHECK(q.x == doctest::Approx(95.5));
  CHECK(q.y == doctest::Approx(127.5));
  const Point2 left_top = u.apply({c.x - s.x / 2, c.y - s.y / 2});
  const Point2 right_bottom = u.apply({c.x + s.x / 2, c.y + s.y / 2});
  CHECK(left_top.x == doctest::Approx(0.0).scale(1));
  CHECK(left_top.y == doctest::Approx(0.0).scale(1));
  CHECK(right_bottom.x == doctest::Approx(191.0));
  CHECK(right_bottom.y == doctest::Approx(255.0));
  // Rotations of the two constructions turn in opposite senses, as in MMPose.
  const Point2 above{c.x, c.y - 50};
  CHECK(warp_matrix(c, s, 90.0, 192, 256).apply(above).x < 96.0 - 10);
  CHECK(udp_warp_matrix(c, s, 90.0, 192, 256).apply(above).x > 95.5 + 10);
}

TEST_CASE("affine: box to centre and scale, aspect fix, flip") {
  const CenterScale cs = box_to_center_scale(10, 20, 100, 50);
  CHECK(cs.center.x == 60.0);
  CHECK(cs.center.y == 45.0);
  CHECK(cs.scale.x == 125.0);
  CHECK(cs.scale.y == 62.5);
  const Point2 wide = fix_aspect_ratio({125.0, 62.5}, 0.75);
  CHECK(wide.x == 125.0);
  CHECK(wide.y == doctest::Approx(125.0 / 0.75));
  const Point2 tall = fix_aspect_ratio({30.0, 100.0}, 0.75);
  CHECK(tall.x == 75.0);
  CHECK(tall.y == 100.0);
  const Affine f = horizontal_flip(640);
  CHECK(f.apply({0, 5}).x == 639.0);
  CHECK(f.after(f).apply({123.25, 7}).x == 123.25);
  CHECK_THROWS_WITH_AS(Affine({{1, 2, 0, 2, 4, 0}}).inverse(), doctest::Contains("singular"), Error);
}

TEST_CASE("codec: OpenCV Gaussian kernels") {
  CHECK(opencv_gaussian_kernel(5) == std::vector<double>{0.0625, 0.25, 0.375, 0.25, 0.0625});
  const std::vector<double> g = opencv_gaussian_kernel(11);
  double sum = 0;
  for (double v : g) sum += v;
  CHECK(sum == doctest::Approx(1.0));
  // sigma = 0.3 * ((11 - 1) / 2 - 1) + 0.8 = 2
  CHECK(g[5] / g[6] == doctest::Approx(std::exp(0.5 / 4.0)));
  CHECK_THROWS_AS(opencv_gaussian_kernel(4), Error);
}

TEST_CASE("codec: MSRA targets peak at the rounded keypoint, 3-sigma window, weights") {
  HeatmapCodec c = make_codec(HeatmapEncoding::Msra, HeatmapDecoding::Shift);
  // Input pixels; stride 4. Keypoint 0 at heatmap (10.3, 20.6) -> centre (10, 21).
  const std::vector<Point2> kp{{41.2, 82.4}, {100, 100}, {-20, 50}, {-34, 50}, {187, 251}, {191, 255}};
  const std::vector<float> vis{1, 0, 1, 1, 1, 1};
  const HeatmapTargets t = encode_heatmaps(c, kp, vis);
  CHECK(t.heatmaps.shape() == Shape{6, 64, 48});
  CHECK(at(t, 0, 21, 10) == 1.0f);
  CHECK(at(t, 0, 21, 12) == doctest::Approx(std::exp(-4.0 / 8.0)));
  CHECK(at(t, 0, 23, 12) == doctest::Approx(std::exp(-8.0 / 8.0)));
  CHECK(at(t, 0, 21, 16) == doctest::Approx(std::exp(-36.0 / 8.0)));
  CHECK(at(t, 0, 21, 17) == 0.0f);  // beyond 3 sigma
  double mass1 = 0;
  for (int64_t y = 0; y < 64; ++y)
    for (int64_t x = 0; x < 48; ++x) mass1 += at(t, 1, y, x);
  const std::vector<float> w = t.weights.to_float_vector();
  CHECK(w == std::vector<float>{1, 0, 1, 0, 1, 1});
  CHECK(mass1 == 0.0);                  // unlabelled: empty target
  CHECK(at(t, 2, 13, 0) > 0.0f);        // (-5, 12.5): off the map, tail inside
  CHECK(at(t, 4, 63, 47) == 1.0f);      // the last pixel
  // (47.75, 63.75) rounds to (48, 64), just off the map: MMPose keeps the clipped Gaussian.
  CHECK(at(t, 5, 63, 47) == doctest::Approx(std::exp(-2.0 / 8.0)));
}

TEST_CASE("codec: UDP targets centre the Gaussian on the exact keypoint") {
  HeatmapCodec c = make_codec(HeatmapEncoding::Udp, HeatmapDecoding::Dark);
  // Heatmap position = input * 47 / 191 (x), * 63 / 255 (y).
  const Point2 hm{10.3, 20.6};
  const Point2 in = c.heatmap_to_input(hm);
  CHECK(c.input_to_heatmap(in).x == doctest::Approx(10.3));
  const HeatmapTargets t = encode_heatmaps(c, {in}, {1});
  for (int y : {20, 21})
    for (int x : {10, 11, 13})
      CHECK(at(t, 0, y, x) == doctest::Approx(std::exp(-((x - 10.3) * (x - 10.3) + (y - 20.6) * (y - 20.6)) / 8.0)));
  // The maximum is at the nearest pixel.
  int64_t best = 0;
  for (int64_t i = 1; i < 64 * 48; ++i)
    if (t.heatmaps.data<float>()[i] > t.heatmaps.data<float>()[best]) best = i;
  CHECK(best == 21 * 48 + 10);
}

TEST_CASE("codec: Megvii multi-kernel targets peak at 255 on the truncated keypoint") {
  HeatmapCodec c = make_codec(HeatmapEncoding::Megvii, HeatmapDecoding::Shift);
  c.kernel_sizes = {11, 9, 7, 5};
  const HeatmapTargets t = encode_heatmaps(c, {{41.9, 82.9}, {4.5, 4.5}, {200, 10}}, {1, 1, 1});
  CHECK(t.heatmaps.shape() == Shape{4, 3, 64, 48});
  const int64_t plane = 64 * 48;
  const float* hm = t.heatmaps.data<float>();
  double prev_spread = 1e9;
  for (int s = 0; s < 4; ++s) {
    const float* k0 = hm + (s * 3 + 0) * plane;
    CHECK(k0[20 * 48 + 10] == doctest::Approx(255.0));
    for (int64_t i = 0; i < plane; ++i) CHECK(k0[i] <= 255.0f + 1e-3f);
    // Smaller kernels give narrower targets.
    const double spread = k0[20 * 48 + 12];
    CHECK(spread < prev_spread);
    prev_spread = spread;
  }
  // 5x5 uses OpenCV's fixed table [1, 4, 6, 4, 1] / 16: neighbour / centre = 4 / 6.
  CHECK(hm[(3 * 3 + 0) * plane + 20 * 48 + 11] == doctest::Approx(255.0 * 4.0 / 6.0));
  // Next to the border (keypoint at heatmap (1, 1)), BORDER_REFLECT_101 folds the kernel back:
  // column 0 gets both outer taps (4 + 4), the keypoint's column the centre and a folded tap (6 + 1).
  CHECK(hm[(3 * 3 + 1) * plane + 1 * 48 + 0] == doctest::Approx(255.0 * 8.0 / 7.0));
  CHECK(t.weights.to_float_vector() == std::vector<float>{1, 1, 0});
}

TEST_CASE("codec: the shift decoder moves a quarter pixel toward the higher neighbour") {
  HeatmapCodec c = make_codec(HeatmapEncoding::Msra, HeatmapDecoding::Shift);
  Tensor hm = Tensor::zeros({2, 64, 48});
  float* p = hm.data<float>();
  p[30 * 48 + 20] = 1.0f;
  p[30 * 48 + 21] = 0.5f;  // right higher than left
  p[29 * 48 + 20] = 0.4f;  // up higher than down
  const std::vector<DecodedKeypoint> d = decode_heatmaps(c, hm);
  CHECK(d[0].xy.x == doctest::Approx(20.25 * 4));
  CHECK(d[0].xy.y == doctest::Approx(29.75 * 4));
  CHECK(d[0].score == doctest::Approx(1.0));
  CHECK(d[1].score == 0.0);  // an empty heatmap: no position
  CHECK(d[1].xy.x == -4.0);
  CHECK_THROWS_WITH_AS(decode_heatmaps(c, Tensor::zeros({2, 32, 48})), doctest::Contains("[2, 32, 48]"), Error);
}

TEST_CASE("codec: DARK recovers a sub-pixel Gaussian centre") {
  HeatmapCodec c = make_codec(HeatmapEncoding::Msra, HeatmapDecoding::Dark);
  Tensor hm = Tensor::zeros({1, 64, 48});
  const Point2 centre{17.37, 40.81};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 48; ++x)
      hm.data<float>()[y * 48 + x] =
          static_cast<float>(std::exp(-((x - centre.x) * (x - centre.x) + (y - centre.y) * (y - centre.y)) / 8.0));
  const Point2 got = c.input_to_heatmap(decode_heatmaps(c, hm)[0].xy);
  CHECK(dist(got, centre) < 0.02);
  c.decoding = HeatmapDecoding::Shift;
  CHECK(dist(c.input_to_heatmap(decode_heatmaps(c, hm)[0].xy), centre) > 0.05);
}

TEST_CASE("codec: decode(encode(k)) returns k, in input and in image pixels") {
  struct Case {
    HeatmapEncoding enc;
    HeatmapDecoding dec;
    double tol_heatmap_px;  // per axis
  };
  // Msra centres its Gaussian on the rounded position: up to half a heatmap pixel is lost for good.
  // Megvii truncates: up to one. UDP keeps the sub-pixel position for DARK to find.
  const Case cases[] = {{HeatmapEncoding::Msra, HeatmapDecoding::Shift, 0.5},
                        {HeatmapEncoding::Msra, HeatmapDecoding::Dark, 0.5},
                        {HeatmapEncoding::Udp, HeatmapDecoding::Shift, 0.25},
                        {HeatmapEncoding::Udp, HeatmapDecoding::Dark, 0.01},
                        {HeatmapEncoding::Megvii, HeatmapDecoding::Shift, 1.0}};
  Generator gen(11);
  for (const Case& cs : cases) {
    HeatmapCodec c = make_codec(cs.enc, cs.dec);
    CAPTURE(static_cast<int>(cs.enc));
    CAPTURE(static_cast<int>(cs.dec));
    // Keypoints in the image, a crop around them with a random rotation.
    const Point2 center{gen.uniform(200, 400), gen.uniform(200, 300)};
    const Point2 scale = fix_aspect_ratio({gen.uniform(100, 300), gen.uniform(100, 300)}, 0.75);
    const double rot = gen.uniform(-40, 40);
    const Affine crop = cs.enc == HeatmapEncoding::Udp ? udp_warp_matrix(center, scale, rot, 192, 256)
                                                       : warp_matrix(center, scale, rot, 192, 256);
    std::vector<Point2> image_kp, input_kp;
    for (int k = 0; k < 17; ++k) {
      // Stay 7 heatmap pixels inside, beyond the 3-sigma window, so that no Gaussian is clipped by
      // the border (a clipped one is lopsided and DARK follows its new centre of mass).
      const Point2 in{gen.uniform(28, 164), gen.uniform(28, 228)};
      input_kp.push_back(in);
      image_kp.push_back(crop.inverse().apply(in));
    }
    const HeatmapTargets t = encode_heatmaps(c, input_kp, std::vector<float>(17, 1.0f));
    const Tensor first = c.encoding == HeatmapEncoding::Megvii ? t.heatmaps.select(0, 3).contiguous() : t.heatmaps;
    const std::vector<DecodedKeypoint> in_input = decode_heatmaps(c, first);
    const std::vector<DecodedKeypoint> in_image = crop_to_image(in_input, crop);
    // Input pixels per heatmap pixel and image pixels per input pixel, the larger of the two axes.
    const Point2 unit = c.heatmap_to_input({1, 1});
    const double px = std::max(unit.x, unit.y);
    const Affine back = crop.inverse();
    const double zoom = std::max(std::hypot(back.m[0], back.m[3]), std::hypot(back.m[1], back.m[4]));
    for (int k = 0; k < 17; ++k) {
      const Point2 hm_got = c.input_to_heatmap(in_input[k].xy), hm_want = c.input_to_heatmap(input_kp[k]);
      CHECK(std::fabs(hm_got.x - hm_want.x) <= cs.tol_heatmap_px + 1e-9);
      CHECK(std::fabs(hm_got.y - hm_want.y) <= cs.tol_heatmap_px + 1e-9);
      CHECK(dist(in_image[k].xy, image_kp[k]) <= std::sqrt(2.0) * cs.tol_heatmap_px * px * zoom + 1e-6);
      CHECK(in_input[k].score > 0.5);
    }
  }
}

TEST_CASE("codec: configuration errors name the field") {
  HeatmapCodec c;
  c.sigma = 0;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("sigma"), Error);
  c = HeatmapCodec{};
  c.encoding = HeatmapEncoding::Megvii;
  c.kernel_sizes = {11, 8};
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("kernel size 8"), Error);
  c.kernel_sizes = {11};
  c.decoding = HeatmapDecoding::Dark;
  CHECK_THROWS_WITH_AS(c.validate(), doctest::Contains("decoding"), Error);
  CHECK_THROWS_WITH_AS(encode_heatmaps(HeatmapCodec{}, {{1, 1}}, {1, 1}), doctest::Contains("visibility"), Error);
}
