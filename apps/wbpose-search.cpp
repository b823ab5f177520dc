// wbpose-search: ZoomNAS (spec/zoomnas.md §2, docs/nas.md).
//   train-supernet: the supernet of a search space around a base ZoomNet, trained by the sandwich
//                   rule into a run folder (tasks/supernet_train.h; the folder as wbpose-train's).
//                   Ctrl-C finishes the current iteration, saves a checkpoint and exits 0; --resume
//                   continues it exactly. Under mpirun it trains data-parallel, as wbpose-train.
//   search:         sub-networks of a trained supernet proposed by a controller (random: the
//                   paper's; evolution: ours) under an overall FLOPs budget (--min-budget: and above
//                   a floor), each exported, BN-recalibrated and validated (tasks/subnet_eval.h),
//                   into a results folder
//                   (tasks/search_run.h: state.json, results.md/.csv, best_config.json,
//                   pareto.png); --resume continues a search from its state.json.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <limits>

#include "nas/elastic_zoomnet.h"
#include "nas/evolution.h"
#include "pose/models/factory.h"
#include "tasks/cli.h"
#include "tasks/model_spec.h"
#include "tasks/search_run.h"
#include "tasks/subnet_eval.h"
#include "tasks/supernet_train.h"
#include "tensor/communicator.h"
#include "tensor/error.h"

namespace {

struct TrainArgs {
  std::string config, data_dir, out_dir, device = "cpu";
  bool resume = false;
  int64_t seed = -1, epochs = 0;  // overrides when set
};

int train_supernet(TrainArgs& a) {
  using namespace wb;
  tasks::SupernetConfig config = tasks::read_supernet_config(a.config);
  if (!a.data_dir.empty()) config.train.data.root = a.data_dir;
  if (a.seed >= 0) config.train.seed = static_cast<uint64_t>(a.seed);
  if (a.epochs > 0) config.train.optim.epochs = a.epochs;
  if (a.out_dir.empty()) a.out_dir = "runs/" + std::filesystem::path(a.config).stem().string();
  const std::string& out_dir = a.out_dir;

  tasks::TrainOptions options;
  options.out_dir = out_dir;
  options.device = tasks::device_from_flag(a.device);
  options.resume = a.resume;
  options.stop = tasks::stop_on_sigint();
  // Under mpirun, data-parallel as wbpose-train (tasks/trainer.h); rank 0 writes and prints.
  options.comm = &dist::world();
  const tasks::TrainResult r = tasks::train_supernet(config, options);
  if (options.comm->rank() != 0) return 0;
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

struct SearchArgs {
  std::string supernet, weights, data_dir, device = "cpu", evolution;
  wb::tasks::SearchOptions options;
};

int search(SearchArgs& a) {
  using namespace wb;
  namespace fs = std::filesystem;
  check(dist::world().size() == 1, "search: the candidate evaluations do not run data-parallel yet; run `wbpose-search ",
        "search` in one process (train-supernet does run under mpirun)");
  const std::string config_path = (fs::path(a.supernet) / "config.json").string();
  check(fs::is_regular_file(config_path), config_path, ": no supernet run here (--supernet names the folder that ",
        "wbpose-search train-supernet wrote)");
  tasks::SupernetConfig config = tasks::read_supernet_config(config_path);
  if (!a.data_dir.empty()) config.train.data.root = a.data_dir;
  if (a.weights.empty()) a.weights = (fs::path(a.supernet) / "latest.safetensors").string();
  if (!a.evolution.empty()) {
    a.options.evolution = nas::evolution_options_from_json(pose::read_json_file(a.evolution), a.evolution);
  }
  const Device device = tasks::device_from_flag(a.device);

  // Everything that can be wrong with the inputs is checked before the first evaluation.
  nas::ElasticZoomNet super(config.space, config.base);
  tasks::load_model_weights(a.weights, super.module());
  super.module().to(device);
  tasks::SubnetEvaluator evaluate(
      tasks::subnet_eval_setup(config.train, device, config.recal_batches, config.recal_batch_size));
  a.options.stop = tasks::stop_on_sigint();
  const tasks::SearchResult r = tasks::run_search(
      a.options, config.space, config.base,
      [&](const pose::ZoomNetConfig& c) { return evaluate(super, c); });
  if (r.stopped) {
    std::printf("stopped: the evaluations so far are in %s/state.json (continue with --resume)\n",
                a.options.out_dir.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace wb;
  CLI::App app{"wbpose-search: ZoomNAS supernet training and architecture search"};
  app.require_subcommand(1);

  CLI::App* train = app.add_subcommand("train-supernet", "train the supernet of a search space by the sandwich rule");
  TrainArgs ta;
  train->add_option("--config", ta.config, "supernet training config (configs/zoomnas_supernet_*.json)")->required();
  train->add_option("--data", ta.data_dir, "dataset folder (overrides the config's data.root)");
  train->add_option("--out", ta.out_dir, "run folder (default: runs/<config name>)");
  train->add_option("--device", ta.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  train->add_flag("--resume", ta.resume, "continue the run in --out from its checkpoint");
  train->add_option("--seed", ta.seed, "random seed (overrides the config's seed)")
      ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()));
  train->add_option("--epochs", ta.epochs, "number of epochs (overrides the config's train.epochs)")
      ->check(CLI::Range(1, 1000000));

  CLI::App* srch = app.add_subcommand("search", "search a trained supernet under a FLOPs budget");
  SearchArgs sa;
  srch->add_option("--supernet", sa.supernet, "run folder of train-supernet (config.json, latest.safetensors)")
      ->required();
  srch->add_option("--weights", sa.weights, "supernet weights (default: SUPERNET/latest.safetensors)");
  srch->add_option("--budget", sa.options.budget_gflops, "overall ZoomNet GFLOPs (one person; as wbpose-info)")
      ->required()
      ->check(CLI::Range(1e-9, 1e6));
  srch->add_option("--min-budget", sa.options.min_gflops,
                   "a floor under --budget: only networks of at least these GFLOPs are sampled (default 0: the "
                   "paper's plain budget)")
      ->check(CLI::Range(0.0, 1e6));
  srch->add_option("--controller", sa.options.controller, "random (the paper's) or evolution")
      ->check(CLI::IsMember({"random", "evolution"}))
      ->capture_default_str();
  srch->add_option("--samples", sa.options.samples, "sub-networks to evaluate")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  srch->add_option("--seed", sa.options.seed, "controller seed")->capture_default_str();
  srch->add_option("--evolution", sa.evolution, "JSON file of the evolutionary controller's options (nas/evolution.h)");
  srch->add_option("--data", sa.data_dir, "dataset folder (overrides the supernet config's data.root)");
  srch->add_option("--device", sa.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  srch->add_option("--out", sa.options.out_dir, "results folder")->required();
  srch->add_flag("--resume", sa.options.resume, "continue the search in --out from its state.json");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "wbpose-search: " << tasks::one_line(e.what()) << "\n";
    return 2;
  }
  try {
    if (train->parsed()) return train_supernet(ta);
    if (srch->parsed()) return search(sa);
  } catch (const std::exception& e) {
    std::cerr << "wbpose-search: " << tasks::one_line(e.what()) << "\n";
    return dist::abort_job(1);  // the other ranks may wait for this one in a collective
  }
  return 0;
}
