// wbpose-eval run and wbpose-infer end to end on a tiny generated COCO-WholeBody folder and a small
// random HRNet: the plumbing (files written, shapes, one-line errors), not accuracy.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "datasets/image.h"
#include "nn/checkpoint.h"
#include "pose/models/factory.h"
#include "tasks/eval_run.h"
#include "tasks/infer_run.h"
#include "tasks/model_spec.h"
#include "tensor/atomic_file.h"
#include "tests/temp_dir.h"
#include "tests/util.h"

using namespace wb;
using nlohmann::json;
namespace fs = std::filesystem;

using wb::test::TempDir;

namespace {

json tiny_hrnet(int keypoints) {
  return {{"type", "hrnet"},          {"num_keypoints", keypoints}, {"input_size", {64, 64}},
          {"width", 4},               {"stem_channels", 8},         {"stage1_blocks", 1},
          {"stage1_channels", 8},     {"num_modules", {1, 1, 1}},   {"num_blocks", {1, 1, 1}}};
}

// A whole-body annotation: every keypoint labelled inside the box, on a fixed pattern.
json wholebody_annotation(int64_t id, int64_t image_id, double x, double y, double w, double h) {
  auto kpts = [&](int begin, int count) {
    json a = json::array();
    for (int k = begin; k < begin + count; ++k) {
      a.push_back(x + w * (0.1 + 0.8 * ((k * 37) % 100) / 100.0));
      a.push_back(y + h * (0.1 + 0.8 * ((k * 61) % 100) / 100.0));
      a.push_back(2);
    }
    return a;
  };
  const json box = {x, y, w, h};
  return {{"id", id},          {"image_id", image_id},      {"category_id", 1},        {"bbox", box},
          {"area", w * h},     {"iscrowd", 0},              {"num_keypoints", 17},     {"keypoints", kpts(0, 17)},
          {"foot_kpts", kpts(17, 6)}, {"face_kpts", kpts(23, 68)}, {"lefthand_kpts", kpts(91, 21)},
          {"righthand_kpts", kpts(112, 21)}, {"face_box", box}, {"lefthand_box", box}, {"righthand_box", box},
          {"foot_valid", true}, {"face_valid", true}, {"lefthand_valid", true}, {"righthand_valid", true}};
}

// DIR/images/{a,b}.png and DIR/annotations/val.json with three people; the config and random
// weights of a tiny whole-body HRNet; the weights of a 17-keypoint one.
struct Fixture {
  TempDir dir;
  std::string data, config, weights, body_weights;

  Fixture() {
    data = dir.file("data");
    fs::create_directories(data + "/images");
    fs::create_directories(data + "/annotations");
    for (auto [name, w, h] : {std::tuple{"a.png", 96, 80}, std::tuple{"b.png", 70, 90}}) {
      data::Image img(w, h, 3);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          for (int c = 0; c < 3; ++c) img.at(x, y)[c] = static_cast<uint8_t>((x * (c + 3) + y * 5) % 256);
      data::write_image(data + "/images/" + name, img);
    }
    const json gt = {{"images", {{{"id", 1}, {"file_name", "a.png"}, {"width", 96}, {"height", 80}},
                                 {{"id", 2}, {"file_name", "b.png"}, {"width", 70}, {"height", 90}}}},
                     {"categories", {{{"id", 1}, {"name", "person"}}}},
                     {"annotations", {wholebody_annotation(1, 1, 5, 5, 40, 60), wholebody_annotation(2, 1, 50, 10, 40, 60),
                                      wholebody_annotation(3, 2, 10, 10, 50, 70)}}};
    write_file_atomic(data + "/annotations/val.json", gt.dump());
    config = dir.file("tiny.json");
    write_file_atomic(config, tiny_hrnet(133).dump());
    weights = dir.file("tiny.safetensors");
    Generator gen(3);
    auto model = pose::build_model(tiny_hrnet(133), "tiny");
    model->init_weights(gen);
    nn::save_weights(weights, *model);
    body_weights = dir.file("body.safetensors");
    auto body = pose::build_model(tiny_hrnet(17), "tiny-body");
    nn::save_weights(body_weights, *body);
  }

  tasks::EvalRunOptions eval_options() const {
    tasks::EvalRunOptions o;
    o.config = config;
    o.checkpoint = weights;
    o.data_dir = data;
    o.out_dir = dir.file("eval-out");
    o.batch_size = 2;
    return o;
  }
};

}  // namespace

TEST_CASE("eval run: results, metrics and the six-part table from a data folder") {
  Fixture fx;
  tasks::EvalRunOptions o = fx.eval_options();
  o.flip_test = true;
  std::ostringstream log;
  const tasks::PartTable table = tasks::run_evaluation(o, log);
  REQUIRE(table.size() == 6);
  CHECK(table[0].first == "body");
  CHECK(table[5].first == "wholebody");
  for (const auto& [part, stats] : table)
    for (double s : stats) CHECK((s == -1 || (s >= 0 && s <= 1)));
  const auto results = data::read_keypoint_results(o.out_dir + "/results.json");
  CHECK(results.size() >= 2);  // three boxes; OKS-NMS may merge the two on image 1 of a random model
  CHECK(results.size() <= 3);
  CHECK(results[0].keypoints.size() == 3 * 133);
  const json metrics = json::parse(read_file(o.out_dir + "/metrics.json"));
  CHECK(metrics.at("person_boxes") == 3);
  CHECK(metrics.at("flip_test") == true);
  CHECK(metrics.at("stats").contains("wholebody"));
  CHECK(log.str().find("3 person boxes") != std::string::npos);

  // Detector boxes instead of the ground truth.
  const std::string boxes = fx.dir.file("boxes.json");
  write_file_atomic(boxes, R"([{"image_id": 2, "category_id": 1, "bbox": [5, 5, 50, 70], "score": 0.8},
                               {"image_id": 1, "category_id": 1, "bbox": [0, 0, 0, 10], "score": 0.9}])");
  o.boxes = boxes;
  o.out_dir = fx.dir.file("eval-det");
  o.decoding = pose::HeatmapDecoding::Dark;
  tasks::run_evaluation(o, log);
  CHECK(data::read_keypoint_results(o.out_dir + "/results.json").size() == 1);
  CHECK(json::parse(read_file(o.out_dir + "/metrics.json")).at("decoding") == "dark");
}

TEST_CASE("eval run: bad inputs are one-line errors and create no output folder") {
  Fixture fx;
  auto fails = [&](tasks::EvalRunOptions o, const std::string& expected) {
    o.out_dir = fx.dir.file("never");
    std::ostringstream log;
    const std::string e = test::error_of([&] { tasks::run_evaluation(o, log); });
    INFO(e);
    CHECK(e.find(expected) != std::string::npos);
    CHECK(e.find('\n') == std::string::npos);
    CHECK(!fs::exists(o.out_dir));
  };
  tasks::EvalRunOptions o = fx.eval_options();
  o.data_dir = fx.dir.file("nowhere");
  fails(o, "no such folder");
  o = fx.eval_options();
  fs::create_directories(fx.dir.file("empty"));
  o.data_dir = fx.dir.file("empty");
  fails(o, "no annotations/val.json");
  o = fx.eval_options();
  o.checkpoint = fx.body_weights;
  fails(o, "head.final_layer.weight");
  o.checkpoint = fx.dir.file("missing.safetensors");
  fails(o, "missing.safetensors");
  o = fx.eval_options();
  o.device = "cuda:7";
  fails(o, "cuda:7");
  o = fx.eval_options();
  const std::string body_config = fx.dir.file("body.json");
  write_file_atomic(body_config, tiny_hrnet(17).dump());
  o.config = body_config;
  o.checkpoint = fx.body_weights;
  fails(o, "predicts 17 keypoints");
}

TEST_CASE("model spec: run configs with a codec section, strict weights from a training checkpoint") {
  TempDir dir;
  const std::string cfg = dir.file("run.json");
  write_file_atomic(cfg, json{{"model", tiny_hrnet(17)},
                              {"codec", {{"encoding", "udp"}, {"decoding", "dark"}, {"sigma", 2.5}}},
                              {"train", {{"epochs", 3}}}}
                             .dump());
  const tasks::ModelSpec spec = tasks::read_model_spec(cfg);
  CHECK(spec.codec.encoding == pose::HeatmapEncoding::Udp);
  CHECK(spec.codec.decoding == pose::HeatmapDecoding::Dark);
  CHECK(spec.codec.sigma == 2.5);
  CHECK(spec.codec.heatmap_w == 16);
  CHECK(spec.keypoints == &pose::coco_body());
  write_file_atomic(cfg, json{{"model", tiny_hrnet(17)}, {"codec", {{"sigmaa", 2}}}}.dump());
  CHECK(test::error_of([&] { tasks::read_model_spec(cfg); }).find("unknown field \"sigmaa\"") != std::string::npos);
  write_file_atomic(cfg, json{{"model", tiny_hrnet(17)}, {"codec", {{"encoding", "gauss"}}}}.dump());
  CHECK(test::error_of([&] { tasks::read_model_spec(cfg); }).find("\"gauss\"") != std::string::npos);
  CHECK(tasks::default_codec({384, 288}, "test").sigma == 3.0);
  // A number JSON cannot hold: an error naming the file, not nlohmann's bare out_of_range.
  write_file_atomic(cfg, "{\"model\": {\"type\": \"hrnet\", \"width\": 1e999}}");
  CHECK(test::error_of([&] { tasks::read_model_spec(cfg); }).find(cfg + ": malformed JSON") != std::string::npos);
  // A training config's other sections are checked too, though only its model and codec are used.
  write_file_atomic(cfg, json{{"model", tiny_hrnet(17)}, {"train", {{"epoch", 3}}}}.dump());
  CHECK(test::error_of([&] { tasks::read_model_spec(cfg); }).find("train: unknown field \"epoch\"") != std::string::npos);
  // Sides beyond int: refused by name, not truncated (2^32 + 128 once trained at 128).
  json huge = tiny_hrnet(17);
  huge["input_size"] = {int64_t{4294967424}, 64};
  write_file_atomic(cfg, json{{"model", huge}}.dump());
  CHECK(test::error_of([&] { tasks::read_model_spec(cfg); }).find("\"input_size\": a side of 4294967424") !=
        std::string::npos);
  write_file_atomic(cfg, json{{"model", tiny_hrnet(17)}, {"codec", {{"heatmap_size", {int64_t{4294967424}, 16}}}}}.dump());
  CHECK(test::error_of([&] { tasks::read_model_spec(cfg); }).find("\"heatmap_size\": a side of 4294967424") !=
        std::string::npos);

  // A training checkpoint's model entries load; its optimizer entries are ignored.
  auto model = pose::build_model(tiny_hrnet(17), "tiny");
  Generator gen(5);
  model->init_weights(gen);
  TensorMap ckpt;
  for (const auto& [name, t] : model->state_dict()) ckpt.emplace("model." + name, t);
  ckpt.emplace("optimizer.step", Tensor::zeros({1}));
  save_safetensors(dir.file("ckpt.safetensors"), ckpt);
  auto copy = pose::build_model(tiny_hrnet(17), "tiny");
  tasks::load_model_weights(dir.file("ckpt.safetensors"), *copy);
  const auto a = model->state_dict(), b = copy->state_dict();
  for (size_t i = 0; i < a.size(); ++i) WB_CHECK_CLOSE(b[i].second, a[i].second, 0, 0);
}

TEST_CASE("infer run: pictures with skeletons and the keypoints as JSON") {
  Fixture fx;
  tasks::InferOptions o;
  o.config = fx.config;
  o.checkpoint = fx.weights;
  o.images_dir = fx.data + "/images";
  o.out = fx.dir.file("pictures");
  o.json = fx.dir.file("keypoints.json");
  o.threshold = 0;  // draw everything: a random model's scores are small
  std::ostringstream log;
  const tasks::InferSummary s = tasks::run_inference(o, log);
  CHECK(s.images == 2);
  CHECK(s.people == 2);  // the whole image of each
  REQUIRE(s.pictures.size() == 2);
  const data::Image drawn = data::read_image(s.pictures[0]);
  const data::Image original = data::read_image(fx.data + "/images/a.png");
  CHECK(drawn.width == original.width);
  CHECK(drawn.pixels != original.pixels);
  const json doc = json::parse(read_file(o.json));
  CHECK(doc.at("keypoint_set") == "coco_wholebody");
  REQUIRE(doc.at("images").size() == 2);
  CHECK(doc["images"][0]["people"][0]["keypoints"].size() == 3 * 133);
  CHECK(doc["images"][0]["people"][0]["bbox"] == json({0.0, 0.0, 96.0, 80.0}));

  // One image, a boxes file keyed by file name, a single picture path.
  const std::string boxes = fx.dir.file("boxes.json");
  write_file_atomic(boxes, R"({"b.png": [[1, 2, 30, 40], [10, 10, 40, 60, 0.5]]})");
  tasks::InferOptions one = o;
  one.images_dir.clear();
  one.images = {fx.data + "/images/b.png"};
  one.boxes = boxes;
  one.out = fx.dir.file("one.png");
  one.json.clear();
  CHECK(tasks::run_inference(one, log).people == 2);
  CHECK(fs::exists(one.out));

  // COCO detection results, mapped to files through the annotations; low scores left out.
  write_file_atomic(boxes, R"([{"image_id": 2, "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9},
                               {"image_id": 2, "category_id": 1, "bbox": [5, 5, 30, 40], "score": 0.2},
                               {"image_id": 2, "category_id": 3, "bbox": [5, 5, 30, 40], "score": 0.9}])");
  CHECK(test::error_of([&] { tasks::run_inference(one, log); }).find("give --annotations") != std::string::npos);
  one.annotations = fx.data + "/annotations/val.json";
  one.min_box_score = 0.5;
  CHECK(tasks::run_inference(one, log).people == 1);

  // Errors: an image that does not decode, several images for one picture, a bad box; nothing written.
  const std::string bad = fx.dir.file("bad.png");
  write_file_atomic(bad, "no image here");
  tasks::InferOptions e = o;
  e.images = {bad};
  e.out = fx.dir.file("never");
  e.json = fx.dir.file("never.json");
  CHECK(test::error_of([&] { tasks::run_inference(e, log); }).find("bad.png") != std::string::npos);
  CHECK(!fs::exists(e.out));
  CHECK(!fs::exists(e.json));
  e.images.clear();
  e.out = fx.dir.file("x.png");
  CHECK(test::error_of([&] { tasks::run_inference(e, log); }).find("give a folder") != std::string::npos);
  CHECK(test::error_of([] { tasks::parse_box("1,2,0,4"); }).find("\"1,2,0,4\"") != std::string::npos);
  CHECK(test::error_of([] { tasks::parse_box("1,2,3"); }).find("x,y,w,h") != std::string::npos);
  CHECK(tasks::parse_box("1.5,2,3,4").x == 1.5);
}
