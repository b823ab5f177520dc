#include "nn/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "tensor/error.h"

namespace wb::nn {

void LrSchedule::validate() const {
  check(std::isfinite(base_lr) && base_lr >= 0.0, "LrSchedule: base_lr = ", base_lr, " must be finite and >= 0");
  switch (decay) {
    case LrDecay::MultiStep:
      check(std::isfinite(gamma) && gamma >= 0.0, "LrSchedule: gamma = ", gamma, " must be finite and >= 0");
      for (size_t k = 0; k < milestones.size(); ++k) {
        check(milestones[k] >= 0 && (k == 0 || milestones[k] > milestones[k - 1]),
              "LrSchedule: milestones must be strictly increasing epochs >= 0, got ", milestones[k], " at position ",
              k);
      }
      break;
    case LrDecay::Cosine:
      check(cosine_epochs >= 1, "LrSchedule: cosine_epochs = ", cosine_epochs, " must be >= 1");
      check(std::isfinite(eta_min) && eta_min >= 0.0, "LrSchedule: eta_min = ", eta_min, " must be finite and >= 0");
      break;
  }
  // One warm-up iteration would have no room to rise from start_factor to 1.
  check(warmup_iters == 0 || warmup_iters >= 2, "LrSchedule: warmup_iters = ", warmup_iters,
        " must be 0 (no warm-up) or >= 2");
  check(std::isfinite(warmup_start_factor) && warmup_start_factor >= 0.0 && warmup_start_factor <= 1.0,
        "LrSchedule: warmup_start_factor = ", warmup_start_factor, " must be in [0, 1]");
}

double LrSchedule::lr_at(int64_t epoch, int64_t iter_in_epoch, int64_t iters_per_epoch) const {
  validate();
  check(iters_per_epoch >= 1, "LrSchedule::lr_at: iters_per_epoch = ", iters_per_epoch, " must be >= 1");
  check(epoch >= 0 && iter_in_epoch >= 0 && iter_in_epoch < iters_per_epoch, "LrSchedule::lr_at: epoch ", epoch,
        ", iteration ", iter_in_epoch, " is outside [0, ", iters_per_epoch, ") iterations per epoch");
  const int64_t global_iter = epoch * iters_per_epoch + iter_in_epoch;

  double lr = base_lr;
  if (decay == LrDecay::MultiStep) {
    const auto passed = std::upper_bound(milestones.begin(), milestones.end(), epoch) - milestones.begin();
    lr = base_lr * std::pow(gamma, static_cast<double>(passed));
  } else {
    const int64_t t_max = cosine_by_iter ? cosine_epochs * iters_per_epoch : cosine_epochs;
    const int64_t t = std::min(cosine_by_iter ? global_iter : epoch, t_max);
    const double c = std::cos(std::numbers::pi * static_cast<double>(t) / static_cast<double>(t_max));
    lr = eta_min + (base_lr - eta_min) * (1.0 + c) / 2.0;
  }

  if (warmup_iters > 0) {
    const double span = static_cast<double>(warmup_iters - 1);
    const double progress = static_cast<double>(std::min(global_iter, warmup_iters - 1)) / span;
    lr *= warmup_start_factor + (1.0 - warmup_start_factor) * progress;
  }
  return lr;
}

}  // namespace wb::nn
