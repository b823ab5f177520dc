#include "bench/model_bench.h"

#include <omp.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "bench/profile_bench.h"
#include "nn/checkpoint.h"
#include "tasks/model_spec.h"
#include "tensor/atomic_file.h"
#include "tensor/cuda_runtime.h"
#include "tensor/generator.h"

namespace wb::bench {

namespace {

struct Measure {
  std::string name;
  int64_t batch;
  bool train;  // forward + backward in training mode, else an eval forward without a graph
  double ours = -1, torch = -1;
};

std::string fmt(double v, int precision = 1) {
  if (v < 0) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(precision) << v;
  return os.str();
}

// A training batch of `n` crops for the family's loss: random images, all-zero targets of the
// codec's shape, every keypoint labelled at a seeded position inside the crop (ZoomNet renders its
// head targets from these).
data::Batch synthetic_batch(int64_t n, int64_t k, const pose::HeatmapCodec& codec, Device device) {
  Generator g(1);
  data::Batch b;
  b.images = Tensor::randn({n, 3, codec.input_h, codec.input_w}, g, DType::F32, device);
  b.heatmaps = codec.num_targets() > 1
                   ? Tensor::zeros({n, codec.num_targets(), k, codec.heatmap_h, codec.heatmap_w})
                   : Tensor::zeros({n, k, codec.heatmap_h, codec.heatmap_w});
  b.weights = Tensor::ones({n, k});
  const Tensor u = Tensor::rand({n, k, 2}, g);
  const float* uv = u.data<float>();
  b.meta.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      const float* p = uv + (i * k + j) * 2;
      b.meta[i].input_keypoints.push_back({codec.input_w * (0.2 + 0.6 * p[0]), codec.input_h * (0.2 + 0.6 * p[1])});
      b.meta[i].visible.push_back(1.0f);
    }
  }
  return b;
}

// The Markdown table of the passes timed so far; torch_note, when set, says why PyTorch's column is empty.
std::string render(const ModelBenchOptions& opt, const std::string& family, Device device,
                   const std::array<int64_t, 2>& hw, int64_t k, const std::vector<Measure>& rows,
                   const std::string& torch_note) {
  std::ostringstream md;
  const std::time_t now = std::time(nullptr);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
  md << "# wbpose-bench model\n\n- config: " << opt.config << " (" << family << ", " << hw[0] << "x" << hw[1] << ", " << k
     << " keypoints)\n- device: " << device_name(device)
     << (device.is_cpu() ? " (" + std::to_string(omp_get_max_threads()) + " OpenMP threads)" : "") << "\n- date: " << date
     << "\n- timing: median of up to " << opt.timing.iters << " runs after " << opt.timing.warmup
     << " warm-up(s); ratio = PyTorch time / our time (above 1: ours is faster), same run\n";
  if (!torch_note.empty()) md << "- PyTorch reference: " << torch_note << "\n";
  md << "\n| pass | batch | ours ms | torch ms | ratio |\n|---|---|---|---|---|\n";
  for (const Measure& m : rows) {
    md << "| " << m.name << " | " << m.batch << " | " << fmt(m.ours) << " | " << fmt(m.torch) << " | "
       << (m.torch > 0 ? fmt(m.torch / m.ours, 2) + "x" : "-") << " |\n";
  }
  return md.str();
}

}  // namespace

int run_model_benchmark(const ModelBenchOptions& opt) {
  const Device device = Device::parse(opt.device);
  if (device.is_cuda()) check(cuda::available(), "wbpose-bench model: no CUDA device is available on this machine");
  tasks::ModelSpec spec = tasks::read_model_spec(opt.config);
  nn::Module& model = *spec.model;
  Generator gen(0);
  spec.family->init_weights(model, gen);
  // The reference runs on these same weights (its parameter names are ours).
  const std::string weights = "/tmp/wbpose-model-bench-" + std::to_string(::getpid()) + ".safetensors";
  nn::save_weights(weights, model);
  model.to(device);
  const std::array<int64_t, 2> hw{spec.codec.input_h, spec.codec.input_w};
  const int64_t k = spec.keypoints->size();

  std::vector<Measure> rows = {{"forward (eval)", 1, false},
                               {"forward (eval)", opt.large_batch, false},
                               {"forward + backward (train)", opt.large_batch, true}};
  // Written after each of our passes, so that a run cut short keeps what it measured.
  std::string torch_note = opt.torch ? "pending (timed after all of our passes)" : "";
  auto write = [&] {
    const std::string md = render(opt, spec.family->name(), device, hw, k, rows, torch_note);
    if (!opt.out_md.empty()) write_file_atomic(opt.out_md, md);
    return md;
  };
  auto train_step = [&](const data::Batch& batch) {
    for (auto& [name, p] : model.named_parameters()) p.set_grad(Tensor());  // as zero_grad(set_to_none)
    autograd::backward(spec.family->loss(model, batch, batch.images).total);
  };
  for (Measure& m : rows) {
    std::cerr << "timing ours: " << m.name << " batch " << m.batch << "\n";
    const data::Batch batch = synthetic_batch(m.batch, k, spec.codec, device);
    if (m.train) {
      model.train();
      m.ours = time_ms([&] { train_step(batch); }, device, opt.timing);
    } else {
      model.eval();
      autograd::NoGradGuard no_grad;
      m.ours = time_ms([&] { model(batch.images); }, device, opt.timing);
    }
    std::cerr << "  ours: " << fmt(m.ours) << " ms\n";
    write();
  }

  if (opt.torch) {
    std::string torch_error;
    const std::string out = "/tmp/wbpose-model-bench-" + std::to_string(::getpid()) + ".json";
    std::ostringstream cmd;
    cmd << opt.python << " " << opt.script << " --config " << opt.config << " --weights " << weights
        << " --device " << opt.device
        << " --large-batch " << opt.large_batch << " --iters " << opt.timing.iters << " --warmup " << opt.timing.warmup
        << " --threads " << omp_get_max_threads() << " --out " << out << " 2>&1";
    std::cerr << "running the PyTorch reference: " << cmd.str() << "\n";
    std::string log;
    if (std::FILE* p = ::popen(cmd.str().c_str(), "r")) {
      char buf[512];
      while (std::fgets(buf, sizeof buf, p)) log += buf;
      const int rc = ::pclose(p);
      if (rc == 0) {
        const nlohmann::json t = nlohmann::json::parse(read_file(out));
        for (Measure& m : rows) m.torch = t.value((m.train ? "train_b" : "eval_b") + std::to_string(m.batch), -1.0);
        std::remove(out.c_str());
      } else {
        torch_error = "PyTorch reference failed (exit " + std::to_string(rc) + "): " +
                      log.substr(log.size() > 600 ? log.size() - 600 : 0);
      }
    } else {
      torch_error = "could not start " + opt.python;
    }
    torch_note = torch_error.empty() ? "" : "NOT TIMED: " + torch_error;
  } else {
    torch_note = "NOT TIMED: PyTorch timing switched off (--no-torch)";
  }
  std::remove(weights.c_str());

  std::cout << write();
  if (!opt.profile_dir.empty()) {
    std::cerr << "profiling ours: forward + backward (train) batch " << opt.large_batch << "\n";
    const data::Batch batch = synthetic_batch(opt.large_batch, k, spec.codec, device);
    model.train();
    std::cout << "\nprofile of the training step at batch " << opt.large_batch << " -> " << opt.profile_dir << "/\n"
              << profile_step([&] { train_step(batch); }, device, opt.timing, opt.profile_dir);
  }
  return 0;
}

}  // namespace wb::bench
