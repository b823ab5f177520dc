// S-ViPNAS (pose/models/vipnas.h) against the real MMPose 1.3.2 (tests/reference/gen_vipnas.py):
// configs and their errors, state_dict names and shapes of every shipped config, heatmaps, loss
// and every gradient of reduced models, parameter and FLOPs counts of the full models, and
// MMPose's initialisation.
#include <cmath>
#include <filesystem>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "autograd/node.h"
#include "nn/flops.h"
#include "pose/models/factory.h"
#include "pose/models/vipnas.h"
#include "tensor/error.h"
#include "tests/model_parity.h"
#include "tests/util.h"

using namespace wb;
using nlohmann::json;

namespace {

std::string config_path(const std::string& name) { return std::string(WBPOSE_SOURCE_DIR) + "/configs/" + name; }

std::shared_ptr<pose::TopDownModel> build(const json& j, const std::string& where) {
  return pose::build_vipnas_model(j, where);
}

std::shared_ptr<pose::TopDownModel> build_file(const std::string& name) {
  return build(pose::read_json_file(config_path(name)), name);
}

std::string error_of(const json& j) {
  return test::error_of([&] { build(j, "cfg.json"); });
}

double stddev(const Tensor& t) {
  const std::vector<double> v = t.to_double_vector();
  double s = 0.0, s2 = 0.0;
  for (double x : v) {
    s += x;
    s2 += x * x;
  }
  const double n = static_cast<double>(v.size()), mean = s / n;
  return std::sqrt(s2 / n - mean * mean);
}

}  // namespace

TEST_CASE("ViPNAS configs: MMPose's defaults, every shipped config, JSON round trip") {
  CHECK(to_json(pose::ViPNASResNetConfig{}) == pose::read_json_file(config_path("vipnas_res50_coco_256x192.json")));
  CHECK(to_json(pose::ViPNASMobileNetV3Config{}) == pose::read_json_file(config_path("vipnas_mbv3_coco_256x192.json")));
  size_t shipped = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(WBPOSE_SOURCE_DIR) + "/configs")) {
    const std::string file = entry.path().filename().string();
    if (file.rfind("vipnas_", 0) != 0 || entry.path().extension() != ".json") continue;
    CAPTURE(file);
    ++shipped;
    const json j = pose::read_json_file(entry.path().string());
    const json back = j["type"] == "vipnas_resnet" ? to_json(pose::vipnas_resnet_config_from_json(j, file))
                                                   : to_json(pose::vipnas_mbv3_config_from_json(j, file));
    CHECK(back == j);
    auto model = build(j, file);
    CHECK(model->num_keypoints() == j["num_keypoints"].get<int64_t>());
  }
  CHECK(shipped == 6);

  // The small configs run at 128x96 with 133 keypoints: heatmaps at stride 4.
  autograd::NoGradGuard no_grad;
  for (const char* file : {"vipnas_res50_small.json", "vipnas_mbv3_small.json"}) {
    CAPTURE(file);
    auto model = build_file(file);
    Generator gen(7);
    model->init_weights(gen);
    model->eval();
    const Tensor y = (*model)(Tensor::zeros({2, 3, 128, 96}));
    CHECK(y.shape() == Shape{2, 133, 32, 24});
  }
}

TEST_CASE("ViPNAS configs: errors name the field") {
  const json res = {{"type", "vipnas_resnet"}}, mbv3 = {{"type", "vipnas_mbv3"}};
  auto with = [](json j, const std::string& key, const json& value) {
    j[key] = value;
    return j;
  };
  CHECK(error_of(with(res, "wdi", 3)) == "cfg.json: unknown field \"wdi\"");
  CHECK(error_of(with(mbv3, "kernel", 3)) == "cfg.json: unknown field \"kernel\"");
  CHECK(error_of(with(res, "wid", "wide")).find("field \"wid\": expected an array of integers") != std::string::npos);
  CHECK(error_of(with(res, "wid", {48, 80})).find("field \"wid\" must have 5 entries, got 2") != std::string::npos);
  CHECK(error_of(with(res, "depth", 18)).find("field \"depth\" must be 50") != std::string::npos);
  CHECK(error_of(with(res, "att", {1, 0, 1, 1})).find("field \"att\": expected an array of true/false") !=
        std::string::npos);
  CHECK(error_of(with(res, "group", {16, 16, 7, 16})).find("field \"group\" entry 2 (7) must divide") !=
        std::string::npos);
  CHECK(error_of(with(res, "ks", {7, 3, 4, 5, 5})).find("field \"ks\" entry 2 must be an odd kernel size") !=
        std::string::npos);
  CHECK(error_of(with(res, "dep", {4, 0, 7, 3})).find("field \"dep\" entry 1 must be positive") != std::string::npos);
  CHECK(error_of(with(res, "deconv_groups", {16, 16})).find("field \"deconv_groups\" must have 3 entries") !=
        std::string::npos);
  CHECK(error_of(with(res, "deconv_groups", {16, 7, 16})).find("field \"deconv_groups\" entry 1 (7) must divide") !=
        std::string::npos);
  CHECK(error_of(with(res, "deconv_kernels", {4, 5, 4})).find("field \"deconv_kernels\" entry 1: 5") !=
        std::string::npos);
  CHECK(error_of(with(mbv3, "act", {"HSwish", "ReLU", "ReLU", "ReLU", "HSwish", "HSwish", "Swish"}))
            .find("field \"act\": unknown activation \"Swish\"") != std::string::npos);
  CHECK(error_of(with(mbv3, "act", {1, 2})).find("field \"act\": expected an array of strings") != std::string::npos);
  CHECK(error_of(with(mbv3, "stride", {2, 1, 2, 3, 2, 1, 2})).find("field \"stride\" entry 3 must be 1 or 2") !=
        std::string::npos);
  CHECK(error_of(with(with(mbv3, "expan", {1, 1, 4, 5, 5, 6}), "group", {8, 24, 20, 100, 280, 240}))
            .find("field \"expan\" entry 1 is 1") != std::string::npos);
  CHECK(error_of(with(mbv3, "group", {8, 120, 20, 100, 280, 7})).find("field \"group\" entry 5 (7) must divide") !=
        std::string::npos);
  CHECK(error_of({{"type", "mobilenet"}}).find("field \"type\": \"mobilenet\" is not a ViPNAS model") !=
        std::string::npos);
  CHECK(error_of({{"wid", 3}}).find("field \"type\"") != std::string::npos);
  CHECK_THROWS_WITH_AS(pose::vipnas_mbv3_config_from_json(res, "cfg.json"),
                       doctest::Contains("field \"type\": expected \"vipnas_mbv3\""), Error);
}

TEST_CASE("ViPNAS state_dict names and shapes equal MMPose's for every config (strict load)") {
  SafetensorsFile f;
  if (!test::load_reference("vipnas_model_names", f)) return;
  size_t configs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(WBPOSE_SOURCE_DIR) + "/configs")) {
    const std::string file = entry.path().filename().string();
    if (file.rfind("vipnas_", 0) == 0 && entry.path().extension() == ".json") ++configs;
  }
  CHECK(f.metadata.size() == configs);
  for (const auto& [file, names_json] : f.metadata) {
    CAPTURE(file);
    auto model = build_file(file);
    const json expected = json::parse(names_json);
    std::set<std::string> ours;
    TensorMap state;
    for (const auto& [name, t] : model->state_dict()) {
      CAPTURE(name);
      ours.insert(name);
      REQUIRE(expected.contains(name));
      CHECK(json(t.shape()) == expected[name]);
    }
    for (const auto& [name, shape] : expected.items()) {
      CAPTURE(name);
      CHECK(ours.count(name) == 1);
      state.emplace(name, Tensor::zeros(shape.get<Shape>(), name.ends_with("num_batches_tracked") ? DType::I64 : DType::F32));
    }
    CHECK_NOTHROW(model->load_state_dict(state, true));
  }
  // MMPose's names known independently of the reference script.
  std::set<std::string> names;
  for (const char* file : {"vipnas_res50_coco_256x192.json", "vipnas_mbv3_coco_256x192.json"}) {
    for (const auto& [name, t] : build_file(file)->state_dict()) names.insert(name);
  }
  for (const char* name :
       {"backbone.conv1.weight", "backbone.bn1.running_var", "backbone.layer1.0.downsample.1.weight",
        "backbone.layer4.2.attention.channel_add_conv.1.weight", "backbone.layer3.6.attention.conv_mask.bias",
        "backbone.conv1.conv.weight", "backbone.conv1.bn.bias", "backbone.layer1.se.conv2.conv.bias",
        "backbone.layer2.expand_conv.bn.weight", "backbone.layer21.linear_conv.conv.weight",
        "head.deconv_layers.7.running_mean", "head.final_layer.bias"}) {
    CAPTURE(name);
    CHECK(names.count(name) == 1);
  }
}

TEST_CASE("ViPNAS matches MMPose: heatmaps, KeypointMSELoss, every parameter gradient, running statistics") {
  for (const char* name : {"vipnas_res50_ref", "vipnas_mbv3_ref"}) {
    test::check_parity(name, DType::F64, build);
    test::check_parity(name, DType::F32, build);
  }
}

// Spec §2.5: 7.29M params / 1.43 GFLOPs (Res50) and 5.90M / 0.69 (MobileNetV3) at 17 keypoints
// and 256x192. The exact counts are MMPose's model's: sum(p.numel() for p in model.parameters())
// and, from forward hooks on its Conv2d and ConvTranspose2d layers, weight numel x output pixels.
TEST_CASE("ViPNAS parameter and FLOPs counts") {
  struct Row {
    const char* config;
    int64_t params, macs;
    double mparams, gflops;
  };
  // COCO-WholeBody: 116 more final-layer outputs, (C + 1) x 116 more params and C x 116 more
  // multiply-adds per heatmap pixel (64 x 48), C = 144 (Res50) or 160 (MobileNetV3).
  const Row rows[] = {
      {"vipnas_res50_coco_256x192.json", 7286772, 1535257440, 7.29, 1.43},
      {"vipnas_mbv3_coco_256x192.json", 5895725, 741893376, 5.90, 0.69},
      {"vipnas_res50_wholebody_256x192.json", 7286772 + 145 * 116, 1535257440 + 144 * 116 * 64 * 48, 7.30, 1.48},
      {"vipnas_mbv3_wholebody_256x192.json", 5895725 + 161 * 116, 741893376 + 160 * 116 * 64 * 48, 5.91, 0.74},
  };
  for (const Row& r : rows) {
    const std::string file = r.config;
    CAPTURE(file);
    auto model = build_file(file);
    const auto hw = model->input_size();
    const nn::FlopsReport rep = nn::count_flops(*model, {1, 3, hw[0], hw[1]});
    INFO(rep.params() << " params, " << rep.macs() << " multiply-adds, " << rep.gflops() << " GFLOPs");
    CHECK(rep.params() == r.params);
    CHECK(rep.macs() == r.macs);
    CHECK(std::fabs(rep.params() / 1e6 - r.mparams) < 0.005);
    CHECK(std::fabs(rep.gflops() - r.gflops) < 0.005);
    CHECK(rep.at("backbone").params + rep.at("head").params == rep.params());
  }
}

// MMPose's runner initialisation (BackboneInit::ViPNAS): every backbone conv N(0, 0.001^2) with
// zero bias, the GC blocks' last convs included; LayerNorm and BN 1 and 0; the MobileNetV3's stem
// ConvModule re-initialised by mmcv (kaiming normal, fan_out: std sqrt(2 / (16 x 3 x 3))).
TEST_CASE("ViPNAS init_weights follows MMPose") {
  Generator gen(3);
  auto res = build_file("vipnas_res50_coco_256x192.json");
  res->init_weights(gen);
  TensorMap s = nn::to_tensor_map(res->state_dict());
  CHECK(std::fabs(stddev(s.at("backbone.layer3.0.conv1.weight")) / 0.001 - 1.0) < 0.05);
  CHECK(std::fabs(stddev(s.at("backbone.layer3.0.attention.channel_add_conv.3.weight")) / 0.001 - 1.0) < 0.05);
  CHECK(stddev(s.at("backbone.layer3.0.attention.channel_add_conv.3.bias")) == 0.0);
  CHECK(std::fabs(stddev(s.at("backbone.conv1.weight")) / 0.001 - 1.0) < 0.1);
  CHECK(s.at("backbone.layer3.0.attention.channel_add_conv.1.weight").to_double_vector().front() == 1.0);
  CHECK(std::fabs(stddev(s.at("head.deconv_layers.0.weight")) / 0.001 - 1.0) < 0.05);
  CHECK(s.at("backbone.layer1.0.bn3.weight").to_double_vector().back() == 1.0);

  auto mbv3 = build_file("vipnas_mbv3_coco_256x192.json");
  mbv3->init_weights(gen);
  s = nn::to_tensor_map(mbv3->state_dict());
  CHECK(std::fabs(stddev(s.at("backbone.conv1.conv.weight")) / std::sqrt(2.0 / 144.0) - 1.0) < 0.15);
  CHECK(std::fabs(stddev(s.at("backbone.layer5.expand_conv.conv.weight")) / 0.001 - 1.0) < 0.05);
  CHECK(std::fabs(stddev(s.at("backbone.layer21.se.conv1.conv.weight")) / 0.001 - 1.0) < 0.05);
  CHECK(stddev(s.at("backbone.layer21.se.conv1.conv.bias")) == 0.0);
}
