// HRNet and SimpleBaseline: configs, parameter and FLOPs counts against the papers; against MMPose
// 1.3.2 itself (tests/reference/gen_hrnet.py, gen_simplebaseline.py): state_dict names and shapes
// of every config, and heatmaps, loss and every gradient of MMPose's own training path. (Converted
// MMPose checkpoints: tests/test_checkpoint_convert.cpp.)
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/ops_pose.h"
#include "nn/flops.h"
#include "pose/models/factory.h"
#include "pose/models/hrnet.h"
#include "pose/models/simple_baseline.h"
#include "tensor/error.h"
#include "tests/model_parity.h"
#include "tests/util.h"

using namespace wb;
using nlohmann::json;

namespace {

std::string config_path(const std::string& name) { return std::string(WBPOSE_SOURCE_DIR) + "/configs/" + name; }

void check_parity(const std::string& name, DType dtype) { test::check_parity(name, dtype, pose::build_model); }

}  // namespace

TEST_CASE("model configs: defaults, every shipped config, and errors naming the field") {
  const pose::HRNetConfig d = pose::hrnet_config_from_json(json::object(), "test");
  CHECK(d.width == 32);
  CHECK(d.num_modules == std::array<int64_t, 3>{1, 4, 3});
  CHECK(d.branch_channels(4) == std::vector<int64_t>{32, 64, 128, 256});
  // "upsample": nearest by default and then left out of the JSON, so configs recorded before the
  // field existed stay byte-identical; bilinear is read and written back.
  CHECK(d.upsample == "nearest");
  CHECK(!pose::to_json(d).contains("upsample"));
  const pose::HRNetConfig bilinear = pose::hrnet_config_from_json({{"upsample", "bilinear"}}, "test");
  CHECK(pose::to_json(bilinear).at("upsample") == "bilinear");
  CHECK(pose::hrnet_config_from_json(pose::to_json(bilinear), "test").upsample == "bilinear");

  for (const auto& entry : std::filesystem::directory_iterator(std::string(WBPOSE_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".json") continue;
    const json j = pose::read_json_file(entry.path().string());
    if (!j.contains("type") || (j["type"] != "hrnet" && j["type"] != "simplebaseline")) continue;
    CAPTURE(entry.path().string());
    CHECK_NOTHROW(pose::build_model(j, entry.path().string()));
  }

  auto error_of = [](const json& j) {
    try {
      pose::build_model(j, "cfg.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of({{"type", "hrnet"}, {"widht", 32}}) == "cfg.json: unknown field \"widht\"");
  CHECK(error_of({{"type", "hrnet"}, {"width", "32"}}).find("field \"width\": expected an integer") !=
        std::string::npos);
  CHECK(error_of({{"type", "hrnet"}, {"num_modules", {1, 4}}}).find("field \"num_modules\": expected 3") !=
        std::string::npos);
  CHECK(error_of({{"type", "hrnet"}, {"head", "v3"}}).find("field \"head\"") != std::string::npos);
  CHECK(error_of({{"type", "hrnet"}, {"upsample", "bicubic"}}) ==
        "cfg.json: field \"upsample\" must be \"nearest\" or \"bilinear\", got \"bicubic\"");
  CHECK(error_of({{"type", "hrnet"}, {"upsample", true}}).find("field \"upsample\": expected a string") !=
        std::string::npos);
  CHECK(error_of({{"type", "simplebaseline"}, {"depth", 42}}).find("field \"depth\"") != std::string::npos);
  CHECK(error_of({{"type", "resnext"}}).find("unknown model \"resnext\"") != std::string::npos);
  CHECK(error_of({{"width", 32}}).find("field \"type\"") != std::string::npos);

  auto hrnet = pose::build_model({{"type", "hrnet"}, {"width", 4}, {"stem_channels", 8}, {"stage1_channels", 8}},
                                 "tiny");
  autograd::NoGradGuard no_grad;
  const Tensor bad = Tensor::zeros({1, 3, 64, 48});
  CHECK_THROWS_WITH_AS((*hrnet)(bad), doctest::Contains("divisible by 32"), Error);
}

// The papers' tables (HRNet TPAMI Table 1; SimpleBaseline in HRNet's Table 1 and ViPNAS' Table 2)
// to their printed precision: params in millions to 0.1 (0.05 for 34.0), GFLOPs within 0.05.
TEST_CASE("parameter and FLOPs counts match the papers") {
  struct Row {
    const char* config;
    double mparams, gflops;
  };
  const Row rows[] = {
      {"hrnet_w32_coco_256x192.json", 28.5, 7.10},     {"hrnet_w32_coco_384x288.json", 28.5, 16.0},
      {"hrnet_w48_coco_256x192.json", 63.6, 14.6},     {"hrnet_w48_coco_384x288.json", 63.6, 32.9},
      {"simplebaseline_res50_coco_256x192.json", 34.0, 8.95},
  };
  for (const Row& r : rows) {
    CAPTURE(r.config);
    auto model = pose::build_model_from_file(config_path(r.config));
    const auto hw = model->input_size();
    const nn::FlopsReport rep = nn::count_flops(*model, {1, 3, hw[0], hw[1]});
    CHECK(std::fabs(rep.params() / 1e6 - r.mparams) < 0.05);
    // SimpleBaseline is printed as 8.90 (HRNet) and 8.99 (ViPNAS): the count must lie in between.
    CHECK(std::fabs(rep.gflops() - r.gflops) <= 0.05);
    CHECK(rep.at("backbone").params + rep.at("head").params == rep.params());
    CHECK(rep.at("backbone").macs + rep.at("head").macs == rep.macs());
  }
  // The exact counts of the reference implementation (spec §3.1 [DERIVED]).
  auto w32 = pose::build_model_from_file(config_path("hrnet_w32_coco_256x192.json"));
  CHECK(w32->num_parameters() == 28536113);
  auto sbl = pose::build_model_from_file(config_path("simplebaseline_res50_coco_256x192.json"));
  CHECK(sbl->num_parameters() == 33999697);
}

TEST_CASE("state_dict names and shapes equal MMPose's for every HRNet and SimpleBaseline config") {
  SafetensorsFile f;
  if (!test::load_reference("model_names", f)) return;
  size_t configs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(WBPOSE_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".json") continue;
    const json j = pose::read_json_file(entry.path().string());
    configs += j.contains("type") && (j["type"] == "hrnet" || j["type"] == "simplebaseline") ? 1 : 0;
  }
  CHECK(f.metadata.size() == configs);
  for (const auto& [file, names_json] : f.metadata) {
    CAPTURE(file);
    auto model = pose::build_model_from_file(config_path(file));
    const json expected = json::parse(names_json);
    std::set<std::string> ours;
    for (const auto& [name, t] : model->state_dict()) {
      CAPTURE(name);
      ours.insert(name);
      REQUIRE(expected.contains(name));
      CHECK(json(t.shape()) == expected[name]);
    }
    for (const auto& [name, shape] : expected.items()) {
      CAPTURE(name);
      CHECK(ours.count(name) == 1);
    }
  }
  // MMPose 1.x names known independently of the reference script.
  auto w32 = pose::build_model_from_file(config_path("hrnet_w32_coco_256x192.json"));
  std::set<std::string> names;
  for (const auto& [name, t] : w32->state_dict()) names.insert(name);
  for (const char* name : {"backbone.conv1.weight", "backbone.layer1.0.downsample.0.weight",
                           "backbone.transition1.0.0.weight", "backbone.transition3.3.0.1.running_var",
                           "backbone.stage2.0.fuse_layers.0.1.0.weight", "backbone.stage4.2.fuse_layers.0.3.1.bias",
                           "backbone.stage3.3.fuse_layers.2.0.1.0.weight", "head.final_layer.bias"}) {
    CAPTURE(name);
    CHECK(names.count(name) == 1);
  }
}

TEST_CASE("HRNet matches MMPose: heatmaps, KeypointMSELoss, every parameter gradient, running statistics") {
  check_parity("hrnet_small", DType::F64);
  check_parity("hrnet_v2_small", DType::F64);
  check_parity("hrnet_small", DType::F32);
  check_parity("hrnet_v2_small", DType::F32);
}

TEST_CASE("SimpleBaseline matches MMPose: heatmaps, KeypointMSELoss, every parameter gradient, running statistics") {
  check_parity("simplebaseline_small", DType::F64);
  check_parity("simplebaseline_r18_small", DType::F64);
  check_parity("simplebaseline_small", DType::F32);
  check_parity("simplebaseline_r18_small", DType::F32);
}

TEST_CASE("strict loading names what is missing, unexpected or mis-shaped") {
  auto model = pose::build_model({{"type", "hrnet"}, {"width", 4}, {"stem_channels", 8}, {"stage1_channels", 8}},
                                 "tiny");
  TensorMap state = nn::to_tensor_map(model->state_dict());
  state.erase("backbone.stage2.0.fuse_layers.0.1.1.running_mean");
  state["keypoint_head.final_layer.weight"] = Tensor::zeros({17, 4, 1, 1});
  state["head.final_layer.bias"] = Tensor::zeros({16});
  try {
    model->load_state_dict(state, true);
    FAIL("a strict load of a bad state_dict did not raise");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("backbone.stage2.0.fuse_layers.0.1.1.running_mean") != std::string::npos);
    CHECK(msg.find("keypoint_head.final_layer.weight") != std::string::npos);
    CHECK(msg.find("head.final_layer.bias") != std::string::npos);
  }
}
