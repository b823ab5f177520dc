// The training loop (MMPose's top-down recipe): loader -> a training task's forward and backward
// passes -> optimizer step, the learning rate set per iteration from the schedule; validation;
// checkpoints; metrics; curves. A task (TrainingTask below) says what is trained and how one batch's
// loss is computed; the loop does the rest the same way for every task:
//   the family task           the config's model family's loss (tasks/family.h: heatmap MSE,
//                             MSPN's multi-stage loss, ZoomNet's); validation by a callback
//                             (train() below, wbpose-train);
//   the supernet task         tasks/supernet_train.h (wbpose-search train-supernet).
//
// The run folder (TrainOptions::out_dir) holds
//   config.json                     the config with every default filled in (written at the start)
//   checkpoint.json, checkpoint.e<epoch>-i<iteration>.safetensors
//                                   everything to resume (nn/checkpoint.h): model, Adam, progress;
//                                   written after every epoch and when stopped; a save is atomic as
//                                   a whole, so a run killed at any moment resumes from its last save
//   latest.safetensors              the model weights at the same moments (for wbpose-eval / -infer)
//   best.safetensors                the weights of the best validation so far (whole-body AP, or body
//                                   AP for 17-keypoint models)
//   metrics.jsonl                   one JSON object per line (epoch counts from 1, iter is the global
//                                   iteration): {"kind": "train", epoch, iter, lr, loss,
//                                   it_per_s, images_per_s} per log window (a task with loss parts
//                                   adds loss_parts: ZoomNet {body, face, hand}; a data-parallel run
//                                   comm_wait_ms, the mean time per step spent finishing the gradient
//                                   all-reduces after backward), {"kind": "val",
//                                   epoch, iter, metric, ap, parts: {part: {AP, AP50, ...}}} per
//                                   validation (plus the task's own fields)
//   curves.png                      loss and AP curves (tasks/plot.h)
//   run.lock                        held by the training process (tasks/run_folder.h): a second
//                                   trainer on the same folder is refused
//   profile/                        with TrainOptions::profile_steps: profile.txt, profile.json,
//                                   trace.json, roofline.png (tasks/profile_report.h)
// Every file is written atomically; metrics.jsonl is appended one whole line at a time. A run
// resumes only with the config it was started with (config.json; run_folder.h says what may change).
//
// Resuming continues exactly: the loader's batches depend only on (seed, epoch, batch), the
// checkpoint holds the optimizer state and the (epoch, iteration) position that fixes the learning
// rate, so a run stopped and resumed ends with the same weights, bit for bit, as one that was not
// (a task whose step draws random numbers must derive them from the iteration it is handed).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets/loader.h"
#include "datasets/oks_eval.h"
#include "nn/module.h"
#include "tasks/train_config.h"
#include "tensor/communicator.h"
#include "tensor/device.h"
#include "tensor/generator.h"

namespace wb::tasks {

// The part table of one validation (oks_eval.h's rows: "body", ..., "wholebody").
using EvalRows = std::vector<std::pair<std::string, data::OksStats>>;
// Runs the model (already in evaluation mode, gradients off) on the validation set. In a
// data-parallel run every rank calls it; rank 0's rows are the result (tasks/validation.h splits
// the images over the ranks and gathers the poses there; the other ranks may return none).
using EvalFn = std::function<EvalRows(nn::Module& model)>;

struct TrainOptions {
  std::string out_dir;
  Device device = Device::cpu();
  bool resume = false;  // continue from out_dir/checkpoint; without it out_dir must hold no run
  // Checked after every iteration: once true, a checkpoint is saved and train() returns.
  const std::atomic<bool>* stop = nullptr;
  bool verbose = true;  // progress lines on stdout
  // Profiling (wbpose-train --profile N): after `profile_warmup` steps of this call the next
  // `profile_steps` are recorded op by op (tensor/profile.h); the run then stops as if asked to (its
  // checkpoint saved, so it can resume) and writes out_dir/profile/ (tasks/profile_report.h).
  int64_t profile_steps = 0;
  int64_t profile_warmup = 2;
  // The data-parallel job (tensor/communicator.h; wbpose-train passes dist::world()); null: one
  // process. Each rank trains on its share of every global batch, gradients are averaged over the
  // ranks (nn/data_parallel.h), rank 0 alone writes the run folder, and validation is split by image
  // and gathered. Every rank reads the folder on --resume, which may use another number of ranks.
  dist::Communicator* comm = nullptr;
};

struct TrainResult {
  int64_t epochs_completed = 0;
  int64_t iterations = 0;
  bool stopped = false;       // by TrainOptions::stop or a finished profile, before the last epoch ended
  double last_loss = 0;       // mean loss of the last log window
  double best_ap = -1;        // -1 when never validated
  double images_per_s = 0;    // training throughput over this call (validation excluded)
};

// One step's loss as the log records it: the value (checked finite) and named parts (each averaged
// over the log window into loss_parts; none for a plain top-down model).
struct StepLoss {
  double loss = 0;
  std::vector<std::pair<std::string, double>> parts;
};

// One validation: the part table (its ranking_ap ranks best.safetensors), fields the task adds to
// the "val" record, and a line printed under the table.
struct Validation {
  EvalRows rows;
  nlohmann::json extra = nlohmann::json::object();
  std::string note;
};

// What the loop trains, and on what data. The loop owns the loader over the task's samples, the
// optimizer over the model's parameters, the schedule, the log, when to validate, the checkpoints
// and resuming.
class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  // Builds the model and initialises it from `gen` (seeded with the config's seed; its state after
  // this is what checkpoints record). Called once, first; the task owns the model.
  virtual nn::Module& build(Generator& gen) = 0;
  // The training samples, checked before the run writes anything (the family's own:
  // PoseFamily::training_data). Called once, after build().
  virtual std::unique_ptr<data::SampleSource> training_data() const = 0;
  // The forward and backward passes of one batch: gradients accumulate into the model's parameters
  // (zeroed before, one optimizer step after, by the loop). The model is in training mode on
  // `device`; `iteration` is the global iteration (0-based) this step is.
  virtual StepLoss step(const data::Batch& batch, Device device, int64_t iteration) = 0;
  // Parts of StepLoss shown in the progress line (the log has them all).
  virtual std::vector<std::string> shown_parts() const { return {}; }
  // Whether the task validates; validate() is then called with gradients off and the model in
  // evaluation mode, after the epochs the config's eval.interval names.
  virtual bool validates() const = 0;
  virtual Validation validate() = 0;
  // What config.json records.
  virtual nlohmann::json config_json() const = 0;
};

// Trains `task` under `config` (data, codec, augmentation, optimizer, schedule, validation interval,
// seed). Bad input (unreadable annotations, a checkpoint for another model, an existing run without
// --resume) is reported before anything is written.
TrainResult train(const TrainConfig& config, TrainingTask& task, const TrainOptions& options);

// The family task: the config's model, built, initialised and trained with its loss by its family
// (tasks/family.h), validated by `evaluate` (none: no validation).
TrainResult train(const TrainConfig& config, const TrainOptions& options, const EvalFn& evaluate);

// The row that ranks checkpoints: "wholebody" when present, otherwise "body".
std::pair<std::string, double> ranking_ap(const EvalRows& rows);
// A part table as metrics.jsonl records it: {part: {AP, AP50, ...}}.
nlohmann::json part_table_json(const EvalRows& rows);

}  // namespace wb::tasks
