// ZoomNet (pose/models/zoomnet.h, zoomnet_pipeline.h): configs, the paper's FLOPs breakdown,
// state_dict names, forward shapes, gradcheck through BodyNet -> RoIAlign -> heads -> loss, a tiny
// ZoomNet learning, decoding into the 133-keypoint order, and the flip test's symmetry.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops_basic.h"
#include "nn/flops.h"
#include "nn/optimizer.h"
#include "pose/keypoints.h"
#include "pose/models/factory.h"
#include "pose/models/zoomnet.h"
#include "pose/models/zoomnet_pipeline.h"
#include "tensor/error.h"
#include "tests/tiny_zoomnet.h"
#include "tests/util.h"

using namespace wb;
using nlohmann::json;
using pose::Point2;

namespace {

std::string config_path(const std::string& name) { return std::string(WBPOSE_SOURCE_DIR) + "/configs/" + name; }

// The tests' tiny ZoomNet, with a different feature tap for each head.
json tiny_config() {
  json c = test::tiny_zoomnet_config();
  c["hand_head"]["feature_stage"] = 2;
  return c;
}

// One person in a 32x32 crop: body keypoints, a face around (20, 8), hands around (6, 22) and (26, 24).
void synthetic_person(std::vector<Point2>& k, std::vector<float>& vis) {
  const pose::KeypointSet& wb = pose::coco_wholebody();
  k.assign(wb.size(), Point2{});
  vis.assign(wb.size(), 1.0f);
  for (int i = 0; i < 23; ++i) k[i] = {4.0 + (i * 7) % 24, 2.0 + (i * 5) % 28};
  auto cluster = [&](pose::ZoomPart part, Point2 c, double r) {
    const int b = pose::part_begin(part), n = pose::part_size(part);
    for (int i = 0; i < n; ++i) {
      const double t = 6.283185307 * i / n;
      k[b + i] = {c.x + r * std::cos(t) * (0.5 + 0.5 * (i % 3) / 2.0), c.y + r * std::sin(t)};
    }
  };
  cluster(pose::ZoomPart::Face, {20, 8}, 4);
  cluster(pose::ZoomPart::LeftHand, {6, 22}, 3);
  cluster(pose::ZoomPart::RightHand, {26, 24}, 3);
  vis[pose::part_begin(pose::ZoomPart::RightHand) + 4] = 0;
}

pose::ZoomBatch synthetic_batch(int n, DType dtype, uint64_t seed) {
  pose::ZoomBatch b;
  Generator g(seed);
  b.images = Tensor::randn({n, 3, 32, 32}, g, dtype);
  for (int i = 0; i < n; ++i) {
    b.keypoints.emplace_back();
    b.visible.emplace_back();
    synthetic_person(b.keypoints.back(), b.visible.back());
  }
  return b;
}

}  // namespace

TEST_CASE("zoomnet config: the paper's defaults, shipped configs, errors naming the field") {
  const pose::ZoomNetConfig d = pose::zoomnet_config_from_json({{"type", "zoomnet"}}, "test");
  const pose::ZoomNetConfig paper = pose::zoomnet_config_from_json(
      pose::read_json_file(config_path("zoomnet_w32_384x288.json")), "zoomnet_w32_384x288.json");
  CHECK(pose::to_json(d.body) == pose::to_json(paper.body));
  CHECK(pose::to_json(d.face_head.net) == pose::to_json(paper.face_head.net));
  CHECK(pose::to_json(d.hand_head.net) == pose::to_json(paper.hand_head.net));
  CHECK(d.face_head.feature_stage == 0);
  CHECK(d.hand_head.roi_expansion == 1.0);
  CHECK(d.sigma == 3.0);
  CHECK(d.body.num_keypoints == 38);
  CHECK(d.face_head.net.num_keypoints == 68);
  CHECK(d.hand_head.net.num_keypoints == 21);
  // The paper does not say how its heads' fuse layers upsample: ours take HRNet's default (nearest),
  // and each head, like the body, reads HRNet's "upsample" field (docs/zoomnet.md).
  CHECK(d.body.upsample == "nearest");
  CHECK(d.face_head.net.upsample == "nearest");
  CHECK(d.hand_head.net.upsample == "nearest");
  const pose::ZoomNetConfig bilinear =
      pose::zoomnet_config_from_json({{"type", "zoomnet"}, {"face_head", {{"upsample", "bilinear"}}}}, "test");
  CHECK(bilinear.face_head.net.upsample == "bilinear");
  CHECK(bilinear.hand_head.net.upsample == "nearest");
  CHECK_NOTHROW(pose::build_zoomnet_from_file(config_path("zoomnet_small.json")));

  auto error_of = [](json j) {
    j["type"] = "zoomnet";
    try {
      pose::build_zoomnet(j, "z.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of({{"sigmaa", 2}}) == "z.json: unknown field \"sigmaa\"");
  CHECK(error_of({{"face_head", {{"widht", 2}}}}) == "z.json: face_head: unknown field \"widht\"");
  CHECK(error_of({{"hand_head", {{"feature_stage", 5}}}}).find("\"hand_head.feature_stage\" must be 0-4") !=
        std::string::npos);
  CHECK(error_of({{"hand_head", {{"roi_expansion", "big"}}}}).find("field \"roi_expansion\": expected a number") !=
        std::string::npos);
  CHECK(error_of({{"face_head", {{"input_size", {64, 48}}}}}).find("\"face_head.input_size\" must be square") !=
        std::string::npos);
  CHECK(error_of({{"body", {{"num_keypoints", 133}}}}).find("\"body.num_keypoints\" must be 38") != std::string::npos);
  CHECK(error_of({{"min_roi_side", 2}}).find("\"min_roi_side\"") != std::string::npos);
  CHECK(error_of({{"body", 3}}).find("field \"body\": expected an object") != std::string::npos);
  CHECK(error_of({{"hand_head", {{"upsample", "linear"}}}}).find("field \"upsample\" must be \"nearest\" or") !=
        std::string::npos);
  CHECK_THROWS_WITH_AS(pose::build_model(json{{"type", "zoomnet"}}, "z.json"),
                       doctest::Contains("not a single top-down model"), Error);
}

// spec/zoomnas.md Table 10: BodyNet 16.02, FaceHead 4.19, HandHead 4.14 x 2, total 28.49 GFLOPs.
TEST_CASE("zoomnet FLOPs breakdown matches the paper") {
  auto model = pose::build_zoomnet_from_file(config_path("zoomnet_w32_384x288.json"));
  const nn::FlopsReport r = nn::count_flops(*model, {1, 3, 384, 288});
  const auto g = [](int64_t macs) { return static_cast<double>(macs) / (1024.0 * 1024.0 * 1024.0); };
  CHECK(std::fabs(g(r.at("body").macs) - 16.02) < 0.1);
  CHECK(std::fabs(g(r.at("face_head").macs) - 4.19) < 0.1);
  CHECK(std::fabs(g(r.at("hand_head").macs) / 2 - 4.14) < 0.1);
  CHECK(std::fabs(r.gflops() - 28.49) < 0.1);
  CHECK(r.at("body").macs + r.at("face_head").macs + r.at("hand_head").macs == r.macs());
  // To the printed precision (two decimals), as counted.
  CHECK(std::fabs(g(r.at("face_head").macs) - 4.19) < 0.005);
  CHECK(std::fabs(g(r.at("hand_head").macs) / 2 - 4.14) < 0.005);
  CHECK(std::fabs(r.gflops() - 28.49) < 0.005);
}

TEST_CASE("zoomnet state_dict: MMPose names under body., face_head., hand_head.") {
  auto z = pose::build_zoomnet(tiny_config(), "tiny");
  json hr = tiny_config()["body"];
  hr["type"] = "hrnet";
  hr["num_keypoints"] = 38;
  auto plain = pose::build_model(hr, "hrnet");
  std::vector<std::string> body_names, plain_names;
  bool face_adapter = false, hand_final = false, head_stem = false;
  for (const auto& [name, t] : z->state_dict()) {
    if (name.rfind("body.", 0) == 0) body_names.push_back(name.substr(5));
    face_adapter |= name == "face_head.adapter.0.weight";
    hand_final |= name == "hand_head.head.final_layer.weight";
    head_stem |= name.find("_head.backbone.conv1") != std::string::npos;
  }
  for (const auto& [name, t] : plain->state_dict()) plain_names.push_back(name);
  CHECK(body_names == plain_names);  // an HRNet checkpoint loads into body with the prefix added
  CHECK(face_adapter);
  CHECK(hand_final);
  CHECK_FALSE(head_stem);
}

TEST_CASE("zoomnet forward: shapes, RoIs from the box channels, bad input named") {
  auto z = pose::build_zoomnet(tiny_config(), "tiny");
  Generator g(3);
  z->reset_parameters(g);
  autograd::NoGradGuard no_grad;
  const Tensor x = Tensor::randn({2, 3, 32, 32}, g);
  const pose::ZoomOutputs o = z->run(x);
  CHECK(o.body.shape() == Shape{2, 38, 8, 8});
  CHECK(o.face.shape() == Shape{2, 68, 8, 8});
  CHECK(o.hands.shape() == Shape{4, 21, 8, 8});
  REQUIRE(o.rois.size() == 2);
  const auto boxes = z->decode_boxes(o.body);
  for (int p = 0; p < 3; ++p) {
    const pose::RoiBox& r = o.rois[1].roi[p];
    CHECK(r.width() == doctest::Approx(r.height()));
    CHECK(r.width() >= 4.0);
    CHECK(r.center().x == doctest::Approx(boxes[1][p].center().x));
  }
  CHECK_THROWS_WITH_AS(z->run(Tensor::zeros({1, 3, 30, 32})), doctest::Contains("divisible by 32"), Error);
  const std::vector<pose::ZoomRois> one(1);
  CHECK_THROWS_WITH_AS(z->run(x, &one), doctest::Contains("1 RoI sets for 2 images"), Error);
}

TEST_CASE("gradcheck: loss through BodyNet -> RoIAlign -> FaceHead/HandHead (f64)") {
  auto z = pose::build_zoomnet(tiny_config(), "tiny");
  Generator g(5);
  z->reset_parameters(g);
  z->to(DType::F64);
  z->eval();  // BN as a fixed affine map: the check is about the op chain
  pose::ZoomBatch batch = synthetic_batch(1, DType::F64, 7);
  // Fixed RoIs (the predicted ones are an argmax: piecewise constant), each part's own box.
  pose::ZoomRois r;
  r[pose::ZoomPart::Face] = {15.3, 3.1, 25.7, 13.5};
  r[pose::ZoomPart::LeftHand] = {1.2, 17.6, 10.9, 27.3};
  r[pose::ZoomPart::RightHand] = {21.4, 19.2, 30.8, 28.6};
  const std::vector<pose::ZoomRois> rois{r};
  // The stem's BN scale (reaches the heads through the stage-0 tap and RoIAlign, and the body loss
  // through the rest of BodyNet), a stage-2 BN scale (the hand head's tap: RoIAlign on stage 2) and
  // each head's adapter conv. Few elements on purpose: each costs two forward passes, and the
  // convolutions themselves have their own gradchecks (test_conv.cpp).
  auto param = [&](const std::string& module) { return z->at(module).named_parameters().front().second; };
  const std::vector<Tensor> inputs{param("body.backbone.bn1"), param("body.backbone.stage2.0.branches.0.0.bn2"),
                                   param("face_head.adapter.0"), param("hand_head.adapter.0")};
  // Two outputs: the total loss, and the heads' losses alone (through which the BodyNet inputs get
  // their gradient only via RoIAlign).
  auto fn = [&](const std::vector<Tensor>&) {
    const pose::ZoomLoss l = pose::zoomnet_loss(*z, batch, &rois);
    return ops::concat({ops::reshape(l.total, {1}), ops::reshape(ops::add(l.face, l.hand), {1})}, 0);
  };
  autograd::GradcheckOptions opt;
  opt.atol = 1e-8;
  WB_GRADCHECK(fn, inputs, opt);

  // The heads' losses alone reach BodyNet's stem: gradients flow through RoIAlign.
  for (auto& [name, p] : z->named_parameters()) p.set_grad(Tensor());
  const pose::ZoomLoss l = pose::zoomnet_loss(*z, batch, &rois);
  autograd::backward(ops::add(l.face, l.hand));
  const Tensor stem_grad = z->at("body.backbone.conv1").named_parameters().front().second.grad();
  REQUIRE(stem_grad.defined());
  double norm = 0;
  for (double v : stem_grad.to_double_vector()) norm += v * v;
  CHECK(norm > 0);
  CHECK_FALSE(z->at("body.head.final_layer").named_parameters().front().second.grad().defined());
}

// Trains a fresh tiny ZoomNet for `steps` Adam steps on one synthetic batch; returns the losses of
// the first and the last step.
std::pair<pose::ZoomLoss, pose::ZoomLoss> train_tiny(int steps, const std::vector<pose::ZoomRois>* rois,
                                                     uint64_t seed = 0) {
  auto z = pose::build_zoomnet(tiny_config(), "tiny");
  Generator g(11 + seed);
  z->init_weights(g);
  z->train();
  const pose::ZoomBatch batch = synthetic_batch(2, DType::F32, 13 + 7 * seed);
  nn::AdamOptions o;
  o.lr = 1e-2;
  nn::Adam opt(z->parameters(), o);
  pose::ZoomLoss first, last;
  for (int step = 0; step < steps; ++step) {
    opt.zero_grad();
    last = pose::zoomnet_loss(*z, batch, rois);
    autograd::backward(last.total);
    opt.step();
    if (step == 0) first = last;
  }
  return {first, last};
}

TEST_CASE("a tiny ZoomNet learns: every part's loss falls on a synthetic sample") {
  // RoIs fixed on the parts: the head targets stay put, so the head losses measure learning alone.
  pose::ZoomRois r;
  r[pose::ZoomPart::Face] = {14, 2, 26, 14};
  r[pose::ZoomPart::LeftHand] = {1, 17, 11, 27};
  r[pose::ZoomPart::RightHand] = {21, 19, 31, 29};
  const std::vector<pose::ZoomRois> rois{r, r};
  const auto [a, b] = train_tiny(30, &rois);
  MESSAGE("fixed RoIs: body " << a.body.item() << " -> " << b.body.item() << ", face " << a.face.item() << " -> "
                              << b.face.item() << ", hand " << a.hand.item() << " -> " << b.hand.item());
  CHECK(b.body.item() < 0.7 * a.body.item());
  CHECK(b.face.item() < 0.5 * a.face.item());
  CHECK(b.hand.item() < 0.5 * a.hand.item());
  // The network's own RoIs (boxes decoded from its heatmaps, as in training): the whole chain
  // still learns. (The head losses alone can also fall because a RoI drifts off its part, where the
  // targets get weight 0, so only the body and the total are checked here.) The decoded RoIs are
  // argmaxes, so one run's trajectory is chaotic: float rounding alone (the thread count, or the
  // direct against the im2col conv, whose first-step gradients agree to 5e-7) moves its total after
  // 30 steps anywhere between 0.37x and 1.9x of the first. The total is therefore checked on the
  // median of 9 runs (0.57-0.58x with 1, 2 and 4 threads), the body, which is smooth (0.55-0.61x),
  // on every run.
  std::vector<double> total_ratio;
  for (uint64_t seed = 0; seed < 9; ++seed) {
    const auto [c, d] = train_tiny(30, nullptr, seed);
    MESSAGE("predicted RoIs, seed " << seed << ": total " << c.total.item() << " -> " << d.total.item() << ", body "
                                    << c.body.item() << " -> " << d.body.item());
    REQUIRE(std::isfinite(d.total.item()));
    CHECK(d.body.item() < 0.7 * c.body.item());
    total_ratio.push_back(d.total.item() / c.total.item());
  }
  std::sort(total_ratio.begin(), total_ratio.end());
  CHECK(total_ratio[total_ratio.size() / 2] < 0.7);
}

TEST_CASE("zoomnet decoding: 133 keypoints in whole-body order, heads mapped back through their RoIs") {
  auto z = pose::build_zoomnet(tiny_config(), "tiny");
  pose::ZoomOutputs o;
  o.body = Tensor::zeros({1, 38, 8, 8});
  o.face = Tensor::zeros({1, 68, 8, 8});
  o.hands = Tensor::zeros({2, 21, 8, 8});
  o.body.data<float>()[(5 * 8 + 3) * 8 + 2] = 1;  // keypoint 5 at heatmap (2, 3)
  o.face.data<float>()[(7 * 8 + 1) * 8 + 6] = 1;  // face point 7 at head (6, 1)
  o.hands.data<float>()[(0 * 8 + 4) * 8 + 2] = 1;                 // left hand point 0 at (2, 4)
  o.hands.data<float>()[((21 + 20) * 8 + 7) * 8 + 0] = 1;         // right hand point 20 at (0, 7)
  pose::ZoomRois r;
  r[pose::ZoomPart::Face] = {16, 0, 24, 8};
  r[pose::ZoomPart::LeftHand] = {0, 16, 16, 32};
  r[pose::ZoomPart::RightHand] = {20, 20, 28, 28};
  o.rois = {r};
  const auto k = pose::zoomnet_decode(*z, o, pose::HeatmapDecoding::Shift);
  REQUIRE(k.size() == 1);
  REQUIRE(k[0].size() == 133);
  auto at = [&](int i, Point2 want) {
    CAPTURE(i);
    CHECK(k[0][i].xy.x == doctest::Approx(want.x));
    CHECK(k[0][i].xy.y == doctest::Approx(want.y));
    CHECK(k[0][i].score == doctest::Approx(1.0));
  };
  at(5, {8, 12});                         // heatmap x 4
  at(23 + 7, {16 + 6.5, 0 + 1.5});        // face RoI: 1 input pixel per head pixel
  at(91 + 0, {0 + 2.5 * 2, 16 + 4.5 * 2});  // left hand RoI: 2 per head pixel
  at(112 + 20, {20 + 0.5, 20 + 7.5});
  CHECK(k[0][6].score == 0);  // empty heatmaps
}

TEST_CASE("zoomnet_predict: the flip test is symmetric (every part, pairs swapped) and maps to the image") {
  auto z = pose::build_zoomnet(tiny_config(), "tiny");
  Generator g(17);
  z->reset_parameters(g);
  z->eval();
  const Tensor x = Tensor::randn({1, 3, 32, 32}, g);
  const pose::Affine id;
  const auto a = pose::zoomnet_predict(*z, x, {id}, true);
  const auto b = pose::zoomnet_predict(*z, pose::flip_images(x), {id}, true);
  REQUIRE(a.size() == 1);
  REQUIRE(a[0].size() == 133);
  const std::vector<int>& flip = pose::coco_wholebody().flip_index;
  double worst = 0;
  for (int i = 0; i < 133; ++i) {
    const pose::DecodedKeypoint& m = a[0][flip[i]];
    worst = std::max({worst, std::fabs(b[0][i].xy.x - (31 - m.xy.x)), std::fabs(b[0][i].xy.y - m.xy.y),
                      std::fabs(b[0][i].score - m.score)});
  }
  CHECK(worst < 1e-4);
  // Without the flip test the two passes differ: the check above is not vacuous.
  const auto a1 = pose::zoomnet_predict(*z, x, {id}, false);
  const auto b1 = pose::zoomnet_predict(*z, pose::flip_images(x), {id}, false);
  double diff = 0;
  for (int i = 0; i < 133; ++i) diff = std::max(diff, std::fabs(b1[0][i].xy.x - (31 - a1[0][flip[i]].xy.x)));
  CHECK(diff > 1e-3);
  // The crop affine is inverted: a crop scaled by 2 returns image coordinates halved.
  const pose::Affine half{{2, 0, 0, 0, 2, 0}};
  const auto c = pose::zoomnet_predict(*z, x, {half}, true);
  CHECK(c[0][50].xy.x == doctest::Approx(a[0][50].xy.x / 2));
  CHECK_THROWS_AS(pose::zoomnet_predict(*z, x, {}, true), Error);
}
