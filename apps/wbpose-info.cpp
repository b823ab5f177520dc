// wbpose-info: what a model config builds (parameters and GFLOPs, in total and per module), and
// running a model with given weights on a tensor, for comparison with outside implementations.
#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "autograd/node.h"
#include "nn/flops.h"
#include "pose/models/factory.h"
#include "pose/models/zoomnet.h"
#include "tasks/train_config.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"

namespace {

using namespace wb;

// "256x192" -> {256, 192}.
std::array<int64_t, 2> parse_hw(const std::string& s) {
  long long h = 0, w = 0;
  char tail = 0;
  if (std::sscanf(s.c_str(), "%lldx%lld%c", &h, &w, &tail) != 2 || h <= 0 || w <= 0) {
    fail("--input: expected HxW with positive sizes (e.g. 256x192), got \"", s, "\"");
  }
  return {h, w};
}

int describe(pose::TopDownModel& model, const std::string& config, const std::string& input, int depth) {
  const std::array<int64_t, 2> hw = input.empty() ? model.input_size() : parse_hw(input);
  const nn::FlopsReport r = nn::count_flops(model, {1, 3, hw[0], hw[1]});
  std::printf("%s at %lldx%lld: %.2fM parameters, %.2f GFLOPs (multiply-adds / 1024^3)\n\n", config.c_str(),
              static_cast<long long>(hw[0]), static_cast<long long>(hw[1]), r.params() / 1e6, r.gflops());
  std::printf("%s", r.table(depth).c_str());
  return 0;
}

// ZoomNet: the paper's breakdown (spec/zoomnas.md Table 10), counted on one person crop, so the
// HandHead runs twice (left and right hand).
int describe_zoomnet(pose::ZoomNet& model, const std::string& config, int depth) {
  const auto hw = model.config().body.input_size;
  const nn::FlopsReport r = nn::count_flops(model, {1, 3, hw[0], hw[1]});
  const auto g = [](int64_t macs) { return static_cast<double>(macs) / (1024.0 * 1024.0 * 1024.0); };
  const nn::ModuleCost &body = r.at("body"), &face = r.at("face_head"), &hand = r.at("hand_head");
  std::printf("%s (ZoomNet) at %lldx%lld:\n", config.c_str(), static_cast<long long>(hw[0]),
              static_cast<long long>(hw[1]));
  std::printf("  %-12s %8.2fM parameters %7.2f GFLOPs\n", "BodyNet", body.params / 1e6, g(body.macs));
  std::printf("  %-12s %8.2fM parameters %7.2f GFLOPs\n", "FaceHead", face.params / 1e6, g(face.macs));
  std::printf("  %-12s %8.2fM parameters %7.2f GFLOPs per hand, x2 = %.2f\n", "HandHead", hand.params / 1e6,
              g(hand.macs) / 2, g(hand.macs));
  std::printf("  %-12s %8.2fM parameters %7.2f GFLOPs (multiply-adds / 1024^3)\n\n", "total", r.params() / 1e6,
              r.gflops());
  std::printf("%s", r.table(depth).c_str());
  return 0;
}

int forward(pose::TopDownModel& model, const std::string& weights, const std::string& in_path,
            const std::string& out_path, const std::string& device_name) {
  const SafetensorsFile w = load_safetensors(weights);
  model.load_state_dict(w.tensors, true);
  const Device device = Device::parse(device_name);
  model.to(device);
  model.eval();
  const SafetensorsFile in = load_safetensors(in_path);
  const Tensor x = expect_tensor(in, in_path, "input");
  check(x.dim() == 4 && x.size(1) == 3, in_path, ": tensor \"input\" must be [N, 3, H, W], got ", x.str());
  autograd::NoGradGuard no_grad;
  const Tensor y = model(x.to(device));
  save_safetensors(out_path, {{"output", y}});
  std::printf("%s: output %s -> %s\n", in_path.c_str(), y.str().c_str(), out_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"wbpose-info: parameters and GFLOPs of a model config, or its heatmaps on a tensor"};
  std::string config, input, weights, forward_in, out, device = "cpu";
  int depth = 1;
  app.add_option("--config", config, "model or training config (configs/*.json)")->required();
  app.add_option("--input", input, "input size HxW for the count (default: the config's input_size)");
  app.add_option("--depth", depth, "module depth of the table (1: backbone and head; ZoomNet: its three modules)")->check(CLI::NonNegativeNumber);
  auto* w = app.add_option("--weights", weights, "safetensors weights, loaded strictly (needs --forward)");
  auto* f = app.add_option("--forward", forward_in, "safetensors file with the tensor \"input\" [N, 3, H, W]");
  auto* o = app.add_option("--out", out, "where to write the heatmaps as the tensor \"output\"");
  app.add_option("--device", device, "cpu, cuda or cuda:N (with --forward)");
  f->needs(w)->needs(o);
  w->needs(f);
  o->needs(f);
  CLI11_PARSE(app, argc, argv);
  try {
    std::string where;
    const nlohmann::json j = tasks::read_model_config(config, &where);
    if (pose::model_type(j, where) == "zoomnet") {
      check(forward_in.empty() && input.empty(), config,
            ": --forward and --input are not supported for ZoomNet configs (it counts at its own input size)");
      auto zoom = pose::build_zoomnet(j, where);
      return describe_zoomnet(*zoom, config, depth);
    }
    auto model = pose::build_model(j, where);
    return forward_in.empty() ? describe(*model, config, input, depth)
                              : forward(*model, weights, forward_in, out, device);
  } catch (const std::exception& e) {
    std::cerr << "wbpose-info: " << e.what() << "\n";
    return 1;
  }
}
