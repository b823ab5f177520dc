#include "tasks/trainer.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "autograd/node.h"
#include "nn/checkpoint.h"
#include "nn/data_parallel.h"
#include "nn/optimizer.h"
#include "tasks/metrics_log.h"
#include "tasks/model_spec.h"
#include "tasks/plot.h"
#include "tasks/profile_report.h"
#include "tasks/progress.h"
#include "tasks/run_folder.h"
#include "tensor/atomic_file.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"
#include "tensor/profile.h"

namespace wb::tasks {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::unique_ptr<nn::Optimizer> make_optimizer(const OptimConfig& o, std::vector<Tensor> params) {
  nn::AdamOptions a;
  a.lr = o.lr;
  a.weight_decay = o.weight_decay;
  if (o.optimizer == "adamw") return std::make_unique<nn::AdamW>(std::move(params), a);
  return std::make_unique<nn::Adam>(std::move(params), a);
}

// Test hook (tests/mpi_train_test.sh): with WBPOSE_TEST_KILL_RANK="R:I", rank R dies by SIGKILL once
// it has trained global iteration I, as a rank whose machine fails would.
void test_kill_hook(int rank, int64_t iteration) {
  static const char* spec = std::getenv("WBPOSE_TEST_KILL_RANK");
  long long r = -1, i = -1;
  if (spec && std::sscanf(spec, "%lld:%lld", &r, &i) == 2 && r == rank && i == iteration) std::raise(SIGKILL);
}

bool validation_due(const EvalConfig& e, int64_t epochs_done, int64_t epochs) {
  return epochs_done == epochs || (e.interval > 0 && epochs_done % e.interval == 0);
}

class Run {
 public:
  Run(const TrainConfig& c, TrainingTask& task, const TrainOptions& o) : cfg_(c), task_(task), opt_(o), dir_(o.out_dir) {}

  TrainResult go();

 private:
  void prepare();
  void train_epoch(int64_t epoch);
  void end_epoch(int64_t epoch);
  void add_to_window(const StepLoss& s);
  void log_window(int64_t epoch, int64_t iter_in_epoch);
  void save(int64_t epoch_to_run);
  void plot();
  void write_profile_report();  // ends recording_, writes out_dir/profile/
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  bool root() const { return comm_->rank() == 0; }  // writes the run folder and prints
  bool verbose() const { return opt_.verbose && root(); }
  // The step's loss and parts averaged over the ranks (each rank's is the mean over its share).
  void average_over_ranks(StepLoss& s);

  const TrainConfig& cfg_;
  TrainingTask& task_;
  const TrainOptions& opt_;
  fs::path dir_;
  dist::Communicator* comm_ = nullptr;
  std::unique_ptr<RunFolderLock> lock_;  // held for the whole run (rank 0)
  std::unique_ptr<nn::GradientReducer> reducer_;

  nn::Module* model_ = nullptr;
  std::unique_ptr<data::SampleSource> dataset_;
  std::unique_ptr<nn::Optimizer> optimizer_;
  std::unique_ptr<MetricsLog> metrics_;
  nn::LrSchedule schedule_;
  Generator gen_;
  nn::TrainProgress progress_;
  int64_t iters_per_epoch_ = 0;
  TrainResult result_;

  double window_loss_ = 0;
  std::vector<std::pair<std::string, double>> window_parts_;  // summed, in the task's order
  int64_t window_iters_ = 0;
  double window_comm_ = 0;  // seconds waiting for gradient all-reduces (data-parallel runs)
  Clock::time_point window_start_;
  std::optional<profile::Recording> recording_;  // while TrainOptions::profile_steps are recorded
  double train_seconds_ = 0;   // this call's time in training steps, for the throughput
  int64_t trained_iters_ = 0;  // this call's steps
};

void Run::prepare() {
  comm_ = opt_.comm ? opt_.comm : &dist::self();
  check(cfg_.optim.batch_size % comm_->size() == 0, cfg_.path, ": train.batch_size ", cfg_.optim.batch_size,
        " does not split evenly over ", comm_->size(), " ranks (the global batch must be a multiple of the ranks)");
  gen_.seed(cfg_.seed);
  model_ = &task_.build(gen_);
  dataset_ = task_.training_data();
  iters_per_epoch_ = dataset_->size() / cfg_.optim.batch_size;
  check(iters_per_epoch_ >= 1, cfg_.path, ": train.batch_size ", cfg_.optim.batch_size, " exceeds the ",
        dataset_->size(), " training samples: no full batch to train on");
  schedule_ = cfg_.lr_schedule();

  model_->to(opt_.device);
  model_->train();
  if (cfg_.optim.sync_bn) nn::use_sync_batch_norm(*model_, comm_);
  optimizer_ = make_optimizer(cfg_.optim, model_->parameters());
  reducer_ = std::make_unique<nn::GradientReducer>(model_->parameters(), *comm_);

  const bool have_run = fs::exists(file("checkpoint.json"));
  if (opt_.resume) {
    check(have_run, file("checkpoint.json"), ": no checkpoint to resume from");
  } else {
    check(!have_run, dir_.string(), ": holds a run already (checkpoint.json): pass --resume to continue it, or ",
          "choose another output folder");
  }
  if (root()) {
    fs::create_directories(dir_);
    lock_ = std::make_unique<RunFolderLock>(dir_);
    // What a killed run may have left: temporaries, and the tensors of a save it did not commit.
    remove_stale_temporaries(dir_);
    nn::remove_stale_checkpoint_files(file("checkpoint"));
  }
  // The other ranks read the folder only once rank 0 has cleaned it.
  comm_->barrier();
  if (opt_.resume) {
    progress_ = nn::load_checkpoint(file("checkpoint"), *model_, *optimizer_, gen_);
    const int64_t in_epoch = progress_.iteration - progress_.epoch * iters_per_epoch_;
    check(in_epoch >= 0 && in_epoch <= iters_per_epoch_, file("checkpoint.json"), ": epoch ", progress_.epoch,
          " iteration ", progress_.iteration, " does not fit ", iters_per_epoch_,
          " iterations per epoch (were the data or the batch size changed?)");
    if (fs::exists(file("config.json"))) {
      nlohmann::json recorded;
      try {
        recorded = nlohmann::json::parse(read_file(file("config.json")));
      } catch (const nlohmann::json::exception& e) {
        fail(file("config.json"), ": malformed JSON: ", e.what());
      }
      check_resume_config(recorded, task_.config_json(), file("config.json"));
    }
  }

  // Rank 0's weights for all: equal already by the shared seed or checkpoint, and so whatever a rank's
  // machine does differently.
  nn::broadcast_state(*model_, *comm_);
  if (!root()) return;
  write_file_atomic(file("config.json"), task_.config_json().dump(2) + "\n");
  metrics_ = std::make_unique<MetricsLog>(file("metrics.jsonl"), opt_.resume, progress_.iteration);
  for (const auto& r : metrics_->records()) {
    if (r.value("kind", "") == "val") result_.best_ap = std::max(result_.best_ap, r.value("ap", -1.0));
  }
}

void Run::average_over_ranks(StepLoss& s) {
  if (comm_->size() == 1) return;
  Tensor values = Tensor::empty({static_cast<int64_t>(s.parts.size()) + 1}, DType::F64);
  double* v = values.data<double>();
  v[0] = s.loss;
  for (size_t i = 0; i < s.parts.size(); ++i) v[i + 1] = s.parts[i].second;
  comm_->all_reduce_sum(values);
  const double inv = 1.0 / comm_->size();
  s.loss = v[0] * inv;
  for (size_t i = 0; i < s.parts.size(); ++i) s.parts[i].second = v[i + 1] * inv;
}

void Run::add_to_window(const StepLoss& s) {
  window_loss_ += s.loss;
  for (const auto& [name, value] : s.parts) {
    auto it = std::find_if(window_parts_.begin(), window_parts_.end(), [&](const auto& p) { return p.first == name; });
    if (it == window_parts_.end()) {
      window_parts_.emplace_back(name, value);
    } else {
      it->second += value;
    }
  }
  ++window_iters_;
}

void Run::log_window(int64_t epoch, int64_t iter_in_epoch) {
  const double secs = seconds_since(window_start_);
  const double n = static_cast<double>(window_iters_);
  const double loss = window_loss_ / n;
  const double it_s = n / secs;
  const double img_s = it_s * static_cast<double>(cfg_.optim.batch_size);
  result_.last_loss = loss;
  nlohmann::json record{{"kind", "train"},         {"epoch", epoch + 1},   {"iter", progress_.iteration},
                        {"lr", optimizer_->lr()},  {"loss", loss},         {"it_per_s", it_s},
                        {"images_per_s", img_s}};
  if (!window_parts_.empty()) {
    nlohmann::json parts = nlohmann::json::object();
    for (const auto& [name, sum] : window_parts_) parts[name] = sum / n;
    record["loss_parts"] = parts;
  }
  const bool parallel = comm_->size() > 1;
  if (parallel) record["comm_wait_ms"] = window_comm_ / n * 1e3;
  if (root()) metrics_->append(record);
  if (verbose()) {
    std::string shown;
    for (const std::string& name : task_.shown_parts()) {
      if (record.contains("loss_parts") && record["loss_parts"].contains(name)) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "  %s %.6f", name.c_str(), record["loss_parts"][name].get<double>());
        shown += buf;
      }
    }
    const int64_t left = cfg_.optim.epochs * iters_per_epoch_ - progress_.iteration;
    if (parallel) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "  comm %.1f ms", window_comm_ / n * 1e3);
      shown += buf;
    }
    std::printf("epoch %lld/%lld  iter %lld/%lld  loss %.6f%s  lr %.2e  %.2f it/s  %.1f images/s  ETA %s\n",
                static_cast<long long>(epoch + 1), static_cast<long long>(cfg_.optim.epochs),
                static_cast<long long>(iter_in_epoch), static_cast<long long>(iters_per_epoch_), loss, shown.c_str(),
                optimizer_->lr(), it_s, img_s, format_duration(static_cast<double>(left) / it_s).c_str());
    std::fflush(stdout);
  }
  window_loss_ = 0;
  window_parts_.clear();
  window_iters_ = 0;
  window_comm_ = 0;
  window_start_ = Clock::now();
}

void Run::train_epoch(int64_t epoch) {
  data::LoaderOptions lo;
  lo.batch_size = cfg_.optim.batch_size;
  lo.workers = cfg_.data.workers;
  lo.seed = cfg_.seed;
  lo.shuffle = true;
  lo.drop_last = true;
  lo.first_batch = progress_.iteration - epoch * iters_per_epoch_;
  lo.shard = comm_->rank();
  lo.shards = comm_->size();
  data::BatchLoader loader(*dataset_, lo, epoch);
  window_start_ = Clock::now();
  // Throughput counts the whole step, the wait for the loader included.
  auto step_start = Clock::now();
  while (auto batch = loader.next()) {
    const bool profiled = opt_.profile_steps > 0 && trained_iters_ >= opt_.profile_warmup;
    if (profiled && trained_iters_ == opt_.profile_warmup) recording_.emplace();
    StepLoss s;
    {
      const profile::SpanScope span("step");
      optimizer_->set_lr(schedule_.lr_at(epoch, batch->index, iters_per_epoch_));
      optimizer_->zero_grad();
      reducer_->arm();
      s = task_.step(*batch, opt_.device, progress_.iteration);
      reducer_->finish();
      window_comm_ += reducer_->take_wait_seconds();
      optimizer_->step();
      if (profiled && opt_.device.is_cuda()) cuda::synchronize(opt_.device.index);
    }
    average_over_ranks(s);
    bool finite = std::isfinite(s.loss);
    for (const auto& part : s.parts) finite = finite && std::isfinite(part.second);
    check(finite, "training diverged: the loss is ", s.loss, " at epoch ", epoch + 1, " iteration ", batch->index + 1);
    ++trained_iters_;
    ++progress_.iteration;
    test_kill_hook(comm_->rank(), progress_.iteration);
    add_to_window(s);
    train_seconds_ += seconds_since(step_start);
    const int64_t done_in_epoch = batch->index + 1;
    const bool profile_done = profiled && trained_iters_ == opt_.profile_warmup + opt_.profile_steps;
    if (profile_done) write_profile_report();
    // Every rank stops at the same iteration (a Ctrl-C reaches each at its own moment).
    bool stopping = (opt_.stop && opt_.stop->load()) || profile_done;
    if (comm_->size() > 1) stopping = comm_->all_reduce_max(stopping ? 1 : 0) != 0;
    if (progress_.iteration % cfg_.optim.log_interval == 0 || done_in_epoch == iters_per_epoch_ || stopping) {
      log_window(epoch, done_in_epoch);
    }
    if (stopping) {
      save(epoch);
      plot();
      result_.stopped = true;
      return;
    }
    step_start = Clock::now();
  }
}

void Run::end_epoch(int64_t epoch) {
  const int64_t done = epoch + 1;
  if (task_.validates() && validation_due(cfg_.eval, done, cfg_.optim.epochs)) {
    Validation v;
    {
      autograd::NoGradGuard no_grad;
      model_->eval();
      v = task_.validate();
      model_->train();
    }
    if (!root()) {  // rank 0 holds the gathered result
      save(done);
      return;
    }
    const auto [metric, ap] = ranking_ap(v.rows);
    nlohmann::json record{{"kind", "val"},   {"epoch", done}, {"iter", progress_.iteration},
                          {"metric", metric}, {"ap", ap},      {"parts", part_table_json(v.rows)}};
    record.update(v.extra);
    metrics_->append(record);
    if (verbose()) {
      std::printf("validation after epoch %lld: %s AP %.4f\n%s%s", static_cast<long long>(done), metric.c_str(), ap,
                  data::format_oks_table(v.rows).c_str(), v.note.empty() ? "" : (v.note + "\n").c_str());
      std::fflush(stdout);
    }
    if (ap > result_.best_ap) {
      result_.best_ap = ap;
      nn::save_weights(file("best.safetensors"), *model_);
    }
  }
  save(done);
  plot();
}

void Run::save(int64_t epoch_to_run) {
  progress_.epoch = epoch_to_run;
  if (!root()) return;
  // The weights first: checkpoint.json, written last, commits a complete set (nn/checkpoint.h).
  nn::save_weights(file("latest.safetensors"), *model_);
  nn::save_checkpoint(file("checkpoint"), *model_, *optimizer_, gen_, progress_);
}

void Run::plot() {
  if (root()) write_training_curves(file("curves.png"), metrics_->records());
}

void Run::write_profile_report() {
  if (!root()) {
    recording_.reset();
    return;
  }
  const ProfileReport report = ProfileReport::finish(*recording_, opt_.device);
  recording_.reset();
  const std::string text = write_profile((dir_ / "profile").string(), report);
  if (verbose()) {
    std::printf("profile of %lld training steps after %lld of warm-up -> %s/profile/\n%s",
                static_cast<long long>(report.steps()), static_cast<long long>(opt_.profile_warmup),
                dir_.string().c_str(), text.c_str());
    std::fflush(stdout);
  }
}

TrainResult Run::go() {
  prepare();
  if (verbose()) {
    std::printf("training %s: %lld samples, %lld iterations/epoch of %lld, epochs %lld..%lld, on %s -> %s\n",
                cfg_.path.c_str(), static_cast<long long>(dataset_->size()),
                static_cast<long long>(iters_per_epoch_), static_cast<long long>(cfg_.optim.batch_size),
                static_cast<long long>(progress_.epoch + 1), static_cast<long long>(cfg_.optim.epochs),
                opt_.device.str().c_str(), dir_.string().c_str());
    if (comm_->size() > 1) {
      std::printf("data-parallel: %d ranks, %lld samples each per batch, gradient all-reduce buckets: %lld%s\n",
                  comm_->size(), static_cast<long long>(cfg_.optim.batch_size / comm_->size()),
                  static_cast<long long>(reducer_->num_buckets()), cfg_.optim.sync_bn ? ", SyncBN" : "");
    }
    std::fflush(stdout);
  }
  for (int64_t epoch = progress_.epoch; epoch < cfg_.optim.epochs; ++epoch) {
    train_epoch(epoch);
    if (result_.stopped) break;
    end_epoch(epoch);
  }
  // The run ended before the profiled steps did: what was recorded is still written.
  if (recording_) write_profile_report();
  // train() returns on every rank once rank 0's files are complete.
  comm_->barrier();
  result_.epochs_completed = progress_.epoch;
  result_.iterations = progress_.iteration;
  if (train_seconds_ > 0) {
    result_.images_per_s = static_cast<double>(trained_iters_ * cfg_.optim.batch_size) / train_seconds_;
  }
  return result_;
}

}  // namespace

std::pair<std::string, double> ranking_ap(const EvalRows& rows) {
  for (const char* name : {"wholebody", "body"}) {
    for (const auto& [part, stats] : rows) {
      if (part == name) return {part, stats[0]};
    }
  }
  fail("validation: the part table has neither a \"wholebody\" nor a \"body\" row");
}

nlohmann::json part_table_json(const EvalRows& rows) {
  nlohmann::json parts = nlohmann::json::object();
  for (const auto& [name, stats] : rows) {
    nlohmann::json s;
    for (size_t i = 0; i < stats.size(); ++i) s[data::kOksStatNames[i]] = stats[i];
    parts[name] = s;
  }
  return parts;
}

TrainResult train(const TrainConfig& config, TrainingTask& task, const TrainOptions& options) {
  check(!options.out_dir.empty(), "train: no output folder");
  Run run(config, task, options);
  return run.go();
}

}  // namespace wb::tasks
