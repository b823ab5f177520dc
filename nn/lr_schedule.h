// Learning-rate schedules as MMPose 1.x configures them with mmengine's param_scheduler list:
// an optional linear warm-up by iteration, times a decay by epoch (MultiStepLR or
// CosineAnnealingLR). The trainer asks for the rate of each iteration and sets it on the
// optimizer before the step.
//
//   warm-up  mmengine LinearLR(start_factor, begin=0, end=warmup_iters, by_epoch=False):
//            factor(g) = s + (1 - s) * min(g, warmup_iters - 1) / (warmup_iters - 1) at global
//            iteration g (0-based); it reaches 1 on the last warm-up iteration. This is PyTorch's
//            LinearLR(total_iters = warmup_iters - 1).
//   MultiStep  mmengine/PyTorch MultiStepLR: base_lr * gamma^(number of milestones <= epoch).
//   Cosine   mmengine/PyTorch CosineAnnealingLR with T_max = cosine_epochs:
//            eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2, t = epoch, or
//            t = global iteration and T_max = cosine_epochs * iters_per_epoch when
//            cosine_by_iter (mmengine's convert_to_iter_based). After T_max the rate stays eta_min.
//
// The warm-up factor multiplies the decayed rate. That is exactly what mmengine's chained
// schedulers produce for MultiStep, and for Cosine when eta_min = 0; with eta_min > 0 mmengine's
// chained recursion differs slightly during the warm-up.
#pragma once
#include <cstdint>
#include <vector>

namespace wb::nn {

enum class LrDecay { MultiStep, Cosine };

struct LrSchedule {
  double base_lr = 1e-3;
  LrDecay decay = LrDecay::MultiStep;

  std::vector<int64_t> milestones;  // MultiStep: strictly increasing epochs (0-based)
  double gamma = 0.1;

  int64_t cosine_epochs = 1;  // Cosine: T_max in epochs
  double eta_min = 0.0;
  bool cosine_by_iter = false;

  int64_t warmup_iters = 0;  // 0: no warm-up; otherwise mmengine's `end`, at least 2
  double warmup_start_factor = 0.001;

  // Errors name the field and its value.
  void validate() const;
  // The rate for iteration iter_in_epoch (0-based) of epoch `epoch` (0-based).
  double lr_at(int64_t epoch, int64_t iter_in_epoch, int64_t iters_per_epoch) const;
};

}  // namespace wb::nn
