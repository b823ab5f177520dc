// The plain training task (trainer.h's train(config, options, evaluate)): the config's model, built,
// initialised and scored by its family (tasks/family.h), with the family's loss parts logged.
#include <memory>

#include "autograd/engine.h"
#include "tasks/trainer.h"

namespace wb::tasks {

namespace {

class FamilyTask : public TrainingTask {
 public:
  FamilyTask(const TrainConfig& c, const EvalFn& evaluate) : cfg_(c), evaluate_(evaluate) {}

  nn::Module& build(Generator& gen) override {
    model_ = cfg_.family->build(cfg_.model, cfg_.model_where);
    cfg_.family->init_weights(*model_, gen);
    return *model_;
  }

  std::unique_ptr<data::SampleSource> training_data() const override { return cfg_.family->training_data(cfg_); }

  StepLoss step(const data::Batch& batch, Device device, int64_t) override {
    const FamilyLoss loss = cfg_.family->loss(*model_, batch, batch.images.to(device));
    autograd::backward(loss.total);
    return {loss.total.item(), loss.parts};
  }

  std::vector<std::string> shown_parts() const override { return cfg_.family->shown_loss_parts(); }
  bool validates() const override { return static_cast<bool>(evaluate_); }
  Validation validate() override { return {evaluate_(*model_), nlohmann::json::object(), ""}; }
  nlohmann::json config_json() const override { return cfg_.to_json(); }

 private:
  const TrainConfig& cfg_;
  const EvalFn& evaluate_;
  std::shared_ptr<nn::Module> model_;
};

}  // namespace

TrainResult train(const TrainConfig& config, const TrainOptions& options, const EvalFn& evaluate) {
  FamilyTask task(config, evaluate);
  return train(config, task, options);
}

}  // namespace wb::tasks
