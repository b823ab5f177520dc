// The ZoomNet supernet (nas/elastic_zoomnet.h): its largest sub-network is a plain ZoomNet, an
// exported sub-network equals the supernet at its config (f64, 1e-6) whatever its feature stages,
// expansions and head sizes, gradients reach only the active slices and adapter (and BodyNet
// through RoIAlign), the sandwich step trains a tiny supernet deterministically, and misfits are
// errors naming the field.
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "nas/elastic_zoomnet.h"
#include "nn/optimizer.h"
#include "pose/keypoints.h"
#include "tests/tiny_zoomnet.h"
#include "tests/util.h"

using namespace wb;
using pose::Point2;
using pose::ZoomPart;

namespace {

// Table 2's structure at a test's size: crops 32 or 64 square, heads 8 or 16, widths 2-16,
// stages 2-4 of one-block modules; every feature stage but 3 (so 3 is a misfit).
nas::ZoomNasSpace tiny_space() {
  nas::ZoomNasSpace s = nas::zoomnas_space();
  nas::HRNetSpace& b = s.body;
  b.input_heights = {32, 64};
  b.aspect_w = b.aspect_h = 1;
  b.stem_widths = {4, 8};
  b.stage1_depths = {1, 2};
  b.stage1_widths = {2, 4};
  b.stage_depths = {std::vector<int64_t>{1}, {1, 2}, {1}};
  b.blocks_per_module = 1;
  b.branch_widths = {std::vector<int64_t>{2, 4}, {4, 8}, {4, 8}, {8, 16}};
  for (nas::HeadSpace* h : {&s.face, &s.hand}) {
    h->net = b;
    h->net.stem_widths.clear();
    h->net.input_heights = {8, 16};
    h->feature_stages = {0, 1, 2, 4};
    h->roi_expansions = {1.0, 1.2};
  }
  return s;
}

pose::ZoomNetConfig tiny_base() { return pose::zoomnet_config_from_json(test::tiny_zoomnet_config(), "tiny"); }

// Every weight and BN statistic random (f64), so slices and adapters differ from each other.
void randomize(nn::Module& m, uint64_t seed) {
  Generator gen(seed);
  m.to(DType::F64);
  m.reset_parameters(gen);
  for (auto& [name, t] : m.named_buffers()) {
    if (name.find("running_mean") != std::string::npos) t.copy_(Tensor::rand(t.shape(), gen, DType::F64, Device::cpu(), -0.1, 0.1));
    if (name.find("running_var") != std::string::npos) t.copy_(Tensor::rand(t.shape(), gen, DType::F64, Device::cpu(), 0.5, 1.5));
  }
  for (auto& [name, t] : m.named_parameters()) {
    if (name.find("weight") == std::string::npos || t.dim() == 1) {  // BN weights and every bias
      t.copy_(Tensor::rand(t.shape(), gen, DType::F64, Device::cpu(), 0.5, 1.5));
    }
  }
}

// Fixed RoIs on a `side`-pixel crop (the parts of synthetic_batch), scaled from the 64-pixel layout.
std::vector<pose::ZoomRois> fixed_rois(int n, double side) {
  const double s = side / 64;
  pose::ZoomRois r;
  r[ZoomPart::Face] = {28 * s, 4 * s, 52 * s, 28 * s};
  r[ZoomPart::LeftHand] = {2 * s, 34 * s, 22 * s, 54 * s};
  r[ZoomPart::RightHand] = {42 * s, 38 * s, 62 * s, 58 * s};
  return std::vector<pose::ZoomRois>(static_cast<size_t>(n), r);
}

// n persons in 64x64 crops: body keypoints spread out, a face around (40, 16), hands around
// (12, 44) and (52, 48).
pose::ZoomBatch synthetic_batch(int n, DType dtype, uint64_t seed) {
  pose::ZoomBatch b;
  Generator g(seed);
  b.images = Tensor::randn({n, 3, 64, 64}, g, dtype);
  const int total = static_cast<int>(pose::coco_wholebody().size());
  for (int p = 0; p < n; ++p) {
    std::vector<Point2> k(static_cast<size_t>(total));
    for (int i = 0; i < 23; ++i) k[i] = {8.0 + (i * 13 + p * 5) % 48, 4.0 + (i * 11) % 56};
    auto cluster = [&](ZoomPart part, Point2 c, double r) {
      const int first = pose::part_begin(part), count = pose::part_size(part);
      for (int i = 0; i < count; ++i) {
        const double t = 6.283185307 * i / count;
        k[first + i] = {c.x + r * std::cos(t) * (0.5 + 0.25 * (i % 3)), c.y + r * std::sin(t)};
      }
    };
    cluster(ZoomPart::Face, {40, 16}, 8);
    cluster(ZoomPart::LeftHand, {12, 44}, 6);
    cluster(ZoomPart::RightHand, {52, 48}, 6);
    b.keypoints.push_back(k);
    b.visible.emplace_back(static_cast<size_t>(total), 1.0f);
  }
  return b;
}

Tensor crops_for(const pose::ZoomNetConfig& c, int n, uint64_t seed) {
  return test::randn64({n, 3, c.body.input_size[0], c.body.input_size[1]}, seed, false);
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_double_vector()) m = std::max(m, std::abs(v));
  return m;
}

// Whether every entry of the named parameter's gradient is zero (or it has none).
bool grad_zero(nn::Module& m, const std::string& param) {
  for (const auto& [name, t] : m.named_parameters()) {
    if (name != param) continue;
    if (!t.grad().defined()) return true;
    for (double v : t.grad().to_double_vector()) {
      if (v != 0) return false;
    }
    return true;
  }
  FAIL("no parameter " << param);
  return false;
}

}  // namespace

TEST_CASE("nas zoomnet: the largest sub-network is a plain ZoomNet with the same weights") {
  nas::ElasticZoomNet super(tiny_space(), tiny_base());
  const pose::ZoomNetConfig largest = super.largest();
  CHECK(largest.body.input_size == std::array<int64_t, 2>{64, 64});
  CHECK(largest.face_head.feature_stage == 4);
  CHECK(largest.hand_head.roi_expansion == 1.2);

  // init_weights draws the plain model's weights first, in its order.
  {
    nas::ElasticZoomNet a(tiny_space(), tiny_base());
    pose::ZoomNet plain(largest);
    Generator g1(3), g2(3);
    a.init_weights(g1);
    plain.init_weights(g2);
    const auto sa = a.module().state_dict();
    size_t shared = 0;
    for (const auto& [name, t] : plain.state_dict()) {
      for (const auto& [sname, st] : sa) {
        if (sname != name) continue;
        ++shared;
        CHECK_MESSAGE(st.to_double_vector() == t.to_double_vector(), name);
      }
    }
    CHECK(shared == plain.state_dict().size());
  }

  randomize(super.module(), 1);
  pose::ZoomNet plain(largest);
  plain.to(DType::F64);
  TensorMap weights;
  for (const auto& [name, t] : super.module().state_dict()) weights[name] = t;
  const nn::LoadResult r = plain.load_state_dict(weights, false);
  CHECK(r.missing.empty());
  CHECK(r.mismatched.empty());
  for (const std::string& u : r.unexpected) CHECK_MESSAGE(u.find("_adapters.") != std::string::npos, u);
  super.module().eval();
  plain.eval();
  autograd::NoGradGuard no_grad;
  const Tensor x = crops_for(largest, 2, 4);
  const pose::ZoomOutputs a = super.run(x, largest), b = plain.run(x);
  WB_CHECK_CLOSE(a.body, b.body, 1e-12, 1e-9);
  WB_CHECK_CLOSE(a.face, b.face, 1e-12, 1e-9);
  WB_CHECK_CLOSE(a.hands, b.hands, 1e-12, 1e-9);
}

TEST_CASE("nas zoomnet: an exported sub-network equals the supernet at its config (f64, 1e-6)") {
  const nas::ZoomNasSpace space = tiny_space();
  nas::ElasticZoomNet super(space, tiny_base());
  randomize(super.module(), 2);
  super.module().eval();
  Generator gen(21);
  const int64_t stages[] = {0, 1, 2, 4};
  for (int i = 0; i < 5; ++i) {
    pose::ZoomNetConfig c = nas::sample_zoomnet(space, super.largest(), i == 0 ? nas::Pick::Smallest : nas::Pick::Uniform, gen);
    if (i > 0) {  // every feature stage for each head across the cases, the two heads apart
      c.face_head.feature_stage = stages[(i - 1) % 4];
      c.hand_head.feature_stage = stages[i % 4];
    }
    CAPTURE(i);
    auto sub = super.export_subnet(c);
    CHECK(!sub->is_training());
    const Tensor x = crops_for(c, 2, 30 + static_cast<uint64_t>(i));
    const std::vector<pose::ZoomRois> given = fixed_rois(2, static_cast<double>(c.body.input_size[0]));
    autograd::NoGradGuard no_grad;
    for (const std::vector<pose::ZoomRois>* rois : {&given, static_cast<const std::vector<pose::ZoomRois>*>(nullptr)}) {
      const pose::ZoomOutputs expected = super.run(x, c, rois), got = sub->run(x, rois);
      CHECK(max_abs(expected.body) > 1e-2);  // the comparison means something only well above the tolerance
      CHECK(max_abs(expected.face) > 1e-2);
      CHECK(max_abs(expected.hands) > 1e-2);
      WB_CHECK_CLOSE(got.body, expected.body, 1e-6, 1e-6);
      WB_CHECK_CLOSE(got.face, expected.face, 1e-6, 1e-6);
      WB_CHECK_CLOSE(got.hands, expected.hands, 1e-6, 1e-6);
      for (size_t n = 0; n < got.rois.size(); ++n) {
        for (int p = 0; p < pose::kZoomParts; ++p) {
          CHECK(got.rois[n].roi[p].x1 == expected.rois[n].roi[p].x1);
          CHECK(got.rois[n].roi[p].x2 == expected.rois[n].roi[p].x2);
        }
      }
    }
  }
}

TEST_CASE("nas zoomnet: gradients reach only the active slices and adapter, and BodyNet through RoIAlign") {
  const nas::ZoomNasSpace space = tiny_space();
  nas::ElasticZoomNet super(space, tiny_base());
  randomize(super.module(), 5);
  super.module().train();
  Generator gen(6);
  pose::ZoomNetConfig c = nas::sample_zoomnet(space, super.largest(), nas::Pick::Smallest, gen);
  c.face_head.feature_stage = 1;  // layer1's output: 4 x 2 = 8 of the largest's 16 channels
  c.hand_head.feature_stage = 2;
  // The face head alone: its gradient reaches BodyNet only through RoIAlign's features.
  const pose::ZoomOutputs o = super.run(crops_for(c, 2, 7), c, nullptr);
  autograd::backward(ops::sum(ops::mul(o.face, o.face)));
  nn::Module& m = super.module();

  // The active adapter: stage 1's, leading 8 input columns of its [4, 16, 1, 1] kernel.
  const std::string adapter = "face_adapters.1.0.weight";
  Tensor g;
  for (const auto& [name, t] : m.named_parameters()) {
    if (name == adapter) g = t.grad();
  }
  REQUIRE(g.defined());
  const std::vector<double> v = g.to_double_vector();
  double inside = 0, outside = 0;
  for (int64_t o4 = 0; o4 < 4; ++o4) {
    for (int64_t i = 0; i < 16; ++i) (i < 8 ? inside : outside) += std::abs(v[static_cast<size_t>(o4 * 16 + i)]);
  }
  CHECK(inside > 0);
  CHECK(outside == 0);
  // The other adapters of the face head, and the whole hand head, got nothing.
  for (const char* p : {"face_adapters.0.0.weight", "face_adapters.2.0.weight", "face_head.adapter.0.weight",
                        "hand_adapters.2.0.weight", "hand_head.backbone.layer1.0.conv1.weight"}) {
    CHECK_MESSAGE(grad_zero(m, p), p);
  }
  // The face head's skipped depth: stage 3's second module (smallest: one).
  CHECK(grad_zero(m, "face_head.backbone.stage3.1.branches.0.0.conv1.weight"));
  // BodyNet: layer1 (the tapped stage) and the stem get gradient through RoIAlign; everything
  // after the tap, and the body heatmap head, none (the RoIs are data).
  CHECK(!grad_zero(m, "body.backbone.layer1.0.conv1.weight"));
  CHECK(!grad_zero(m, "body.backbone.conv1.weight"));
  CHECK(grad_zero(m, "body.backbone.stage2.0.branches.0.0.conv1.weight"));
  CHECK(grad_zero(m, "body.head.final_layer.weight"));
}

TEST_CASE("nas zoomnet: check_fits names the field") {
  nas::ElasticZoomNet super(tiny_space(), tiny_base());
  auto error_for = [&](const std::function<void(pose::ZoomNetConfig&)>& edit) {
    pose::ZoomNetConfig c = super.largest();
    edit(c);
    return test::error_of([&] { super.check_fits(c); });
  };
  CHECK(error_for([](pose::ZoomNetConfig&) {}).empty());
  CHECK(error_for([](pose::ZoomNetConfig& c) { c.body.stem_channels = 16; }).find("\"body.stem_channels\"") !=
        std::string::npos);
  CHECK(error_for([](pose::ZoomNetConfig& c) { c.face_head.feature_stage = 3; }).find("\"face_head.feature_stage\"") !=
        std::string::npos);
  CHECK(error_for([](pose::ZoomNetConfig& c) { c.hand_head.net.branch_widths[2] = 16; })
            .find("\"hand_head.branch_widths\"") != std::string::npos);
  CHECK(error_for([](pose::ZoomNetConfig& c) { c.face_head.net.num_keypoints = 21; }).find("face_head") !=
        std::string::npos);
  CHECK(error_for([](pose::ZoomNetConfig& c) { c.face_head.net.num_modules[1] = 3; })
            .find("\"face_head.num_modules\"") != std::string::npos);
  CHECK(error_for([](pose::ZoomNetConfig& c) { c.hand_head.net.upsample = "bilinear"; })
            .find("\"hand_head.upsample\"") != std::string::npos);
  // run and export check too; wrong crop sizes are named.
  pose::ZoomNetConfig bad = super.largest();
  bad.body.stage1_blocks = 3;
  CHECK(test::error_of([&] { super.export_subnet(bad); }).find("\"body.stage1_blocks\"") != std::string::npos);
  CHECK(test::error_of([&] { super.run(Tensor::zeros({1, 3, 32, 32}), super.largest()); }).find("body.input_size") !=
        std::string::npos);
}

TEST_CASE("nas zoomnet: a resized batch keeps keypoints and RoIs on the content they label") {
  // A 2x2 bright square centred on (10.5, 20.5) of a 64x64 crop: halved, its content sits exactly
  // on pixel (5, 10), where the keypoint must go ((x + 0.5) / 2 - 0.5).
  std::vector<double> img(3 * 64 * 64, 0.0);
  for (int c = 0; c < 3; ++c) {
    for (int y : {20, 21}) {
      for (int x : {10, 11}) img[static_cast<size_t>((c * 64 + y) * 64 + x)] = 1.0;
    }
  }
  pose::ZoomBatch b;
  b.images = Tensor::from_vector(img, {1, 3, 64, 64}, DType::F64);
  b.keypoints = {std::vector<Point2>(133, Point2{10.5, 20.5})};
  b.visible = {std::vector<float>(133, 1.0f)};
  const nas::ResizedZoomBatch r = nas::resize_zoom_batch(b, fixed_rois(1, 64), 32, 32);
  REQUIRE(r.batch.images.shape() == Shape{1, 3, 32, 32});
  const std::vector<double> v = r.batch.images.to_double_vector();
  CHECK(v[10 * 32 + 5] == doctest::Approx(1.0));  // the whole square, averaged into one pixel
  CHECK(v[10 * 32 + 4] == doctest::Approx(0.0));
  CHECK(r.batch.keypoints[0][0].x == 5.0);
  CHECK(r.batch.keypoints[0][0].y == 10.0);
  // A RoI maps by the same rule: its edges (input pixel borders) stay on the same content.
  const pose::RoiBox face = r.rois[0][ZoomPart::Face];
  CHECK(face.x1 == doctest::Approx((28 + 0.5) / 2 - 0.5));
  CHECK(face.y2 == doctest::Approx((28 + 0.5) / 2 - 0.5));
  // At the same size nothing changes.
  const nas::ResizedZoomBatch same = nas::resize_zoom_batch(b, {}, 64, 64);
  CHECK(same.batch.keypoints[0][0].x == 10.5);
  CHECK(same.rois.empty());
}

namespace {

// Trains a fresh tiny supernet for `steps` sandwich steps (Adam) on one synthetic batch with the
// RoIs fixed on the parts; returns each step's losses.
std::vector<std::vector<double>> sandwich_train(int steps, uint64_t seed, std::vector<nas::ZoomSandwichResult>* results = nullptr) {
  pose::ZoomNetConfig base = tiny_base();
  base.sigma = 2;  // wider Gaussians than the tiny config's 1: more to learn in a few steps
  nas::ElasticZoomNet super(tiny_space(), base);
  Generator gen(seed);
  super.module().to(DType::F64);
  super.init_weights(gen);
  super.module().train();
  nn::AdamOptions o;
  o.lr = 3e-3;
  nn::Adam adam(super.module().parameters(), o);
  const pose::ZoomBatch batch = synthetic_batch(2, DType::F64, 8);
  nas::ZoomSandwichOptions options;
  options.fixed_rois = fixed_rois(2, 64);  // on the parts: the head losses measure learning alone
  std::vector<std::vector<double>> losses;
  for (int i = 0; i < steps; ++i) {
    adam.zero_grad();
    nas::ZoomSandwichResult r = nas::zoom_sandwich_backward(super, batch, gen, options);
    adam.step();
    losses.push_back(r.losses);
    if (results) results->push_back(std::move(r));
  }
  return losses;
}

}  // namespace

TEST_CASE("nas zoomnet sandwich: a tiny supernet learns, deterministic by seed") {
  std::vector<nas::ZoomSandwichResult> results;
  const auto a = sandwich_train(20, 9, &results);
  REQUIRE(a.front().size() == 4);  // largest, smallest, 2 random
  CHECK(results.front().configs[1].body.input_size == std::array<int64_t, 2>{32, 32});  // resized
  const auto& p = results.front().largest_parts;
  CHECK(a.front()[0] == doctest::Approx(p[0] + p[1] + p[2]));
  MESSAGE("largest " << a.front()[0] << " -> " << a.back()[0] << ", smallest " << a.front()[1] << " -> "
                     << a.back()[1]);
  CHECK(a.back()[0] < 0.75 * a.front()[0]);  // measured: 0.59 (largest), 0.43 (smallest)
  CHECK(a.back()[1] < 0.6 * a.front()[1]);
  CHECK(sandwich_train(2, 9) == std::vector<std::vector<double>>(a.begin(), a.begin() + 2));
  CHECK(sandwich_train(1, 10) != std::vector<std::vector<double>>(a.begin(), a.begin() + 1));
}
