// wbpose-bench: times our kernels next to PyTorch (and cuDNN) in the same run; see bench/.
#include <CLI/CLI.hpp>
#include <iostream>

#include "bench/data_bench.h"
#include "bench/model_bench.h"
#include "bench/run.h"
#include "datasets/loader.h"
#include "tasks/cli.h"
#include "tensor/error.h"

int main(int argc, char** argv) {
  CLI::App app{"wbpose-bench: our ops and kernels against PyTorch and cuDNN, same machine, same run"};
  wb::bench::RunOptions opt;
  app.add_option("mode", opt.mode,
                 "ops (CPU, HRNet-W32 shapes, batch 1 and 8), kernels (CUDA, batch 32), model (a whole model "
                 "from --config, next to the PyTorch reference model) or data (the top-down sample pipeline "
                 "on generated JPEGs)")
      ->required()
      ->check(CLI::IsMember({"ops", "kernels", "model", "data"}));
  app.add_option("--python", opt.python, "Python interpreter with torch (and torchvision)");
  app.add_option("--out", opt.out_md, "write the table as Markdown to this file");
  app.add_option("--group", opt.groups,
                 "only the case groups (networks) whose name contains this text; the others are not even "
                 "made (repeat it: groups matching any)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--filter", opt.filters,
                 "only cases whose network or op name contains this text (repeat it: cases matching any)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--iters", opt.timing.iters, "timed runs per measurement (the median is reported)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--warmup", opt.timing.warmup, "untimed runs first")->check(CLI::Range(0, 100000));
  wb::bench::DataBenchOptions data_opt;
  app.add_option("--samples", data_opt.samples, "data: samples per measurement")->check(CLI::Range(1, 1000000));
  app.add_option("--workers", data_opt.workers, "data: loader threads (default: one per hardware thread)")
      ->check(CLI::Range(0, wb::data::kMaxWorkers));
  app.add_option("--images", data_opt.images, "data: distinct generated images")->check(CLI::Range(1, 100000));
  wb::bench::ModelBenchOptions model_opt;
  app.add_option("--config", model_opt.config, "model: the model config (configs/*.json)");
  app.add_option("--device", model_opt.device, "model: cpu or cuda");
  app.add_option("--batch", model_opt.large_batch, "model: the large batch (forward and training step)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--profile", model_opt.profile_dir,
                 "model: also profile the training step op by op into this folder (profile.txt, trace.json, "
                 "roofline.png), with the profiler's own cost");
  std::string source_dir = WBPOSE_SOURCE_DIR;
  app.add_option("--source-dir", source_dir,
                 "the wbpose source tree holding bench/*.py (default: the one this binary was built from; a "
                 "binary copied to another machine needs its copy of the tree)");
  bool no_torch = false;
  app.add_flag("--no-torch", no_torch, "do not time PyTorch (the table says so)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "wbpose-bench: " << wb::tasks::one_line(e.what()) << "\n";
    return 2;
  }
  opt.torch = !no_torch;
  opt.script = source_dir + "/bench/torch_bench.py";
  model_opt.script = source_dir + "/bench/torch_model_bench.py";
  try {
    if (opt.mode == "model") {
      wb::check(!model_opt.config.empty(), "wbpose-bench model: --config is required");
      model_opt.python = opt.python;
      model_opt.out_md = opt.out_md;
      model_opt.torch = opt.torch;
      if (app.count("--iters")) model_opt.timing.iters = opt.timing.iters;
      if (app.count("--warmup")) model_opt.timing.warmup = opt.timing.warmup;
      return wb::bench::run_model_benchmark(model_opt);
    }
    if (opt.mode == "data") {
      data_opt.out_md = opt.out_md;
      return wb::bench::run_data_benchmark(data_opt);
    }
    return wb::bench::run_benchmark(opt);
  } catch (const std::exception& e) {
    std::cerr << "wbpose-bench: " << e.what() << "\n";
    return 1;
  }
}
