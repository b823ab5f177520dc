#include "pose/models/mspn_loss.h"

#include "autograd/ops_basic.h"
#include "autograd/ops_pose.h"
#include "tensor/error.h"

namespace wb::pose {

MSPNLossOptions mspn_loss_options(const MSPNConfig& c) {
  check(c.num_units <= 4, "MSPN loss: no default target levels for ", c.num_units, " units (at most 4)");
  MSPNLossOptions o;
  o.num_units = c.num_units;
  const int64_t shift = c.num_stages > 1 ? 1 : 0;
  for (int64_t s = 0; s < c.num_stages; ++s) {
    const int64_t first = s + 1 == c.num_stages ? shift : 0;
    for (int64_t u = 0; u < c.num_units; ++u) o.level_indices.push_back(first + u);
  }
  return o;
}

std::vector<int> mspn_kernel_sizes(const MSPNConfig& c) {
  check(c.num_units <= 4, "MSPN loss: no default kernel sizes for ", c.num_units, " units (at most 4)");
  const std::vector<int> all = c.num_stages > 1 ? std::vector<int>{15, 11, 9, 7, 5} : std::vector<int>{11, 9, 7, 5};
  const size_t levels = static_cast<size_t>(c.num_units) + (c.num_stages > 1 ? 1 : 0);
  return {all.end() - static_cast<std::ptrdiff_t>(levels), all.end()};
}

MSPNLoss mspn_loss(const std::vector<Tensor>& outputs, const Tensor& targets, const Tensor& weights,
                   const MSPNLossOptions& o) {
  check(o.num_units > 0 && !outputs.empty() && outputs.size() % static_cast<size_t>(o.num_units) == 0,
        "MSPN loss: ", outputs.size(), " outputs are not whole stages of ", o.num_units, " units");
  check(o.level_indices.size() == outputs.size(), "MSPN loss: ", o.level_indices.size(), " level indices for ",
        outputs.size(), " outputs");
  check(targets.dim() == 5, "MSPN loss: targets must be [N, L, K, h, w], got ", targets.str());
  const int64_t levels = targets.size(1);
  const bool per_level = weights.dim() == 3;
  check((weights.dim() == 2 || per_level) && weights.size(0) == targets.size(0) &&
            weights.size(-1) == targets.size(2) && (!per_level || weights.size(1) == levels),
        "MSPN loss: weights ", weights.str(), " do not fit targets ", targets.str(), " ([N, K] or [N, L, K])");
  // Per stage, the sum of its terms; one read of each for the log (a device sync per stage).
  std::vector<Tensor> stages(outputs.size() / static_cast<size_t>(o.num_units));
  for (size_t i = 0; i < outputs.size(); ++i) {
    const int64_t level = o.level_indices[i];
    check(level >= 0 && level < levels, "MSPN loss: output ", i, " takes target level ", level, " of ", levels);
    const Tensor target = targets.select(1, level).contiguous();
    const Tensor weight = per_level ? weights.select(1, level).contiguous() : weights;
    check(outputs[i].shape() == target.shape(), "MSPN loss: output ", i, " ", outputs[i].str(), " vs target ",
          target.str());
    const bool finest = (i + 1) % static_cast<size_t>(o.num_units) == 0;
    const Tensor term = finest ? ops::scale(ops::ohkm_mse_loss(outputs[i], target, weight, o.topk), o.ohkm_weight)
                               : ops::scale(ops::heatmap_mse_loss(outputs[i], target, weight), o.mse_weight);
    Tensor& stage = stages[i / static_cast<size_t>(o.num_units)];
    stage = stage.defined() ? ops::add(stage, term) : term;
  }
  MSPNLoss out;
  for (size_t s = 0; s < stages.size(); ++s) {
    out.total = out.total.defined() ? ops::add(out.total, stages[s]) : stages[s];
    out.parts.emplace_back("stage" + std::to_string(s + 1), stages[s].item());
  }
  return out;
}

}  // namespace wb::pose
