// wbpose-bench model: a whole model from its config, ours next to the PyTorch reference model in the
// same run (bench/torch_model_bench.py: MMPose's own MSPN and ViPNAS; HRNet and SimpleBaseline from
// bench/torch_ref_models.py, same architecture and parameter names, which needs no MMPose).
#pragma once
#include <string>

#include "bench/timer.h"

namespace wb::bench {

struct ModelBenchOptions {
  std::string config;             // configs/*.json
  std::string device = "cpu";     // cpu or cuda
  std::string python = "python3";
  std::string script;             // bench/torch_model_bench.py
  std::string out_md;
  bool torch = true;
  int64_t large_batch = 32;
  TimingOptions timing{2, 3, 60.0};
  // When set: the training step at the large batch profiled op by op into this folder, with the
  // profiler's own cost (bench/profile_bench.h); printed after the table.
  std::string profile_dir;
};

int run_model_benchmark(const ModelBenchOptions& opt);

}  // namespace wb::bench
