// The training loop's validation: the top-down predictor (tasks/topdown_predictor.h) on the
// config's validation set, with ground-truth boxes ("val_boxes": "gt") or detector boxes, as an
// EvalFn for tasks/trainer.h.
#pragma once
#include "tasks/train_config.h"
#include "tasks/trainer.h"
#include "tensor/device.h"

namespace wb::tasks {

// Reads the validation annotations (and boxes) now, so that a missing file is reported before the
// run starts; the returned function runs the predictor and returns the part table (all six passes
// for COCO-WholeBody, "body" for COCO).
EvalFn make_validation(const TrainConfig& config, Device device);

}  // namespace wb::tasks
