// The top-down training loop (MMPose's recipe): loader -> model -> heatmap MSE with target weights
// (ZoomNet: zoomnet_loss on the samples' keypoints, pose/models/zoomnet_pipeline.h) -> backward -> Adam step, the learning rate set per iteration from the schedule; validation by a
// callback; checkpoints; metrics; curves.
//
// The run folder (TrainOptions::out_dir) holds
//   config.json                     the config with every default filled in (written at the start)
//   checkpoint.{json,safetensors}   everything to resume (nn/checkpoint.h): model, Adam, progress;
//                                   written after every epoch and when stopped
//   latest.safetensors              the model weights at the same moments (for wbpose-eval / -infer)
//   best.safetensors                the weights of the best validation so far (whole-body AP, or body
//                                   AP for 17-keypoint models)
//   metrics.jsonl                   one JSON object per line (epoch counts from 1, iter is the global
//                                   iteration): {"kind": "train", epoch, iter, lr, loss,
//                                   it_per_s, images_per_s} per log window (ZoomNet adds
//                                   loss_parts: {body, face, hand}), {"kind": "val", epoch,
//                                   iter, metric, ap, parts: {part: {AP, AP50, ...}}} per validation
//   curves.png                      loss and AP curves (tasks/plot.h)
// Every file is written atomically; metrics.jsonl is appended one whole line at a time.
//
// Resuming continues exactly: the loader's batches depend only on (seed, epoch, batch), the
// checkpoint holds the optimizer state and the (epoch, iteration) position that fixes the learning
// rate, so a run stopped and resumed ends with the same weights, bit for bit, as one that was not.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "datasets/oks_eval.h"
#include "nn/module.h"
#include "tasks/train_config.h"
#include "tensor/device.h"

namespace wb::tasks {

// The part table of one validation (oks_eval.h's rows: "body", ..., "wholebody").
using EvalRows = std::vector<std::pair<std::string, data::OksStats>>;
// Runs the model (already in evaluation mode, gradients off) on the validation set: a
// pose::TopDownModel, or a pose::ZoomNet for a "zoomnet" model config.
using EvalFn = std::function<EvalRows(nn::Module& model)>;

struct TrainOptions {
  std::string out_dir;
  Device device = Device::cpu();
  bool resume = false;  // continue from out_dir/checkpoint; without it out_dir must hold no run
  // Checked after every iteration: once true, a checkpoint is saved and train() returns.
  const std::atomic<bool>* stop = nullptr;
  bool verbose = true;  // progress lines on stdout
};

struct TrainResult {
  int64_t epochs_completed = 0;
  int64_t iterations = 0;
  bool stopped = false;       // by TrainOptions::stop, before the last epoch ended
  double last_loss = 0;       // mean loss of the last log window
  double best_ap = -1;        // -1 when never validated
  double images_per_s = 0;    // training throughput over this call (validation excluded)
};

// Builds the data and the model and trains. Bad input (unreadable annotations, a checkpoint for
// another model, an existing run without --resume) is reported before anything is written.
TrainResult train(const TrainConfig& config, const TrainOptions& options, const EvalFn& evaluate);

// The row that ranks checkpoints: "wholebody" when present, otherwise "body".
std::pair<std::string, double> ranking_ap(const EvalRows& rows);

}  // namespace wb::tasks
