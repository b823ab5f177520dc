// The training config reader and the training loop on a tiny COCO-WholeBody set made here: exact
// resume (bit for bit, at an epoch boundary and mid-epoch), validation callback and best checkpoint,
// and bad input reported before anything is written.
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "datasets/image.h"
#include "datasets/loader.h"
#include "autograd/engine.h"
#include "autograd/ops_pose.h"
#include "nn/layers.h"
#include "pose/keypoints.h"
#include "pose/draw.h"
#include "pose/models/zoomnet.h"
#include "tasks/metrics_log.h"
#include "tasks/model_spec.h"
#include "tasks/plot.h"
#include "tasks/topdown_predictor.h"
#include "tasks/train_config.h"
#include "tasks/trainer.h"
#include "tasks/validation.h"
#include "tensor/atomic_file.h"
#include "tests/tiny_zoomnet.h"
#include "tests/temp_dir.h"
#include "tests/training_util.h"
#include "tests/util.h"

using namespace wb;
namespace fs = std::filesystem;
using nlohmann::json;

using wb::test::quiet;
using wb::test::slurp;
using wb::test::TempDir;

namespace {

// A COCO-WholeBody set of `n` 96x96 images, one person each whose 17 body keypoints are drawn as
// bright dots on a dark textured background (the other parts unlabelled), in root/images and
// root/annotations/{train,val}.json (the same images in both).
void make_dataset(const fs::path& root, int n, uint64_t seed) {
  fs::create_directories(root / "images");
  fs::create_directories(root / "annotations");
  Generator gen(seed);
  json images = json::array(), anns = json::array();
  for (int i = 0; i < n; ++i) {
    data::Image img(96, 96, 3);
    for (auto& p : img.pixels) p = static_cast<uint8_t>(gen.uniform(0, 40));
    const double bx = gen.uniform(5, 25), by = gen.uniform(5, 15), bw = gen.uniform(45, 60), bh = gen.uniform(60, 75);
    json body = json::array();
    for (int k = 0; k < 17; ++k) {
      const double x = bx + gen.uniform(0.1, 0.9) * bw, y = by + (k + 0.5) / 17.0 * bh;
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx) {
          uint8_t* px = img.at(static_cast<int>(x) + dx, static_cast<int>(y) + dy);
          px[0] = static_cast<uint8_t>(80 + 10 * k), px[1] = 255, px[2] = static_cast<uint8_t>(255 - 10 * k);
        }
      body.push_back(std::round(x));
      body.push_back(std::round(y));
      body.push_back(2);
    }
    const std::string name = "img" + std::to_string(i) + ".png";
    data::write_image((root / "images" / name).string(), img);
    images.push_back({{"id", i + 1}, {"file_name", name}, {"width", 96}, {"height", 96}});
    auto zeros = [](int k) { return json(std::vector<double>(static_cast<size_t>(3 * k), 0.0)); };
    anns.push_back({{"id", 100 + i}, {"image_id", i + 1}, {"category_id", 1}, {"bbox", {bx, by, bw, bh}},
                    {"area", bw * bh}, {"iscrowd", 0}, {"num_keypoints", 17}, {"keypoints", body},
                    {"foot_kpts", zeros(6)}, {"face_kpts", zeros(68)}, {"lefthand_kpts", zeros(21)},
                    {"righthand_kpts", zeros(21)}, {"face_box", {0, 0, 0, 0}}, {"lefthand_box", {0, 0, 0, 0}},
                    {"righthand_box", {0, 0, 0, 0}}, {"foot_valid", false}, {"face_valid", false},
                    {"lefthand_valid", false}, {"righthand_valid", false}});
  }
  const json file = {{"images", images},
                     {"annotations", anns},
                     {"categories", {{{"id", 1}, {"name", "person"}}}}};
  write_file_atomic((root / "annotations" / "train.json").string(), file.dump());
  write_file_atomic((root / "annotations" / "val.json").string(), file.dump());
}

json tiny_model(int64_t width = 4) {
  return {{"type", "hrnet"},         {"num_keypoints", 133},   {"input_size", {64, 64}},
          {"width", width},          {"stem_channels", 8},     {"stage1_blocks", 1},
          {"stage1_channels", 8},    {"num_modules", {1, 1, 1}}, {"num_blocks", {1, 1, 1}}};
}

tasks::TrainConfig tiny_config(const fs::path& data_root, int64_t epochs, int64_t width = 4) {
  const json j = {{"model", tiny_model(width)},
                  {"data", {{"root", data_root.string()}, {"workers", 2}}},
                  {"train", {{"epochs", epochs}, {"batch_size", 4}, {"lr", 1e-3}, {"warmup_iters", 3},
                             {"milestones", {1}}, {"log_interval", 1}}},
                  {"eval", {{"interval", 1}}}};
  return tasks::parse_train_config(j, "tiny.json");
}

}  // namespace

TEST_CASE("train config: defaults are MMPose's HRNet recipe") {
  TempDir dir("train-config");
  write_file_atomic(dir.file("m.json"), tiny_model().dump());
  write_file_atomic(dir.file("t.json"), json{{"model", tiny_model()}}.dump());
  const tasks::TrainConfig c = tasks::read_train_config(dir.file("t.json"));
  CHECK(c.model == tiny_model());
  CHECK(c.optim.epochs == 210);
  CHECK(c.optim.batch_size == 32);
  CHECK(c.optim.lr == doctest::Approx(5e-4));
  CHECK(c.optim.warmup_iters == 500);
  CHECK(c.optim.milestones == std::vector<int64_t>{170, 200});
  CHECK(c.topdown.codec.input_h == 64);
  CHECK(c.topdown.codec.heatmap_w == 16);
  CHECK(c.topdown.codec.sigma == 2.0);
  const nn::LrSchedule s = c.lr_schedule();
  CHECK(s.lr_at(0, 0, 1000) == doctest::Approx(5e-7));
  CHECK(s.lr_at(169, 0, 1000) == doctest::Approx(5e-4));
  CHECK(s.lr_at(170, 0, 1000) == doctest::Approx(5e-5));
  CHECK(s.lr_at(205, 0, 1000) == doctest::Approx(5e-6));
  // A training config and its model file describe the same model to wbpose-info.
  CHECK(tasks::read_model_config(dir.file("t.json")) == tiny_model());
  CHECK(tasks::read_model_config(dir.file("m.json")) == tiny_model());
  // The written-out config reads back to the same config.
  const tasks::TrainConfig back = tasks::parse_train_config(c.to_json(), "back.json");
  CHECK(back.to_json() == c.to_json());
}

TEST_CASE("train config: every shipped training config reads") {
  for (const auto& e : fs::directory_iterator(fs::path(WBPOSE_SOURCE_DIR) / "configs")) {
    if (e.path().filename().string().rfind("train_", 0) != 0) continue;
    INFO(e.path().string());
    const tasks::TrainConfig c = tasks::read_train_config(e.path().string());
    CHECK(c.topdown.codec.heatmap_w * 4 == c.topdown.codec.input_w);
    CHECK(c.topdown.codec.sigma == (c.topdown.codec.input_h == 384 ? 3.0 : 2.0));
  }
}

TEST_CASE("train config: unknown keys and wrong types are errors naming the file and the field") {
  const json good = {{"model", tiny_model()}};
  json j = good;
  j["epochs"] = 3;
  CHECK(test::error_of([&] { tasks::parse_train_config(j, "x.json"); }) == "x.json: unknown field \"epochs\"");
  j = good;
  j["train"] = {{"lr", 1e-3}, {"epoch", 3}};
  CHECK(test::error_of([&] { tasks::parse_train_config(j, "x.json"); }) == "x.json: train: unknown field \"epoch\"");
  j = good;
  j["augment"] = {{"flip_prob", "half"}};
  CHECK(test::error_of([&] { tasks::parse_train_config(j, "x.json"); }).find("augment: field \"flip_prob\": expected a number") !=
        std::string::npos);
  j = good;
  j["codec"] = {{"encoding", "gauss"}};
  CHECK(test::error_of([&] { tasks::parse_train_config(j, "x.json"); }).find("codec: field \"encoding\"") !=
        std::string::npos);
  j = good;
  j["model"] = "hrnet.json";
  CHECK(test::error_of([&] { tasks::parse_train_config(j, "x.json"); }).find("expected a model config object") !=
        std::string::npos);
  j = good;
  j["model"]["widht"] = 3;
  CHECK(test::error_of([&] { tasks::parse_train_config(j, "x.json"); }).find("unknown field \"widht\"") != std::string::npos);
  CHECK(test::error_of([&] { tasks::parse_train_config(json{{"seed", 1}}, "x.json"); }).find("\"model\"") !=
        std::string::npos);
}

TEST_CASE("loader: first_batch starts an epoch where a resumed run left it") {
  TempDir dir("train-loader");
  make_dataset(dir.path, 8, 1);
  const tasks::TrainConfig c = tiny_config(dir.path, 1);
  const auto file = data::read_coco_keypoints(dir.file("annotations/train.json"));
  const data::TopDownDataset ds(data::instances_from_coco(file, dir.file("images")), pose::coco_wholebody(),
                                c.topdown);
  data::LoaderOptions lo;
  lo.batch_size = 3;
  lo.workers = 2;
  data::BatchLoader all(ds, lo, 4);
  all.next();
  const data::Batch second = *all.next();
  lo.first_batch = 1;
  data::BatchLoader resumed(ds, lo, 4);
  const data::Batch b = *resumed.next();
  CHECK(b.index == 1);
  CHECK(b.dataset_indices == second.dataset_indices);
  WB_CHECK_CLOSE(b.images, second.images, 0, 0);
  CHECK(!resumed.next().has_value());
}

TEST_CASE("trainer: 2 epochs equal 1 epoch + resume + 1 epoch, and a stop mid-epoch + resume, bit for bit") {
  TempDir dir("train-resume");
  make_dataset(dir.path / "data", 8, 2);
  const fs::path a = dir.path / "a", b = dir.path / "b", s = dir.path / "s";

  const tasks::TrainResult ra = tasks::train(tiny_config(dir.path / "data", 2), quiet(a), {});
  CHECK(ra.iterations == 4);
  CHECK(ra.epochs_completed == 2);

  tasks::train(tiny_config(dir.path / "data", 1), quiet(b), {});
  CHECK(slurp(a / "latest.safetensors") != slurp(b / "latest.safetensors"));
  const tasks::TrainResult rb = tasks::train(tiny_config(dir.path / "data", 2), quiet(b, true), {});
  CHECK(rb.iterations == 4);
  CHECK(slurp(a / "latest.safetensors") == slurp(b / "latest.safetensors"));
  CHECK(wb::test::checkpoint_tensors(a) == wb::test::checkpoint_tensors(b));

  // Stopped after its first iteration (the flag is already set), then resumed twice more.
  std::atomic<bool> stop{true};
  tasks::TrainOptions o = quiet(s);
  o.stop = &stop;
  const tasks::TrainResult r1 = tasks::train(tiny_config(dir.path / "data", 2), o, {});
  CHECK(r1.stopped);
  CHECK(r1.iterations == 1);
  o.resume = true;
  const tasks::TrainResult r2 = tasks::train(tiny_config(dir.path / "data", 2), o, {});
  CHECK(r2.iterations == 2);
  stop = false;
  const tasks::TrainResult r3 = tasks::train(tiny_config(dir.path / "data", 2), o, {});
  CHECK(!r3.stopped);
  CHECK(r3.iterations == 4);
  CHECK(slurp(a / "latest.safetensors") == slurp(s / "latest.safetensors"));
  CHECK(wb::test::checkpoint_tensors(a) == wb::test::checkpoint_tensors(s));
  // The log of the interrupted run has one loss record per iteration, as the straight run's.
  int train_records = 0;
  const tasks::MetricsLog log((s / "metrics.jsonl").string(), true, 1 << 30);
  for (const auto& r : log.records()) {
    train_records += r["kind"] == "train";
  }
  CHECK(train_records == 4);
  CHECK(fs::exists(s / "curves.png"));
}

namespace {

// A family's own samples, not top-down crops: 10 random 2x6x6 "images" whose target is their mirror
// image, to show the loop trains on whatever source the task brings (tasks/family.h:
// PoseFamily::training_data) and keeps its determinism for it.
class MirrorSamples : public data::SampleSource {
 public:
  explicit MirrorSamples(std::atomic<int64_t>& made) : made_(made) {}
  int64_t size() const override { return 10; }
  data::Batch allocate(int64_t rows) const override {
    data::Batch b;
    b.images = Tensor::empty({rows, 2, 6, 6});
    b.heatmaps = Tensor::empty({rows, 2, 6, 6});
    b.meta.resize(static_cast<size_t>(rows));
    return b;
  }
  void make_row(int64_t index, Generator& gen, data::Batch& batch, int64_t row) const override {
    float* x = batch.images.data<float>() + row * 72;
    float* y = batch.heatmaps.data<float>() + row * 72;
    for (int i = 0; i < 72; ++i) x[i] = static_cast<float>(gen.uniform(-1, 1));
    for (int i = 0; i < 72; ++i) y[i] = x[i - i % 6 + 5 - i % 6];
    batch.meta[static_cast<size_t>(row)].image_id = index;
    ++made_;
  }

 private:
  std::atomic<int64_t>& made_;  // the task's count: the loop destroys the source when it returns
};

class MirrorTask : public tasks::TrainingTask {
 public:
  explicit MirrorTask(const tasks::TrainConfig& c) : cfg_(c) {}
  nn::Module& build(Generator& gen) override {
    nn::Conv2dOptions o;
    o.in_channels = 2, o.out_channels = 2, o.kernel = 3, o.padding = 1;
    conv_ = std::make_shared<nn::Conv2d>(o);
    conv_->reset_parameters(gen);
    return *conv_;
  }
  std::unique_ptr<data::SampleSource> training_data() const override { return std::make_unique<MirrorSamples>(made); }
  tasks::StepLoss step(const data::Batch& batch, Device device, int64_t) override {
    CHECK(batch.images.size(1) == 2);
    const Tensor loss = ops::heatmap_mse_loss((*conv_)(batch.images.to(device)), batch.heatmaps.to(device));
    autograd::backward(loss);
    return {loss.item(), {}};
  }
  bool validates() const override { return false; }
  tasks::Validation validate() override { return {}; }
  nlohmann::json config_json() const override { return cfg_.to_json(); }
  mutable std::atomic<int64_t> made{0};  // samples the loop had made

 private:
  const tasks::TrainConfig& cfg_;
  std::shared_ptr<nn::Conv2d> conv_;
};

}  // namespace

TEST_CASE("trainer: a task's own sample source (not top-down crops) is what the loop trains on, resumable bit for bit") {
  TempDir dir("train-source");
  tasks::TrainConfig c = tiny_config(dir.path / "no-data-here", 3);
  c.optim.batch_size = 4;
  MirrorTask straight(c);
  const tasks::TrainResult r = tasks::train(c, straight, quiet(dir.path / "a"));
  CHECK(r.iterations == 3 * 2);  // 10 samples, batches of 4, the partial one dropped
  CHECK(straight.made == 3 * 8);
  CHECK(std::isfinite(r.last_loss));

  tasks::TrainConfig one = c;
  one.optim.epochs = 1;
  MirrorTask first(one), rest(c);
  tasks::train(one, first, quiet(dir.path / "b"));
  tasks::train(c, rest, quiet(dir.path / "b", true));
  CHECK(slurp(dir.path / "a" / "latest.safetensors") == slurp(dir.path / "b" / "latest.safetensors"));
}

TEST_CASE("trainer: validation callback, metrics and the best checkpoint") {
  TempDir dir("train-val");
  make_dataset(dir.path / "data", 8, 3);
  const double aps[] = {0.2, 0.5, 0.4};
  int calls = 0;
  const tasks::EvalFn fake = [&](nn::Module& model) {
    CHECK(!model.is_training());
    data::OksStats body{}, whole{};
    body.fill(0.9);
    whole.fill(aps[calls]);
    ++calls;
    return tasks::EvalRows{{"body", body}, {"wholebody", whole}};
  };
  const tasks::TrainResult r = tasks::train(tiny_config(dir.path / "data", 3), quiet(dir.path / "run"), fake);
  CHECK(calls == 3);
  CHECK(r.best_ap == doctest::Approx(0.5));
  std::vector<double> logged;
  const tasks::MetricsLog log(dir.file("run/metrics.jsonl"), true, 1 << 30);
  for (const auto& rec : log.records()) {
    if (rec["kind"] == "val") {
      logged.push_back(rec["ap"].get<double>());
      CHECK(rec["metric"] == "wholebody");
      CHECK(rec["parts"]["body"]["AP"].get<double>() == doctest::Approx(0.9));
    }
  }
  CHECK(logged == std::vector<double>{0.2, 0.5, 0.4});
  // best.safetensors holds epoch 2's weights: not the last ones.
  CHECK(fs::exists(dir.file("run/best.safetensors")));
  CHECK(slurp(dir.path / "run/best.safetensors") != slurp(dir.path / "run/latest.safetensors"));
  // Continuing to a 4th epoch keeps the best AP found before the resume.
  calls = 0;
  const tasks::TrainResult r2 = tasks::train(tiny_config(dir.path / "data", 4), quiet(dir.path / "run", true), fake);
  CHECK(r2.best_ap == doctest::Approx(0.5));
}

TEST_CASE("trainer: bad input is one error, and nothing is written") {
  TempDir dir("train-bad");
  make_dataset(dir.path / "data", 8, 4);

  SUBCASE("a data folder without annotations") {
    fs::create_directories(dir.path / "empty");
    const std::string err = test::error_of([&] { tasks::train(tiny_config(dir.path / "empty", 1), quiet(dir.path / "run"), {}); });
    CHECK(err.find("annotations/train.json") != std::string::npos);
    CHECK(!fs::exists(dir.path / "run"));
  }
  SUBCASE("a checkpoint for another model") {
    tasks::train(tiny_config(dir.path / "data", 1), quiet(dir.path / "run"), {});
    const std::string before = slurp(dir.path / "run/checkpoint.json") + slurp(dir.path / "run/metrics.jsonl");
    const std::string err =
        test::error_of([&] { tasks::train(tiny_config(dir.path / "data", 2, 6), quiet(dir.path / "run", true), {}); });
    INFO(err);
    CHECK(err.find("checkpoint") != std::string::npos);
    CHECK(err.find("backbone.") != std::string::npos);
    CHECK(slurp(dir.path / "run/checkpoint.json") + slurp(dir.path / "run/metrics.jsonl") == before);
  }
  SUBCASE("an existing run without resume, and resume without a run") {
    tasks::train(tiny_config(dir.path / "data", 1), quiet(dir.path / "run"), {});
    CHECK(test::error_of([&] { tasks::train(tiny_config(dir.path / "data", 1), quiet(dir.path / "run"), {}); })
              .find("--resume") != std::string::npos);
    CHECK(test::error_of([&] { tasks::train(tiny_config(dir.path / "data", 1), quiet(dir.path / "new", true), {}); })
              .find("no checkpoint") != std::string::npos);
    CHECK(!fs::exists(dir.path / "new"));
  }
  SUBCASE("an image that does not decode") {
    write_file_atomic(dir.file("data/images/img3.png"), "not a png");
    const std::string err = test::error_of([&] { tasks::train(tiny_config(dir.path / "data", 1), quiet(dir.path / "run"), {}); });
    CHECK(err.find("img3.png") != std::string::npos);
    CHECK(!fs::exists(dir.path / "run/checkpoint.json"));
  }
}

TEST_CASE("plot: curves.png has the loss and AP panels with their lines") {
  TempDir dir("train-plot");
  std::vector<json> records;
  for (int i = 1; i <= 20; ++i) records.push_back({{"kind", "train"}, {"iter", 10 * i}, {"loss", 0.01 / i}});
  for (int e = 1; e <= 4; ++e) {
    records.push_back({{"kind", "val"},
                       {"iter", 50 * e},
                       {"parts", {{"body", {{"AP", 0.2 * e}}}, {"wholebody", {{"AP", 0.1 * e}}}}}});
  }
  tasks::write_training_curves(dir.file("c.png"), records);
  const data::Image img = data::read_image(dir.file("c.png"));
  CHECK(img.width == 1040);
  CHECK(img.height == 400);
  // Pixels of the loss colour on the left half only; of the body AP colour on the right half only.
  auto count = [&](pose::Rgb c, int x0, int x1) {
    int n = 0;
    for (int y = 0; y < img.height; ++y)
      for (int x = x0; x < x1; ++x) n += img.at(x, y)[0] == c.r && img.at(x, y)[1] == c.g && img.at(x, y)[2] == c.b;
    return n;
  };
  const pose::Rgb loss{31, 119, 180}, body = pose::part_color("body");
  CHECK(count(loss, 0, 520) > 200);
  CHECK(count(loss, 520, 1040) == 0);
  CHECK(count(body, 520, 1040) > 200);
  CHECK(count(body, 0, 520) == 0);
  // No record yet: empty panels, still a picture.
  tasks::write_training_curves(dir.file("empty.png"), {});
  CHECK(data::read_image(dir.file("empty.png")).width == 1040);
}

namespace {

json tiny_zoomnet_run(const fs::path& data_root, int64_t epochs) {
  return {{"model", test::tiny_zoomnet_config()},
          {"data", {{"root", data_root.string()}, {"workers", 2}}},
          {"train", {{"epochs", epochs}, {"batch_size", 4}, {"lr", 1e-3}, {"warmup_iters", 3},
                     {"milestones", {1}}, {"log_interval", 1}}},
          {"eval", {{"interval", 1}, {"flip_test", true}}}};
}

}  // namespace

TEST_CASE("trainer: a ZoomNet config trains with zoomnet_loss, validates, resumes bit for bit, and its weights predict") {
  TempDir dir("train-zoomnet");
  make_dataset(dir.path / "data", 8, 4);
  const fs::path a = dir.path / "a", b = dir.path / "b";
  const tasks::TrainConfig two = tasks::parse_train_config(tiny_zoomnet_run(dir.path / "data", 2), "z.json");
  const tasks::TrainResult ra = tasks::train(two, quiet(a), tasks::make_validation(two, Device::cpu()));
  CHECK(ra.iterations == 4);
  CHECK(ra.best_ap >= 0);  // validated: the whole-body row of the real evaluation
  int parts = 0, vals = 0;
  const tasks::MetricsLog log((a / "metrics.jsonl").string(), true, 1 << 30);
  for (const auto& r : log.records()) {
    if (r["kind"] == "train") {
      if (!r.contains("loss_parts")) continue;
      ++parts;
      // Body, face and hand sum to the step's loss (one iteration per log window here).
      const auto& p = r.at("loss_parts");
      CHECK(p["body"].get<double>() + p["face"].get<double>() + p["hand"].get<double>() ==
            doctest::Approx(r["loss"].get<double>()));
      CHECK(p["body"].get<double>() > 0);
    }
    if (r["kind"] == "val") {
      ++vals;
      CHECK(r["metric"] == "wholebody");
      CHECK(r["parts"].contains("face"));
    }
  }
  CHECK(parts == 4);
  CHECK(vals == 2);

  // Resume: 1 epoch, then the second from the checkpoint, ends on the same weights.
  tasks::train(tasks::parse_train_config(tiny_zoomnet_run(dir.path / "data", 1), "z.json"), quiet(b), {});
  tasks::train(two, quiet(b, true), {});
  CHECK(slurp(a / "latest.safetensors") == slurp(b / "latest.safetensors"));

  // The run folder's config and weights rebuild the model for wbpose-eval / wbpose-infer.
  const tasks::ModelSpec spec = tasks::read_model_spec((a / "config.json").string());
  CHECK(dynamic_cast<pose::ZoomNet*>(spec.model.get()) != nullptr);
  CHECK(spec.keypoints == &pose::coco_wholebody());
  tasks::load_model_weights((a / "latest.safetensors").string(), *spec.model);
  tasks::PredictOptions p;
  p.family = spec.family;  // ZoomNet predicts through its own pipeline
  p.codec = spec.codec;
  p.keypoints = spec.keypoints;
  p.flip_test = true;
  const data::CocoKeypointsFile gt = data::read_coco_keypoints((dir.path / "data/annotations/val.json").string());
  std::vector<data::PersonInstance> inst;
  for (const auto& ann : gt.annotations) {
    inst.push_back({(dir.path / "data/images" / ("img" + std::to_string(ann.image_id - 1) + ".png")).string(),
                    ann.image_id, ann.id, ann.bbox, 1.0, {}});
  }
  const auto results = tasks::predict_instances(*spec.model, p, inst);
  REQUIRE(results.size() == inst.size());
  for (const auto& r : results) {
    REQUIRE(r.keypoints.size() == 3 * 133);
    for (double v : r.keypoints) CHECK(std::isfinite(v));
  }

  // ZoomNet crops need the MSRA geometry.
  json udp = tiny_zoomnet_run(dir.path / "data", 1);
  udp["codec"] = {{"encoding", "udp"}};
  CHECK(test::error_of([&] { tasks::parse_train_config(udp, "z.json"); }).find("z.json: codec: ZoomNet needs the \"msra\"") !=
        std::string::npos);
}
