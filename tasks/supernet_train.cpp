#include "tasks/supernet_train.h"

#include <memory>
#include <optional>

#include "datasets/loader.h"
#include "pose/models/config_reader.h"
#include "pose/models/factory.h"
#include "tasks/families/zoomnet_family.h"
#include "tasks/subnet_eval.h"
#include "tensor/error.h"

namespace wb::tasks {

namespace {

// The sandwich step's generator for a global iteration: a stream of the loader's seed mixing
// (data/loader.h) that no epoch uses (epoch -1).
Generator sandwich_generator(uint64_t seed, int64_t iteration) { return Generator(data::sample_seed(seed, -1, iteration)); }

class SupernetTask : public TrainingTask {
 public:
  SupernetTask(const SupernetConfig& c, Device device, bool validate) : cfg_(c) {
    if (validate) {
      evaluator_.emplace(subnet_eval_setup(c.train, device, c.recal_batches, c.recal_batch_size));
    }
  }

  nn::Module& build(Generator& gen) override {
    super_ = std::make_unique<nas::ElasticZoomNet>(cfg_.space, cfg_.base);
    super_->init_weights(gen);
    return super_->module();
  }

  // The base ZoomNet's data: the supernet trains on what its sub-networks would.
  std::unique_ptr<data::SampleSource> training_data() const override {
    return cfg_.train.family->training_data(cfg_.train);
  }

  StepLoss step(const data::Batch& batch, Device device, int64_t iteration) override {
    Generator gen = sandwich_generator(cfg_.train.seed, iteration);
    const nas::ZoomSandwichResult r =
        nas::zoom_sandwich_backward(*super_, zoom_batch(batch, batch.images.to(device)), gen, cfg_.sandwich);
    double students = 0;
    for (size_t i = 1; i < r.losses.size(); ++i) students += r.losses[i];
    students /= static_cast<double>(r.losses.size() - 1);
    return {r.losses.at(0),
            {{"body", r.largest_parts[0]}, {"face", r.largest_parts[1]}, {"hand", r.largest_parts[2]},
             {"students", students}}};
  }

  std::vector<std::string> shown_parts() const override { return {"students"}; }

  bool validates() const override { return evaluator_.has_value(); }

  Validation validate() override {
    Generator unused;
    const pose::ZoomNetConfig smallest = nas::sample_zoomnet(cfg_.space, cfg_.base, nas::Pick::Smallest, unused);
    Validation v;
    v.rows = (*evaluator_)(*super_, super_->largest());
    const EvalRows small = (*evaluator_)(*super_, smallest);
    const auto [metric, ap] = ranking_ap(small);
    v.extra["smallest"] = {{"metric", metric}, {"ap", ap}, {"parts", part_table_json(small)}};
    char note[96];
    std::snprintf(note, sizeof note, "smallest sub-network: %s AP %.4f", metric.c_str(), ap);
    v.note = note;
    return v;
  }

  nlohmann::json config_json() const override { return cfg_.to_json(); }

 private:
  const SupernetConfig& cfg_;
  std::unique_ptr<nas::ElasticZoomNet> super_;
  std::optional<SubnetEvaluator> evaluator_;
};

}  // namespace

nlohmann::json SupernetConfig::to_json() const {
  nlohmann::json j = train.to_json();
  j["search_space"] = nas::to_json(space);
  j["sandwich"] = {{"random_subnets", sandwich.random_subnets}, {"distill_weight", sandwich.distill_weight}};
  j["recalibration"] = {{"batches", recal_batches}, {"batch_size", recal_batch_size}};
  return j;
}

SupernetConfig parse_supernet_config(const nlohmann::json& j, const std::string& path) {
  SupernetConfig c;
  c.train = parse_train_config(j, path, supernet_own_fields());
  check(c.train.family == &zoomnet_family(), c.train.model_where,
        ": a supernet's base model must be a ZoomNet (\"type\": \"zoomnet\")");
  c.base = pose::zoomnet_config_from_json(c.train.model, c.train.model_where);
  const std::string sec = path + ": ";

  pose::ConfigReader r(j, path);
  if (const auto* s = r.section("search_space")) c.space = nas::zoomnas_space_from_json(*s, sec + "search_space");
  else c.space = nas::zoomnas_space();
  if (const auto* s = r.section("sandwich")) {
    pose::ConfigReader sr(*s, sec + "sandwich");
    sr.get("random_subnets", c.sandwich.random_subnets);
    sr.get("distill_weight", c.sandwich.distill_weight);
    sr.finish();
    if (c.sandwich.random_subnets < 0) sr.fail_field("random_subnets", "must be >= 0");
    if (!(c.sandwich.distill_weight >= 0)) sr.fail_field("distill_weight", "must be >= 0");
  }
  c.recal_batch_size = c.train.optim.batch_size;
  if (const auto* s = r.section("recalibration")) {
    pose::ConfigReader rr(*s, sec + "recalibration");
    rr.get("batches", c.recal_batches);
    rr.get("batch_size", c.recal_batch_size);
    rr.finish();
    if (c.recal_batches < 1) rr.fail_field("batches", "must be >= 1");
    if (c.recal_batch_size < 1) rr.fail_field("batch_size", "must be >= 1");
  }

  Generator unused;
  const pose::ZoomNetConfig largest = nas::sample_zoomnet(c.space, c.base, nas::Pick::Largest, unused);
  check(largest.body.input_size == c.base.body.input_size, c.train.model_where, ": body.input_size ",
        c.base.body.input_size[0], "x", c.base.body.input_size[1], " is not the search space's largest (",
        largest.body.input_size[0], "x", largest.body.input_size[1], "): the batches are cropped at the largest");
  return c;
}

SupernetConfig read_supernet_config(const std::string& path) {
  return parse_supernet_config(pose::read_json_file(path), path);
}

TrainResult train_supernet(const SupernetConfig& config, const TrainOptions& options, bool validate) {
  SupernetTask task(config, options.device, validate);
  return train(config.train, task, options);
}

}  // namespace wb::tasks
