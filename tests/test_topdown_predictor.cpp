// The top-down predictor: crop -> model -> decode -> image pixels round-trips known keypoints, the
// flip test (MMPose's flip-back, swap and shift), batch-size independence, rescoring and OKS-NMS.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "datasets/image.h"
#include "datasets/pose_nms.h"
#include "datasets/synth/dataset.h"
#include "pose/models/factory.h"
#include "tasks/topdown_predictor.h"
#include "tests/temp_dir.h"
#include "tests/util.h"

using namespace wb;
using data::Box;
using data::PersonInstance;
namespace fs = std::filesystem;

using wb::test::TempDir;

namespace {

// A stand-in network on the CPU whose heatmaps are computed from the crop's red channel, brought back
// to the image's 0..1 intensity. Sample: heatmap pixel (x, y) is input pixel (4x, 4y), the codec's
// own correspondence, so a Gaussian blob decodes where it is. PoolRamps: the mean of each 4x4 input
// block (which commutes with a mirror) times a ramp rising to the right for left keypoints, its
// mirror for right ones and 1 on the axis: a flip-equivariant model with distinct channels.
class FakeHeatmapModel : public nn::Module {
 public:
  enum class Mode { Sample, PoolRamps };
  FakeHeatmapModel(const pose::KeypointSet& set, Mode mode, int channels_out = -1)
      : flip_(set.flip_index), mode_(mode), K_(channels_out > 0 ? channels_out : set.size()) {}

  bool ran_in_training_mode = false;

  Tensor forward(const Tensor& x) override {
    ran_in_training_mode |= is_training();
    const int64_t N = x.size(0), H = x.size(2), W = x.size(3), h = H / 4, w = W / 4;
    const Tensor in = x.contiguous();
    Tensor out = Tensor::empty({N, K_, h, w});
    const float* p = in.data<float>();
    auto red = [&](int64_t n, int64_t y, int64_t xx) {
      return (p[(n * 3 * H + y) * W + xx] * 58.395f + 123.675f) / 255.0f;
    };
    float* o = out.data<float>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K_; ++k)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t xx = 0; xx < w; ++xx) {
            float v;
            if (mode_ == Mode::Sample) {
              v = red(n, 4 * y, 4 * xx);
            } else {
              v = 0;
              for (int dy = 0; dy < 4; ++dy)
                for (int dx = 0; dx < 4; ++dx) v += red(n, 4 * y + dy, 4 * xx + dx) / 16.0f;
              const int partner = k < static_cast<int64_t>(flip_.size()) ? flip_[k] : static_cast<int>(k);
              if (k < partner) v *= static_cast<float>(xx + 1) / w;
              if (k > partner) v *= static_cast<float>(w - xx) / w;
            }
            o[((n * K_ + k) * h + y) * w + xx] = v;
          }
    return out;
  }

 private:
  std::vector<int> flip_;
  Mode mode_;
  int64_t K_;
};

// A black image with a red Gaussian blob of `sigma` pixels centred at (cx, cy) (plus faint texture in
// green so that images differ), written as PNG.
void write_blob_image(const std::string& path, int w, int h, double cx, double cy, double sigma) {
  data::Image img(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      img.at(x, y)[0] = static_cast<uint8_t>(std::lround(255.0 * std::exp(-d2 / (2 * sigma * sigma))));
      img.at(x, y)[1] = static_cast<uint8_t>((x * 7 + y * 3) % 32);
    }
  data::write_image(path, img);
}

PersonInstance instance(const std::string& path, int64_t image_id, Box box, double score = 1.0) {
  PersonInstance p;
  p.image_path = path;
  p.image_id = image_id;
  p.bbox = box;
  p.box_score = score;
  return p;
}

tasks::PredictOptions body_options(pose::HeatmapDecoding decoding = pose::HeatmapDecoding::Dark) {
  tasks::PredictOptions o;
  o.keypoints = &pose::coco_body();
  o.codec.decoding = decoding;
  return o;
}

// Largest distance of any keypoint of `r` from (x, y).
double max_error(const data::KeypointResult& r, double x, double y) {
  double worst = 0;
  for (size_t k = 0; k < r.keypoints.size() / 3; ++k)
    worst = std::max(worst, std::hypot(r.keypoints[3 * k] - x, r.keypoints[3 * k + 1] - y));
  return worst;
}

}  // namespace

TEST_CASE("predictor: a blob round-trips through crop, heatmap, decode and back to the image") {
  TempDir dir;
  const std::string img = dir.file("blob.png"), mirrored = dir.file("mirrored.png");
  const int W = 260, H = 280;
  const double cx = 101.3, cy = 97.6;
  // Boxes whose 1.25-padded region maps 1:1 onto the 192x256 input (a heatmap pixel is 4 image
  // pixels), magnified 2x, and half off the image's left edge.
  const Box one_to_one{20, 10, 192 / 1.25, 256 / 1.25}, magnified{60, 50, 96 / 1.25, 128 / 1.25},
      off_edge{-40, 20, 192 / 1.25, 256 / 1.25};
  write_blob_image(img, W, H, cx, cy, 8.0);
  write_blob_image(mirrored, W, H, W - 1 - cx, cy, 8.0);  // the image mirrored: x -> W - 1 - x

  FakeHeatmapModel model(pose::coco_body(), FakeHeatmapModel::Mode::Sample);
  model.eval();
  const std::vector<PersonInstance> people = {instance(img, 1, one_to_one), instance(img, 1, magnified),
                                              instance(img, 1, off_edge)};
  SUBCASE("DARK: a small fraction of a pixel") {
    const auto r = tasks::predict_instances(model, body_options(), people);
    REQUIRE(r.size() == 3);
    for (const auto& p : r) {
      INFO("box " << p.bbox->x << ": " << p.keypoints[0] << ", " << p.keypoints[1]);
      CHECK(max_error(p, cx, cy) < 0.05);
      CHECK(p.keypoints[2] == doctest::Approx(1.0).epsilon(0.02));  // the blob's peak, 1
      CHECK(p.score == 1.0);
      REQUIRE(p.bbox.has_value());
    }
    CHECK(r[1].bbox->w == doctest::Approx(96 / 1.25));
    // The mirrored image with the mirrored box gives the mirrored point.
    const Box& b = one_to_one;
    const auto m = tasks::predict_instances(model, body_options(), {instance(mirrored, 2, {W - 1 - b.x - b.w, b.y, b.w, b.h})});
    CHECK(max_error(m[0], W - 1 - cx, cy) < 0.05);
  }
  SUBCASE("argmax + quarter-pixel shift: within a quarter heatmap pixel") {
    const auto r = tasks::predict_instances(model, body_options(pose::HeatmapDecoding::Shift), people);
    CHECK(max_error(r[0], cx, cy) < 1.0);   // 1 heatmap pixel = 4 image pixels here
    CHECK(max_error(r[1], cx, cy) < 0.5);   // 2 image pixels
    CHECK(max_error(r[2], cx, cy) < 1.0);
  }
  SUBCASE("flip test: the official one-pixel shift leaves half an input pixel of bias at most") {
    tasks::PredictOptions o = body_options();
    o.flip_test = true;
    const auto r = tasks::predict_instances(model, o, people);
    CHECK(max_error(r[0], cx, cy) < 0.75);
    CHECK(max_error(r[1], cx, cy) < 0.4);
    CHECK(max_error(r[2], cx, cy) < 0.75);
    // Without the shift the mirrored map is 3 input pixels off, and the average shows it.
    o.shift_flipped_heatmap = false;
    const auto unshifted = tasks::predict_instances(model, o, people);
    CHECK(max_error(unshifted[0], cx, cy) > 1.0);
  }
}

TEST_CASE("predictor: the flip test of a flip-equivariant model equals no flip") {
  TempDir dir;
  const std::string img = dir.file("blob.png");
  write_blob_image(img, 200, 220, 80.2, 120.7, 10.0);
  FakeHeatmapModel model(pose::coco_body(), FakeHeatmapModel::Mode::PoolRamps);
  model.eval();
  const std::vector<PersonInstance> people = {instance(img, 1, {10, 30, 140, 170}), instance(img, 1, {50, 60, 80, 90})};
  tasks::PredictOptions o = body_options(pose::HeatmapDecoding::Dark);
  const auto plain = tasks::predict_instances(model, o, people);
  o.flip_test = true;
  o.shift_flipped_heatmap = false;
  const auto flipped = tasks::predict_instances(model, o, people);
  REQUIRE(plain.size() == flipped.size());
  // The ramps make left and right keypoints decode to different places: the swap matters.
  CHECK(std::fabs(plain[0].keypoints[3 * 1] - plain[0].keypoints[3 * 2]) > 1.0);  // left_eye vs right_eye
  for (size_t i = 0; i < plain.size(); ++i)
    for (size_t j = 0; j < plain[i].keypoints.size(); ++j)
      CHECK(flipped[i].keypoints[j] == doctest::Approx(plain[i].keypoints[j]).epsilon(1e-5));
  // MMPose's shift moves the flipped half by a heatmap pixel: the results then differ.
  o.shift_flipped_heatmap = true;
  const auto shifted = tasks::predict_instances(model, o, people);
  CHECK(std::fabs(shifted[0].keypoints[0] - plain[0].keypoints[0]) > 0.1);
}

TEST_CASE("flip_back_heatmaps: mirror, swap channels by the flip index, shift one column right") {
  const int64_t K = 3, h = 2, w = 4;
  std::vector<float> v(2 * K * h * w);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  const Tensor original = Tensor::from_vector(v, {2, K, h, w});
  const std::vector<int> flip = {0, 2, 1};
  auto at = [&](const Tensor& t, int64_t n, int64_t k, int64_t y, int64_t x) {
    return t.data<float>()[((n * K + k) * h + y) * w + x];
  };
  Tensor plain = original.clone();
  tasks::flip_back_heatmaps(plain, flip, false);
  Tensor shifted = original.clone();
  tasks::flip_back_heatmaps(shifted, flip, true);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          CHECK(at(plain, n, k, y, x) == at(original, n, flip[k], y, w - 1 - x));
          CHECK(at(shifted, n, k, y, x) == at(plain, n, k, y, x > 0 ? x - 1 : 0));
        }
  Tensor wrong = original.clone();
  CHECK_THROWS_AS(tasks::flip_back_heatmaps(wrong, {0, 1}, true), Error);
}

TEST_CASE("predictor: batch size does not change the results (a small random HRNet, flip test)") {
  TempDir dir;
  const std::string a = dir.file("a.png"), b = dir.file("b.png");
  write_blob_image(a, 120, 100, 40, 50, 6);
  write_blob_image(b, 90, 130, 60, 70, 5);
  auto model = pose::build_model({{"type", "hrnet"}, {"num_keypoints", 17}, {"input_size", {64, 64}}, {"width", 4},
                                  {"stem_channels", 8}, {"stage1_blocks", 1}, {"stage1_channels", 8},
                                  {"num_modules", {1, 1, 1}}, {"num_blocks", {1, 1, 1}}},
                                 "tiny-hrnet");
  Generator gen(7);
  // Random weights of a moderate size, so that the heatmaps have distinct peaks.
  for (Tensor& p : model->parameters()) {
    std::vector<float> values(static_cast<size_t>(p.numel()));
    for (float& v : values) v = static_cast<float>(gen.uniform(-0.3, 0.3));
    p.copy_(Tensor::from_vector(values, p.shape()));
  }
  model->head->final_layer->bias.fill_(5.0);  // positive maps: every keypoint gets a real peak
  model->eval();
  const std::vector<PersonInstance> people = {instance(a, 1, {5, 5, 60, 80}, 0.9), instance(a, 1, {30, 20, 50, 50}, 0.8),
                                              instance(b, 2, {0, 0, 90, 130}, 0.7), instance(b, 2, {20, 40, 30, 60}, 0.6),
                                              instance(a, 1, {-10, 50, 70, 60}, 0.5)};
  tasks::PredictOptions o = body_options(pose::HeatmapDecoding::Shift);
  o.codec.input_w = 64, o.codec.input_h = 64, o.codec.heatmap_w = 16, o.codec.heatmap_h = 16;
  o.flip_test = true;
  std::vector<std::vector<data::KeypointResult>> runs;
  int64_t last_done = 0;
  for (int batch : {1, 2, 5, 16}) {
    o.batch_size = batch;
    o.progress = [&](int64_t done, int64_t total) {
      CHECK(total == 5);
      last_done = done;
    };
    runs.push_back(tasks::predict_instances(*model, o, people));
    CHECK(last_done == 5);
  }
  for (size_t k = 0; k < 17; ++k) CHECK(runs[0][0].keypoints[3 * k + 2] > 0);
  for (size_t r = 1; r < runs.size(); ++r)
    for (size_t i = 0; i < people.size(); ++i)
      for (size_t j = 0; j < runs[0][i].keypoints.size(); ++j)
        CHECK(runs[r][i].keypoints[j] == doctest::Approx(runs[0][i].keypoints[j]).epsilon(1e-5));
}

TEST_CASE("predict: rescoring by keypoint confidence, OKS-NMS per image, and evaluate") {
  TempDir dir;
  const std::string a = dir.file("a.png"), b = dir.file("b.png");
  write_blob_image(a, 200, 220, 90, 100, 8);
  write_blob_image(b, 200, 220, 70, 60, 8);
  FakeHeatmapModel model(pose::coco_body(), FakeHeatmapModel::Mode::Sample);
  model.eval();
  const Box box{20, 10, 150, 190};
  // Two near-identical poses on image 1 (one box slightly moved): NMS keeps the higher-scored.
  const std::vector<PersonInstance> people = {instance(a, 1, box, 0.5), instance(a, 1, {22, 12, 150, 190}, 0.9),
                                              instance(b, 2, box, 0.7)};
  tasks::PredictOptions o = body_options();
  const auto raw = tasks::predict_instances(model, o, people);
  const auto kept = tasks::predict(model, o, people);
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].image_id == 1);
  CHECK(kept[1].image_id == 2);
  std::vector<double> scores;
  for (size_t k = 0; k < 17; ++k) scores.push_back(raw[1].keypoints[3 * k + 2]);
  CHECK(kept[0].score == doctest::Approx(data::bbox_keypoint_score(0.9, scores, 0.2)));
  CHECK(kept[0].bbox->x == 22);
  o.nms_threshold = 1.0;
  CHECK(tasks::predict(model, o, people).size() == 3);

  // Ground truth at the blobs: every pass of the body evaluation is perfect.
  data::CocoKeypointsFile gt;
  gt.format = data::KeypointFormat::coco_body;
  gt.images = {{1, "a.png", 200, 220}, {2, "b.png", 200, 220}};
  gt.categories = {{1, "person"}};
  for (int64_t id : {1, 2}) {
    data::PersonAnnotation ann;
    ann.id = id, ann.image_id = id, ann.category_id = 1, ann.bbox = box, ann.area = 150 * 190;
    ann.num_keypoints = 17;
    for (int k = 0; k < 17; ++k) {
      ann.keypoints.push_back(id == 1 ? 90 : 70);
      ann.keypoints.push_back(id == 1 ? 100 : 60);
      ann.keypoints.push_back(2);
    }
    gt.annotations.push_back(ann);
  }
  o.nms_threshold = 0.9;
  std::vector<data::KeypointResult> results;
  const auto table = tasks::evaluate(model, o, gt, people, {"body"}, &results);
  REQUIRE(table.size() == 1);
  CHECK(table[0].first == "body");
  CHECK(table[0].second[0] == doctest::Approx(1.0));
  CHECK(results.size() == 2);
}

TEST_CASE("predictor: errors name the problem") {
  TempDir dir;
  const std::string good = dir.file("good.png"), bad = dir.file("bad.png");
  write_blob_image(good, 100, 100, 50, 50, 5);
  { std::ofstream(bad) << "not an image"; }
  FakeHeatmapModel model(pose::coco_body(), FakeHeatmapModel::Mode::Sample);
  const tasks::PredictOptions o = body_options();
  auto message = [&](nn::Module& m, const std::vector<PersonInstance>& people) -> std::string {
    try {
      tasks::predict(m, o, people);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  // A model in training mode is evaluated in evaluation mode and handed back in training mode.
  CHECK(message(model, {instance(good, 1, {0, 0, 50, 50})}).empty());
  CHECK(!model.ran_in_training_mode);
  CHECK(model.is_training());
  CHECK(message(model, {instance(bad, 1, {0, 0, 50, 50})}).find("bad.png") != std::string::npos);
  CHECK(model.is_training());
  model.eval();
  CHECK(message(model, {instance(bad, 1, {0, 0, 50, 50})}).find("bad.png") != std::string::npos);
  CHECK(message(model, {instance(good, 1, {0, 0, 0, 50})}).find("unusable box") != std::string::npos);
  CHECK(message(model, {instance(good, 1, {0, NAN, 10, 50})}).find("unusable box") != std::string::npos);
  // A region of infinite size: the error names the person, not only the singular crop matrix.
  CHECK(message(model, {instance(good, 1, {0, 0, 1e308, 1e308})}).find("instance #0 (image 1, box [") !=
        std::string::npos);
  FakeHeatmapModel wholebody(pose::coco_wholebody(), FakeHeatmapModel::Mode::Sample);
  wholebody.eval();
  CHECK(message(wholebody, {instance(good, 1, {0, 0, 50, 50})}).find("expected [1, 17, 64, 48]") != std::string::npos);
  CHECK(message(model, {}).empty());  // nothing to do is not an error
}

// NaN weights once gave results files of nulls that no scorer reads (JSON has no NaN).
TEST_CASE("predictor: a model whose output is not finite is an error, not a results file") {
  TempDir dir;
  const std::string a = dir.file("a.png");
  write_blob_image(a, 120, 100, 40, 50, 6);
  auto model = pose::build_model({{"type", "hrnet"}, {"num_keypoints", 17}, {"input_size", {64, 64}}, {"width", 4},
                                  {"stem_channels", 8}, {"stage1_blocks", 1}, {"stage1_channels", 8},
                                  {"num_modules", {1, 1, 1}}, {"num_blocks", {1, 1, 1}}},
                                 "tiny-hrnet");
  model->head->final_layer->bias.fill_(NAN);
  tasks::PredictOptions o = body_options(pose::HeatmapDecoding::Shift);
  o.codec.input_w = 64, o.codec.input_h = 64, o.codec.heatmap_w = 16, o.codec.heatmap_h = 16;
  const std::string msg = test::error_of([&] { tasks::predict(*model, o, {instance(a, 1, {5, 5, 60, 80})}); });
  CHECK(msg.find("not finite") != std::string::npos);
  CHECK(msg.find("image 1") != std::string::npos);
}

namespace {

// Plays back, in instance order, the training targets of the same crops: a perfect network as far
// as the pipeline can tell. Whatever the predictor then loses (crop geometry that differs from
// training's, a wrong map back to the image, NMS or rescoring mistakes) shows as lost AP.
class TargetReplayModel : public nn::Module {
 public:
  explicit TargetReplayModel(std::vector<Tensor> targets) : targets_(std::move(targets)) {}
  Tensor forward(const Tensor& x) override {
    const int64_t n = x.size(0);
    REQUIRE(next_ + n <= static_cast<int64_t>(targets_.size()));
    const Tensor& first = targets_[0];
    Tensor out = Tensor::empty({n, first.size(0), first.size(1), first.size(2)});
    for (int64_t i = 0; i < n; ++i) out.select(0, i).copy_(targets_[next_ + i]);
    next_ += n;
    return out;
  }

 private:
  std::vector<Tensor> targets_;
  int64_t next_ = 0;
};

}  // namespace

TEST_CASE("predictor: the training targets of a synthetic set, played back, score whole-body AP near 1") {
  TempDir dir;
  data::synth::DatasetOptions so;
  so.out = dir.file("synth");
  so.val = 6;
  so.seed = 11;
  so.width = 320;
  so.height = 240;
  data::synth::generate_dataset(so);
  const data::CocoKeypointsFile gt = data::read_coco_keypoints(so.out + "/annotations/val.json");
  const auto instances = data::instances_from_coco(gt, so.out + "/images");
  REQUIRE(instances.size() >= 6);

  // UDP targets sit on the exact sub-pixel keypoint and DARK finds it: nothing may be lost. MSRA
  // targets are centred on the nearest heatmap pixel (2 image pixels here), which costs the parts
  // with small OKS sigmas (measured: body .97, face .50, hands .81/.88, whole body .87).
  struct Case {
    pose::HeatmapEncoding encoding;
    pose::HeatmapDecoding decoding;
    double min_body_ap, min_wholebody_ap, min_any_ap;
    std::string name;
  };
  for (const Case& c : {Case{pose::HeatmapEncoding::Udp, pose::HeatmapDecoding::Dark, 0.99, 0.99, 0.99, "udp+dark"},
                        Case{pose::HeatmapEncoding::Msra, pose::HeatmapDecoding::Shift, 0.9, 0.75, 0.3, "msra+shift"}}) {
    const auto encoding = c.encoding;
    const auto decoding = c.decoding;
    data::TopDownConfig tc;
    tc.codec.encoding = encoding;
    tc.codec.decoding = decoding;
    tc.augment = false;
    const data::TopDownDataset ds(instances, pose::coco_wholebody(), tc);
    Generator gen(1);
    std::vector<Tensor> targets;
    for (int64_t i = 0; i < ds.size(); ++i) targets.push_back(ds.sample(i, gen).heatmaps);
    TargetReplayModel model(targets);
    tasks::PredictOptions o;
    o.codec = tc.codec;
    o.batch_size = 4;
    const tasks::PartTable table = tasks::evaluate(model, o, gt, instances);
    REQUIRE(table.size() == 6);
    for (const auto& [part, stats] : table) {
      INFO(c.name << ": " << part << " AP " << stats[0]);
      CHECK(stats[0] >= c.min_any_ap);
    }
    CHECK(table[0].second[0] >= c.min_body_ap);
    CHECK(table[5].second[0] >= c.min_wholebody_ap);
  }
}
