// The top-down heatmap family (HRNet, SimpleBaseline, S-ViPNAS): a backbone and a head give K
// heatmaps at stride 4 (pose::TopDownModel), trained with MMPose's KeypointMSELoss (mean of
// w_k (pred - target)^2) on one target per keypoint, predicted by decoding the (flip-averaged)
// heatmaps. One family object per model type, told how to build and read that type's config.
#pragma once
#include <memory>
#include <string>

#include "pose/models/heatmap_head.h"
#include "tasks/family.h"

namespace wb::tasks {

class HeatmapFamily : public PoseFamily {
 public:
  using Build = std::shared_ptr<pose::TopDownModel> (*)(const nlohmann::json& config, const std::string& where);
  using Facts = ModelFacts (*)(const nlohmann::json& config, const std::string& where);
  HeatmapFamily(std::string name, Build build, Facts facts) : name_(std::move(name)), build_(build), facts_(facts) {}

  std::string name() const override { return name_; }
  std::shared_ptr<nn::Module> build(const nlohmann::json& config, const std::string& where) const override;
  ModelFacts facts(const nlohmann::json& config, const std::string& where) const override;
  void init_weights(nn::Module& model, Generator& gen) const override;
  FamilyLoss loss(nn::Module& model, const data::Batch& batch, const Tensor& images) const override;

 private:
  std::string name_;
  Build build_;
  Facts facts_;
};

// The families of the model types pose/models/factory.h builds.
const PoseFamily& hrnet_family();
const PoseFamily& simple_baseline_family();

}  // namespace wb::tasks
