// wbpose-info: what a model config builds (parameters and GFLOPs, in total and per module), and
// running a model with given weights on a tensor, for comparison with outside implementations;
// with --cpu, which CPU kernel paths this machine runs (kernels/cpu/isa.h).
#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "autograd/node.h"
#include "kernels/cpu/isa.h"
#include "tasks/cli.h"
#include "tasks/family.h"
#include "tasks/model_spec.h"
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

int forward(nn::Module& model, const std::string& weights, const std::string& in_path,
            const std::string& out_path, const std::string& device_name) {
  tasks::load_model_weights(weights, model);  // a one-line error naming the first difference
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

// The CPU, the kernel paths it supports and the one in use (WBPOSE_CPU_ISA may force another).
int describe_cpu() {
  using namespace kernels::cpu;
  std::string supported, lacking;
  for (CpuIsa isa : {CpuIsa::generic, CpuIsa::avx2, CpuIsa::avx512}) {
    std::string& list = cpu_isa_supported(isa) ? supported : lacking;
    list += (list.empty() ? "" : ", ") + std::string(cpu_isa_name(isa));
  }
  std::printf("cpu: %s\nkernel paths: %s supported%s%s; in use: %s\n", cpu_model_name().c_str(),
              supported.c_str(), lacking.empty() ? "" : ", not ", lacking.c_str(), cpu_isa_name(cpu_isa()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"wbpose-info: parameters and GFLOPs of a model config, or its heatmaps on a tensor"};
  std::string config, input, weights, forward_in, out, device = "cpu";
  int depth = 1;
  bool cpu = false;
  app.add_option("--config", config, "model or training config (configs/*.json)");
  app.add_flag("--cpu", cpu, "print the CPU, its kernel paths (generic, avx2, avx512) and the one in use, then exit");
  app.add_option("--input", input, "input size HxW for the count (default: the config's input_size)");
  app.add_option("--depth", depth, "module depth of the table (1: backbone and head; ZoomNet: its three modules)")
      ->check(CLI::Range(0, 64));
  auto* w = app.add_option("--weights", weights,
                           "weights or a training checkpoint (safetensors), loaded strictly (needs --forward)");
  auto* f = app.add_option("--forward", forward_in, "safetensors file with the tensor \"input\" [N, 3, H, W]");
  auto* o = app.add_option("--out", out, "where to write the heatmaps as the tensor \"output\"");
  app.add_option("--device", device, "cpu, cuda or cuda:N (with --forward)");
  f->needs(w)->needs(o);
  w->needs(f);
  o->needs(f);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "wbpose-info: " << tasks::one_line(e.what()) << "\n";
    return 2;
  }
  try {
    if (cpu) return describe_cpu();
    check(!config.empty(), "--config is required (or --cpu)");
    std::string where;
    const nlohmann::json j = tasks::read_model_config(config, &where);
    const tasks::FamilyModel m = tasks::build_family_model(j, where);
    if (!forward_in.empty()) return forward(*m.model, weights, forward_in, out, device);
    check(input.empty() || m.family->counts_at_any_size(), config, ": --input is not supported for ",
          m.family->name(), " configs (it counts at its own input size)");
    std::printf("%s", m.family->describe(*m.model, config, input.empty() ? m.facts.input_size : parse_hw(input), depth)
                          .c_str());
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wbpose-info: " << e.what() << "\n";
    return 1;
  }
}
