// Runs a set of benchmark cases, times the PyTorch reference on the same shapes in the same run
// (bench/torch_bench.py), prints the table with ratios and writes it as Markdown. The Markdown file
// is rewritten after each case, so a run cut short still leaves the rows it finished (PyTorch's
// columns come last, in one pass, and say "pending" until then).
#pragma once
#include <string>
#include <vector>

#include "bench/timer.h"

namespace wb::bench {

struct RunOptions {
  std::string mode;        // "ops" (CPU) or "kernels" (CUDA)
  std::string python = "python3";
  std::string script;      // path of torch_bench.py
  std::string out_md;      // Markdown table written here when set
  std::vector<std::string> groups;   // only the groups whose name contains one of these (all if none)
  std::vector<std::string> filters;  // only cases whose group or name contains one of these (all if none)
  bool torch = true;       // time PyTorch too
  TimingOptions timing;
};

int run_benchmark(const RunOptions& opt);

}  // namespace wb::bench
