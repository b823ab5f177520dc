#include "nas/sandwich.h"

#include "autograd/engine.h"
#include "autograd/ops_basic.h"
#include "autograd/ops_pose.h"
#include "tensor/error.h"

namespace wb::nas {

SandwichStep sandwich_step(ElasticHRNet& super, const HRNetSpace& space, const SandwichBatch& batch,
                           nn::Optimizer& optimizer, Generator& gen, const SandwichOptions& options) {
  check(super.model().is_training(), "sandwich_step: the supernet must be in training mode");
  check(batch.images.dim() == 4 && batch.targets.dim() == 4, "sandwich_step: images ", batch.images.str(),
        " and targets ", batch.targets.str(), " must be [N, C, H, W]");
  const pose::HRNetConfig& base = super.largest();
  SandwichStep out;
  out.configs.push_back(sample_hrnet(space, base, Pick::Largest, gen));
  out.configs.push_back(sample_hrnet(space, base, Pick::Smallest, gen));
  for (int i = 0; i < options.random_subnets; ++i) out.configs.push_back(sample_hrnet(space, base, Pick::Uniform, gen));
  check(out.configs.front().input_size[0] == batch.images.size(2) && out.configs.front().input_size[1] == batch.images.size(3),
        "sandwich_step: images ", batch.images.str(), " are not at the largest input size ",
        out.configs.front().input_size[0], "x", out.configs.front().input_size[1]);

  optimizer.zero_grad();
  Tensor teacher;
  for (size_t i = 0; i < out.configs.size(); ++i) {
    const pose::HRNetConfig& c = out.configs[i];
    const Tensor x = ops::resize_bilinear_to(batch.images, c.input_size[0], c.input_size[1]);
    const Tensor y = super.forward(x, c);
    const Tensor gt = ops::resize_bilinear_to(batch.targets, y.size(2), y.size(3));
    Tensor loss = ops::heatmap_mse_loss(y, gt, batch.target_weights);
    if (i == 0) {
      teacher = y.detach();
    } else {
      const Tensor t = ops::resize_bilinear_to(teacher, y.size(2), y.size(3));
      loss = ops::add(loss, ops::scale(ops::heatmap_mse_loss(y, t, batch.target_weights), options.distill_weight));
    }
    out.losses.push_back(loss.item());
    autograd::backward(loss);  // accumulates into the shared weights' grads
  }
  optimizer.step();
  return out;
}

}  // namespace wb::nas
