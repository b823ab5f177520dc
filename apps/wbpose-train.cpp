// wbpose-train: top-down heatmap training from a training config (tasks/train_config.h) into a run
// folder (tasks/trainer.h lists what it holds). Ctrl-C (SIGINT) finishes the current iteration,
// saves a checkpoint and exits 0; --resume continues it exactly. --profile N records N steps op by op
// after a warm-up, writes <out>/profile/ (table, trace.json, roofline.png) and stops the same way.
// Under `mpirun -np N` it trains data-parallel (tasks/trainer.h: TrainOptions::comm): each rank its
// share of every global batch, rank 0 writing the run folder; an error on any rank ends them all.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <limits>

#include "tasks/cli.h"
#include "tasks/train_config.h"
#include "tasks/trainer.h"
#include "tasks/validation.h"
#include "tensor/communicator.h"
#include "tensor/cuda_runtime.h"

int main(int argc, char** argv) {
  using namespace wb;
  CLI::App app{"wbpose-train: train a top-down heatmap model from a training config (configs/train_*.json)"};
  std::string config_path, data_dir, out_dir, device_name = "cpu";
  bool resume = false;
  int64_t seed = -1, epochs = 0, eval_interval = -1, profile_steps = 0, profile_warmup = 2;
  app.add_option("--config", config_path, "training config (configs/train_*.json)")->required();
  app.add_option("--data", data_dir, "dataset folder (overrides the config's data.root)");
  app.add_option("--out", out_dir, "run folder (default: runs/<config name>)");
  app.add_option("--device", device_name, "cpu, cuda, cuda:N or auto")->capture_default_str();
  app.add_flag("--resume", resume, "continue the run in --out from its checkpoint");
  app.add_option("--seed", seed, "random seed (overrides the config's seed)")
      ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()));
  app.add_option("--epochs", epochs, "number of epochs (overrides the config's train.epochs)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--eval-interval", eval_interval,
                 "validate after every N-th epoch and after the last; 0: only after the last (overrides the "
                 "config's eval.interval)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--profile", profile_steps,
                 "profile N training steps op by op, then stop: <out>/profile/ holds profile.txt, profile.json, "
                 "trace.json (Perfetto, chrome://tracing) and roofline.png")
      ->check(CLI::Range(1, 100000));
  app.add_option("--profile-warmup", profile_warmup, "steps run before the profiled ones")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "wbpose-train: " << tasks::one_line(e.what()) << "\n";
    return 2;
  }

  try {
    tasks::TrainConfig config = tasks::read_train_config(config_path);
    if (!data_dir.empty()) config.data.root = data_dir;
    if (seed >= 0) config.seed = static_cast<uint64_t>(seed);
    if (epochs > 0) config.optim.epochs = epochs;
    if (eval_interval >= 0) config.eval.interval = eval_interval;
    if (out_dir.empty()) out_dir = "runs/" + std::filesystem::path(config_path).stem().string();

    tasks::TrainOptions options;
    options.out_dir = out_dir;
    options.device = tasks::device_from_flag(device_name);
    options.resume = resume;
    options.stop = tasks::stop_on_sigint();
    options.profile_steps = profile_steps;
    options.profile_warmup = profile_warmup;
    options.comm = &dist::world();
    // Several ranks on one machine take one GPU each, unless --device names one.
    if (options.device.is_cuda() && options.comm->size() > 1 && device_name.find(':') == std::string::npos) {
      options.device = Device::cuda(options.comm->local_rank() % cuda::device_count());
    }

    const tasks::EvalFn validate = tasks::make_validation(config, options.device, options.comm);
    const tasks::TrainResult r = tasks::train(config, options, validate);
    if (options.comm->rank() != 0) return 0;  // rank 0 reports
    if (r.stopped) {
      std::printf("stopped at epoch %lld, iteration %lld: checkpoint saved in %s (continue with --resume)\n",
                  static_cast<long long>(r.epochs_completed + 1), static_cast<long long>(r.iterations),
                  out_dir.c_str());
    } else {
      std::printf("done: %lld epochs, %lld iterations, last loss %.6f, %.1f images/s", 
                  static_cast<long long>(r.epochs_completed), static_cast<long long>(r.iterations), r.last_loss,
                  r.images_per_s);
      if (r.best_ap >= 0) std::printf(", best AP %.4f", r.best_ap);
      std::printf("; weights in %s/latest.safetensors\n", out_dir.c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wbpose-train: " << tasks::one_line(e.what()) << "\n";
    // The other ranks may be waiting for this one in a collective: end them too.
    return dist::abort_job(1);
  }
}
