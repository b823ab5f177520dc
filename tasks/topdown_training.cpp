// The plain top-down training task (trainer.h's train(config, options, evaluate)): the config's
// model, heatmap MSE with target weights, or for ZoomNet zoomnet_loss on the samples' keypoints (its
// head targets live in the RoIs it predicts in the same pass), with its body/face/hand parts logged.
#include <memory>

#include "autograd/engine.h"
#include "autograd/ops_pose.h"
#include "pose/models/factory.h"
#include "pose/models/zoomnet.h"
#include "pose/models/zoomnet_pipeline.h"
#include "tasks/model_spec.h"
#include "tasks/trainer.h"

namespace wb::tasks {

namespace {

class TopDownTask : public TrainingTask {
 public:
  TopDownTask(const TrainConfig& c, const EvalFn& evaluate) : cfg_(c), evaluate_(evaluate) {}

  nn::Module& build(Generator& gen) override {
    if (pose::model_type(cfg_.model, cfg_.model_where) == "zoomnet") {
      auto zoom = pose::build_zoomnet(cfg_.model, cfg_.model_where);
      zoom->init_weights(gen);
      zoom_ = zoom.get();
      model_ = std::move(zoom);
      num_keypoints_ = 133;  // ZoomNet's labels: the COCO-WholeBody keypoints
    } else {
      auto model = pose::build_model(cfg_.model, cfg_.model_where);
      model->init_weights(gen);
      num_keypoints_ = model->num_keypoints();
      model_ = std::move(model);
    }
    return *model_;
  }

  int64_t num_keypoints() const override { return num_keypoints_; }

  StepLoss step(const data::Batch& batch, Device device, int64_t) override {
    const Tensor images = batch.images.to(device);
    if (zoom_ == nullptr) {
      const Tensor pred = (*model_)(images);
      const Tensor loss = ops::heatmap_mse_loss(pred, batch.heatmaps.to(device), batch.weights.to(device));
      autograd::backward(loss);
      return {loss.item(), {}};
    }
    const pose::ZoomLoss loss = pose::zoomnet_loss(*zoom_, zoom_batch(batch, images));
    autograd::backward(loss.total);
    return {loss.total.item(), {{"body", loss.body.item()}, {"face", loss.face.item()}, {"hand", loss.hand.item()}}};
  }

  bool validates() const override { return static_cast<bool>(evaluate_); }
  Validation validate() override { return {evaluate_(*model_), nlohmann::json::object(), ""}; }
  nlohmann::json config_json() const override { return cfg_.to_json(); }

 private:
  const TrainConfig& cfg_;
  const EvalFn& evaluate_;
  std::shared_ptr<nn::Module> model_;
  pose::ZoomNet* zoom_ = nullptr;  // model_ when it is a ZoomNet
  int64_t num_keypoints_ = 0;
};

}  // namespace

pose::ZoomBatch zoom_batch(const data::Batch& batch, const Tensor& images) {
  pose::ZoomBatch zb;
  zb.images = images;
  for (const data::SampleMeta& m : batch.meta) {
    zb.keypoints.push_back(m.input_keypoints);
    zb.visible.push_back(m.visible);
  }
  return zb;
}

TrainResult train(const TrainConfig& config, const TrainOptions& options, const EvalFn& evaluate) {
  TopDownTask task(config, evaluate);
  return train(config, task, options);
}

}  // namespace wb::tasks
