#include "tasks/subnet_eval.h"

#include <filesystem>
#include <optional>

#include "datasets/coco.h"
#include "datasets/loader.h"
#include "nn/bn_recalibration.h"
#include "pose/keypoints.h"
#include "tasks/families/zoomnet_family.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace fs = std::filesystem;

namespace {

EvalConfig eval_config(const SubnetEvalSetup& s) {
  EvalConfig e;
  e.batch_size = s.eval_batch_size;
  e.flip_test = s.flip_test;
  return e;
}

std::vector<data::PersonInstance> recalibration_instances(const DataConfig& d) {
  const std::string ann = (fs::path(d.root) / d.train_annotations).string();
  check(fs::is_regular_file(ann), ann, ": no training annotations here to recalibrate batch norms on (data root \"",
        d.root, "\", field data.train_annotations)");
  const data::CocoKeypointsFile file = data::read_coco_keypoints(ann);
  check(file.format == data::KeypointFormat::coco_wholebody, ann,
        ": ZoomNet sub-networks recalibrate on COCO-WholeBody annotations (133 keypoints)");
  data::SkipCounts skipped;
  auto instances = data::instances_from_coco(file, (fs::path(d.root) / d.train_images).string(), &skipped);
  check(!instances.empty(), ann, ": no usable person annotation to recalibrate on (", skipped.summary(), ")");
  return instances;
}

}  // namespace

pose::HeatmapCodec codec_at(const pose::HeatmapCodec& codec, std::array<int64_t, 2> input_size) {
  pose::HeatmapCodec c = codec;
  const int stride = codec.input_h / codec.heatmap_h;
  c.input_h = static_cast<int>(input_size[0]);
  c.input_w = static_cast<int>(input_size[1]);
  c.heatmap_h = c.input_h / stride;
  c.heatmap_w = c.input_w / stride;
  return c;
}

SubnetEvalSetup subnet_eval_setup(const TrainConfig& c, Device device, int64_t recal_batches,
                                  int64_t recal_batch_size) {
  SubnetEvalSetup s;
  s.data = c.data;
  s.topdown = c.topdown;
  s.recal_batches = recal_batches;
  s.recal_batch_size = recal_batch_size;
  s.eval_batch_size = c.eval.batch_size;
  s.flip_test = c.eval.flip_test;
  s.device = device;
  s.seed = c.seed;
  return s;
}

SubnetEvaluator::SubnetEvaluator(const SubnetEvalSetup& setup)
    : setup_(setup),
      train_(recalibration_instances(setup.data)),
      validator_(setup.data, eval_config(setup), setup.topdown.box_padding, setup.device) {
  check(setup.recal_batches >= 1 && setup.recal_batch_size >= 1, "sub-network evaluation: recalibration needs ",
        "at least one batch of at least one image, got ", setup.recal_batches, " of ", setup.recal_batch_size);
}

const data::TopDownDataset& SubnetEvaluator::dataset_at(std::array<int64_t, 2> input_size) {
  auto& d = datasets_[input_size];
  if (!d) {
    data::TopDownConfig t = setup_.topdown;
    t.codec = codec_at(t.codec, input_size);
    d = std::make_unique<data::TopDownDataset>(train_, pose::coco_wholebody(), t);
  }
  return *d;
}

EvalRows SubnetEvaluator::operator()(nas::ElasticZoomNet& super, const pose::ZoomNetConfig& config) {
  super.check_fits(config);
  std::shared_ptr<pose::ZoomNet> net = super.export_subnet(config);
  net->to(setup_.device);

  // The loader's epochs in order, from epoch 0, until recal_batches batches have been drawn (a set
  // smaller than one batch gives one partial batch per epoch).
  const data::TopDownDataset& dataset = dataset_at(config.body.input_size);
  data::LoaderOptions lo;
  lo.batch_size = setup_.recal_batch_size;
  lo.workers = setup_.data.workers;
  lo.seed = setup_.seed;
  lo.shuffle = true;
  lo.drop_last = dataset.size() >= setup_.recal_batch_size;
  int64_t epoch = 0;
  std::optional<data::BatchLoader> loader;
  nn::recalibrate_batchnorm(*net, setup_.recal_batches, [&](int64_t) {
    std::optional<data::Batch> batch;
    if (loader) batch = loader->next();
    while (!batch) {
      loader.emplace(dataset, lo, epoch++);
      batch = loader->next();
    }
    return batch->images.to(setup_.device);
  });
  loader.reset();
  return validator_(*net, zoomnet_family(), codec_at(setup_.topdown.codec, config.body.input_size));
}

EvalRows evaluate_subnet(nas::ElasticZoomNet& super, const pose::ZoomNetConfig& config, const SubnetEvalSetup& setup) {
  SubnetEvaluator evaluate(setup);
  return evaluate(super, config);
}

}  // namespace wb::tasks
