// wbpose-search: ZoomNAS (spec/zoomnas.md §2, docs/nas.md).
//   train-supernet: the supernet of a search space around a base ZoomNet, trained by the sandwich
//                   rule into a run folder (tasks/supernet_train.h; the folder as wbpose-train's).
//                   Ctrl-C finishes the current iteration, saves a checkpoint and exits 0; --resume
//                   continues it exactly.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "tasks/cli.h"
#include "tasks/supernet_train.h"

namespace {

int train_supernet(const std::string& config_path, const std::string& data_dir, std::string out_dir,
                   const std::string& device, bool resume, int64_t seed, int64_t epochs) {
  using namespace wb;
  tasks::SupernetConfig config = tasks::read_supernet_config(config_path);
  if (!data_dir.empty()) config.train.data.root = data_dir;
  if (seed >= 0) config.train.seed = static_cast<uint64_t>(seed);
  if (epochs > 0) config.train.optim.epochs = epochs;
  if (out_dir.empty()) out_dir = "runs/" + std::filesystem::path(config_path).stem().string();

  tasks::TrainOptions options;
  options.out_dir = out_dir;
  options.device = tasks::device_from_flag(device);
  options.resume = resume;
  options.stop = tasks::stop_on_sigint();
  const tasks::TrainResult r = tasks::train_supernet(config, options);
  if (r.stopped) {
    std::printf("stopped at epoch %lld, iteration %lld: checkpoint saved in %s (continue with --resume)\n",
                static_cast<long long>(r.epochs_completed + 1), static_cast<long long>(r.iterations), out_dir.c_str());
  } else {
    std::printf("done: %lld epochs, %lld iterations, last loss %.6f, %.1f images/s",
                static_cast<long long>(r.epochs_completed), static_cast<long long>(r.iterations), r.last_loss,
                r.images_per_s);
    if (r.best_ap >= 0) std::printf(", best AP of the largest %.4f", r.best_ap);
    std::printf("; supernet weights in %s/latest.safetensors\n", out_dir.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace wb;
  CLI::App app{"wbpose-search: ZoomNAS supernet training and architecture search"};
  app.require_subcommand(1);

  CLI::App* train = app.add_subcommand("train-supernet", "train the supernet of a search space by the sandwich rule");
  std::string config_path, data_dir, out_dir, device = "cpu";
  bool resume = false;
  int64_t seed = -1, epochs = 0;
  train->add_option("--config", config_path, "supernet training config (configs/zoomnas_supernet_*.json)")->required();
  train->add_option("--data", data_dir, "dataset folder (overrides the config's data.root)");
  train->add_option("--out", out_dir, "run folder (default: runs/<config name>)");
  train->add_option("--device", device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  train->add_flag("--resume", resume, "continue the run in --out from its checkpoint");
  train->add_option("--seed", seed, "random seed (overrides the config's seed)")->check(CLI::NonNegativeNumber);
  train->add_option("--epochs", epochs, "number of epochs (overrides the config's train.epochs)")
      ->check(CLI::PositiveNumber);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "wbpose-search: " << tasks::one_line(e.what()) << "\n";
    return 2;
  }
  try {
    if (train->parsed()) return train_supernet(config_path, data_dir, out_dir, device, resume, seed, epochs);
  } catch (const std::exception& e) {
    std::cerr << "wbpose-search: " << tasks::one_line(e.what()) << "\n";
    return 1;
  }
  return 0;
}
