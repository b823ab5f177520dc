// Evaluating one sub-network of a ZoomNet supernet (spec/zoomnas.md §2.3): export it as a plain
// pose::ZoomNet, recalibrate its batch norms on training batches at its own input size
// (nn/bn_recalibration.h; the supernet trains on batch statistics only, docs/nas.md), then validate
// it with the training loop's validation (tasks/validation.h) -> the part table. The search scores
// every candidate this way; supernet training validates its largest and smallest this way.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "datasets/topdown.h"
#include "nas/elastic_zoomnet.h"
#include "tasks/train_config.h"
#include "tasks/trainer.h"
#include "tasks/validation.h"
#include "tensor/device.h"

namespace wb::tasks {

struct SubnetEvalSetup {
  // Data root, training and validation annotations and images, validation boxes, loader workers.
  DataConfig data;
  // The training pipeline the recalibration batches go through (augmentation as in training); the
  // codec's input and heatmap sizes are replaced by each sub-network's.
  data::TopDownConfig topdown;
  int64_t recal_batches = 16;
  int64_t recal_batch_size = 32;
  int64_t eval_batch_size = 32;
  bool flip_test = true;
  Device device = Device::cpu();
  // Fixes the recalibration batches: the first recal_batches of the loader's epoch order for this
  // seed (data/loader.h), the same people for every sub-network, each cropped at its input size.
  uint64_t seed = 0;
};

// The setup a supernet training config implies: its data, augmentation, eval batch size and flip
// test, seed; recalibration on `recal_batches` batches of `recal_batch_size`.
SubnetEvalSetup subnet_eval_setup(const TrainConfig& config, Device device, int64_t recal_batches,
                                  int64_t recal_batch_size);

// Reads the training and validation annotations once (errors name the file before any evaluation),
// then evaluates as many sub-networks as asked.
class SubnetEvaluator {
 public:
  explicit SubnetEvaluator(const SubnetEvalSetup& setup);
  EvalRows operator()(nas::ElasticZoomNet& super, const pose::ZoomNetConfig& config);

 private:
  const data::TopDownDataset& dataset_at(std::array<int64_t, 2> input_size);

  SubnetEvalSetup setup_;
  std::vector<data::PersonInstance> train_;
  Validator validator_;
  std::map<std::array<int64_t, 2>, std::unique_ptr<data::TopDownDataset>> datasets_;  // by input size
};

// Export `config` from the supernet, recalibrate its BN on `recal_batches` training batches at its
// input size (a fixed, seed-determined choice), validate it (tasks/validation.h) -> the part table.
EvalRows evaluate_subnet(nas::ElasticZoomNet& super, const pose::ZoomNetConfig& config, const SubnetEvalSetup& setup);

// `codec` for another input size: the same encoding, decoding and sigma, the heatmap at the same stride.
pose::HeatmapCodec codec_at(const pose::HeatmapCodec& codec, std::array<int64_t, 2> input_size);

}  // namespace wb::tasks
