// Supernet training end to end on a tiny synthetic set (tasks/supernet_train.h): two epochs with
// the sandwich step and validation of the largest and smallest sub-networks; resuming (at an epoch
// boundary and after a stop mid-epoch) ends on the same weights bit for bit; the config's own
// sections are read with errors naming the field; evaluate_subnet is deterministic.
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "datasets/synth/dataset.h"
#include "pose/models/zoomnet.h"
#include "tasks/metrics_log.h"
#include "tasks/model_spec.h"
#include "tasks/subnet_eval.h"
#include "tasks/supernet_train.h"
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

// A space around tests/tiny_zoomnet.h's widths: crops 32 or 64 square, heads 8 or 16, the
// connection searched, one-block modules.
json tiny_space() {
  const json net = {{"aspect_w", 1},           {"aspect_h", 1},        {"stage1_depths", {1}},
                    {"stage1_widths", {1, 2}}, {"blocks_per_module", 1}, {"stage_depths", {{1}, {1}, {1}}},
                    {"branch_widths", {{1, 2}, {2, 4}, {4, 8}, {8, 16}}}};
  json body = net, head = net;
  body["input_heights"] = {32, 64};
  body["stem_widths"] = {2, 4};
  head["input_heights"] = {8, 16};
  head["feature_stages"] = {0, 1};
  head["roi_expansions"] = {1.0, 1.2};
  return {{"body", body}, {"face_head", head}, {"hand_head", head}};
}

json tiny_supernet_config(const fs::path& data, int64_t epochs) {
  json model = test::tiny_zoomnet_config();
  model["body"]["input_size"] = {64, 64};
  return {{"model", model},
          {"search_space", tiny_space()},
          {"sandwich", {{"random_subnets", 2}, {"distill_weight", 1.0}}},
          {"recalibration", {{"batches", 2}, {"batch_size", 4}}},
          {"data", {{"root", data.string()}, {"workers", 2}}},
          {"train", {{"epochs", epochs}, {"batch_size", 4}, {"lr", 1e-3}, {"warmup_iters", 3},
                     {"milestones", {1}}, {"log_interval", 2}}},
          {"eval", {{"interval", 1}, {"flip_test", false}}},
          {"seed", 5}};
}

}  // namespace

TEST_CASE("train-supernet: sandwich training validates, resumes bit for bit, and a stop saves") {
  TempDir dir("supernet");
  data::synth::DatasetOptions so;
  so.out = (dir.path / "data").string();
  so.train = 10;
  so.val = 3;
  so.seed = 4;
  so.width = 160;
  so.height = 120;
  so.difficulty = data::synth::Difficulty::easy;
  data::synth::generate_dataset(so);

  const tasks::SupernetConfig two = tasks::parse_supernet_config(tiny_supernet_config(dir.path / "data", 2), "s.json");
  const fs::path a = dir.path / "a", b = dir.path / "b", s = dir.path / "s";
  const tasks::TrainResult ra = tasks::train_supernet(two, quiet(a));
  CHECK(ra.epochs_completed == 2);
  const int64_t iters = ra.iterations;
  CHECK(iters >= 4);
  CHECK(ra.best_ap >= 0);
  int train_records = 0, vals = 0;
  const tasks::MetricsLog log((a / "metrics.jsonl").string(), true, 1 << 30);
  for (const auto& r : log.records()) {
    if (r["kind"] == "train") {
      ++train_records;
      const auto& p = r.at("loss_parts");
      // The logged loss is the largest's: its three parts sum to it.
      CHECK(p["body"].get<double>() + p["face"].get<double>() + p["hand"].get<double>() ==
            doctest::Approx(r["loss"].get<double>()));
      CHECK(p["students"].get<double>() > 0);
    }
    if (r["kind"] == "val") {
      ++vals;
      CHECK(r["metric"] == "wholebody");
      CHECK(r["parts"].contains("face"));
      CHECK(r["smallest"]["metric"] == "wholebody");
      CHECK(r["smallest"]["ap"].get<double>() >= 0);
      CHECK(r["smallest"]["parts"].contains("lefthand"));
    }
  }
  CHECK(train_records >= 2);
  CHECK(vals == 2);
  CHECK(fs::exists(a / "best.safetensors"));
  CHECK(fs::exists(a / "curves.png"));
  // config.json reads back as the same supernet config.
  CHECK(tasks::read_supernet_config((a / "config.json").string()).to_json() == two.to_json());

  // One epoch, then resumed to two, without validation: validating does not touch the weights.
  tasks::train_supernet(tasks::parse_supernet_config(tiny_supernet_config(dir.path / "data", 1), "s.json"), quiet(b),
                        false);
  CHECK(slurp(a / "latest.safetensors") != slurp(b / "latest.safetensors"));
  tasks::train_supernet(two, quiet(b, true), false);
  CHECK(slurp(a / "latest.safetensors") == slurp(b / "latest.safetensors"));
  CHECK(wb::test::checkpoint_tensors(a) == wb::test::checkpoint_tensors(b));

  // Stopped after the first iteration (the flag is set already), then resumed to the end.
  std::atomic<bool> stop{true};
  tasks::TrainOptions o = quiet(s);
  o.stop = &stop;
  const tasks::TrainResult r1 = tasks::train_supernet(two, o, false);
  CHECK(r1.stopped);
  CHECK(r1.iterations == 1);
  CHECK(fs::exists(s / "checkpoint.json"));
  stop = false;
  o.resume = true;
  const tasks::TrainResult r2 = tasks::train_supernet(two, o, false);
  CHECK(r2.iterations == iters);
  CHECK(slurp(a / "latest.safetensors") == slurp(s / "latest.safetensors"));

  // A sub-network of the trained supernet evaluates the same twice (recalibration batches fixed by
  // the seed), and differently from the largest.
  nas::ElasticZoomNet super(two.space, two.base);
  tasks::load_model_weights((a / "latest.safetensors").string(), super.module());
  tasks::SubnetEvaluator evaluate(tasks::subnet_eval_setup(two.train, Device::cpu(), 2, 4));
  Generator gen(11);
  const pose::ZoomNetConfig sub = nas::sample_zoomnet(two.space, two.base, nas::Pick::Uniform, gen);
  const tasks::EvalRows e1 = evaluate(super, sub);
  const tasks::EvalRows e2 = tasks::evaluate_subnet(super, sub, tasks::subnet_eval_setup(two.train, Device::cpu(), 2, 4));
  REQUIRE(e1.size() == 6);
  CHECK(e1 == e2);
}

TEST_CASE("train-supernet config: its own sections, defaults, and errors naming the field") {
  const fs::path data = "/nonexistent";
  json j = tiny_supernet_config(data, 1);
  j.erase("sandwich");
  j.erase("recalibration");
  const tasks::SupernetConfig d = tasks::parse_supernet_config(j, "s.json");
  CHECK(d.sandwich.random_subnets == 2);
  CHECK(d.sandwich.distill_weight == 1.0);
  CHECK(d.recal_batches == 16);
  CHECK(d.recal_batch_size == 4);  // the training batch size
  CHECK(d.space.body.input_heights == std::vector<int64_t>{32, 64});

  auto error = [&](const std::function<void(json&)>& edit) {
    json k = tiny_supernet_config(data, 1);
    edit(k);
    return test::error_of([&] { tasks::parse_supernet_config(k, "s.json"); });
  };
  CHECK(error([](json& k) { k["search_space"]["body"]["stem_widht"] = {2}; }) ==
        "s.json: search_space: body: unknown field \"stem_widht\"");
  CHECK(error([](json& k) { k["search_space"]["bodyy"] = json::object(); }).find("search_space: unknown field \"bodyy\"") !=
        std::string::npos);
  CHECK(error([](json& k) { k["sandwich"]["random_subnet"] = 1; }) == "s.json: sandwich: unknown field \"random_subnet\"");
  CHECK(error([](json& k) { k["recalibration"]["batches"] = 0; }).find("recalibration: field \"batches\"") !=
        std::string::npos);
  CHECK(error([](json& k) { k["searchspace"] = json::object(); }) == "s.json: unknown field \"searchspace\"");
  CHECK(error([](json& k) { k["model"]["body"]["input_size"] = {32, 32}; }).find("is not the search space's largest") !=
        std::string::npos);
  CHECK(error([](json& k) { k["model"] = {{"type", "hrnet"}}; }).find("must be a ZoomNet") != std::string::npos);
  // The shipped configs read, and the small one's largest is the small ZoomNet it is built around.
  for (const char* name : {"zoomnas_supernet_w32.json", "zoomnas_supernet_small_cpu.json"}) {
    INFO(name);
    CHECK_NOTHROW(tasks::read_supernet_config((fs::path(WBPOSE_SOURCE_DIR) / "configs" / name).string()));
  }
  const tasks::SupernetConfig small =
      tasks::read_supernet_config((fs::path(WBPOSE_SOURCE_DIR) / "configs/zoomnas_supernet_small_cpu.json").string());
  const tasks::TrainConfig plain =
      tasks::read_train_config((fs::path(WBPOSE_SOURCE_DIR) / "configs/train_zoomnet_small_cpu.json").string());
  Generator unused;
  const pose::ZoomNetConfig largest = nas::sample_zoomnet(small.space, small.base, nas::Pick::Largest, unused);
  nas::ElasticZoomNet super(small.space, small.base);
  const nn::NamedTensors exported = super.export_subnet(largest)->state_dict();
  const nn::NamedTensors built = pose::build_zoomnet(plain.model, "plain")->state_dict();
  REQUIRE(exported.size() == built.size());
  for (size_t i = 0; i < built.size(); ++i) {
    INFO(built[i].first);
    CHECK(exported[i].first == built[i].first);
    CHECK(exported[i].second.shape() == built[i].second.shape());
  }
}
