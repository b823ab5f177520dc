// Runs a set of benchmark cases, times the PyTorch reference on the same shapes in the same run
// (bench/torch_bench.py), prints the table with ratios and writes it as Markdown.
#pragma once
#include <string>

#include "bench/timer.h"

namespace wb::bench {

struct RunOptions {
  std::string mode;        // "ops" (CPU) or "kernels" (CUDA)
  std::string python = "python3";
  std::string script;      // path of torch_bench.py
  std::string out_md;      // Markdown table written here when set
  std::string filter;      // only cases whose group or name contains this
  bool torch = true;       // time PyTorch too
  TimingOptions timing;
};

int run_benchmark(const RunOptions& opt);

}  // namespace wb::bench
