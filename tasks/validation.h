// The training loop's validation: the top-down predictor (tasks/topdown_predictor.h) on the
// config's validation set, with ground-truth boxes ("val_boxes": "gt") or detector boxes, as an
// EvalFn for tasks/trainer.h, or as a Validator for models of several input sizes (the sub-networks
// of a supernet, tasks/subnet_eval.h).
#pragma once
#include <memory>

#include "pose/heatmap_codec.h"
#include "tasks/train_config.h"
#include "tasks/trainer.h"
#include "tensor/device.h"

namespace wb::tasks {

// The validation set of `data` (annotations and boxes, read at construction so that a missing file is
// reported before a run starts) and how to predict on it (`eval`'s batch size and flip test).
class Validator {
 public:
  // With a data-parallel `comm`, each rank predicts the images i with i % ranks == rank and rank 0
  // scores the gathered poses (in the one-process order, so the table is the same).
  Validator(const DataConfig& data, const EvalConfig& eval, double box_padding, Device device,
            dist::Communicator* comm = nullptr);
  // The part table (all six passes for COCO-WholeBody, "body" for COCO) of `model` of `family`, whose
  // crops are cut and decoded by `codec`; on ranks other than 0 of a data-parallel run, empty.
  EvalRows operator()(nn::Module& model, const PoseFamily& family, const pose::HeatmapCodec& codec) const;

 private:
  struct Data;
  std::shared_ptr<const Data> data_;
};

// A Validator of the config's data, predicting with the config's family and codec.
EvalFn make_validation(const TrainConfig& config, Device device, dist::Communicator* comm = nullptr);

}  // namespace wb::tasks
