#include "kernels/loss.h"

#include "kernels/common.h"

namespace wb::kernels {

namespace {

// pred and target [N, K, H, W] of one shape, weight [N, K] or undefined; returns the weight
// the backends take (ones when none was given).
Tensor check_loss_inputs(const char* op, const Tensor& pred, const Tensor& target, const Tensor& weight) {
  check_same_device(op, {&pred, &target, &weight});
  check_same_float_dtype(op, {&pred, &target, &weight});
  check_dim(op, "pred", pred, 4);
  check(target.shape() == pred.shape(), op, ": pred ", pred.str(), " and target ", target.str(),
        " must have the same shape");
  check(pred.numel() > 0, op, ": empty heatmaps ", pred.str());
  if (!weight.defined()) return Tensor::ones({pred.size(0), pred.size(1)}, pred.dtype(), pred.device());
  check(weight.shape() == Shape{pred.size(0), pred.size(1)}, op, ": weight ", weight.str(),
        " must be [N, K] for heatmaps ", pred.str());
  return weight.contiguous();
}

void check_topk(const char* op, const Tensor& pred, int64_t topk) {
  check(topk >= 1 && topk <= pred.size(1), op, ": topk ", topk, " must be in [1, K] for heatmaps ", pred.str());
}

Tensor check_dloss(const char* op, const Tensor& dloss, const Tensor& pred) {
  check_same_device(op, {&dloss, &pred});
  check_same_float_dtype(op, {&dloss, &pred});
  check(dloss.numel() == 1, op, ": the loss gradient must hold one value, got ", dloss.str());
  return dloss.contiguous().view({});
}

}  // namespace

Tensor heatmap_mse_forward(const Tensor& pred_in, const Tensor& target_in, const Tensor& weight_in) {
  const Tensor weight = check_loss_inputs("heatmap_mse", pred_in, target_in, weight_in);
  const profile::OpScope prof("heatmap_mse", {&pred_in, &target_in}, [&] {
    return profile::Cost{3 * static_cast<double>(pred_in.numel()), profile::bytes_of(pred_in) + profile::bytes_of(target_in)};
  });
  const Tensor pred = pred_in.contiguous(), target = target_in.contiguous();
  Tensor loss = Tensor::empty({}, pred.dtype(), pred.device());
#if WBPOSE_WITH_CUDA
  if (pred.is_cuda()) {
    check_cuda_f32("heatmap_mse", pred);
    cuda::heatmap_mse_forward(pred, target, weight, loss);
    return loss;
  }
#endif
  cpu::heatmap_mse_forward(pred, target, weight, loss);
  return loss;
}

Tensor heatmap_mse_backward(const Tensor& dloss_in, const Tensor& pred_in, const Tensor& target_in,
                            const Tensor& weight_in) {
  const Tensor weight = check_loss_inputs("heatmap_mse_backward", pred_in, target_in, weight_in);
  const Tensor dloss = check_dloss("heatmap_mse_backward", dloss_in, pred_in);
  const profile::OpScope prof("heatmap_mse_backward", {&pred_in, &target_in}, [&] {
    return profile::elementwise_cost({&pred_in, &target_in}, pred_in, 3);
  });
  const Tensor pred = pred_in.contiguous(), target = target_in.contiguous();
  Tensor dpred = Tensor::empty(pred.shape(), pred.dtype(), pred.device());
#if WBPOSE_WITH_CUDA
  if (pred.is_cuda()) {
    check_cuda_f32("heatmap_mse_backward", pred);
    cuda::heatmap_mse_backward(dloss, pred, target, weight, dpred);
    return dpred;
  }
#endif
  cpu::heatmap_mse_backward(dloss, pred, target, weight, dpred);
  return dpred;
}

Tensor ohkm_mse_forward(const Tensor& pred_in, const Tensor& target_in, const Tensor& weight_in, int64_t topk) {
  const Tensor weight = check_loss_inputs("ohkm_mse", pred_in, target_in, weight_in);
  check_topk("ohkm_mse", pred_in, topk);
  const profile::OpScope prof("ohkm_mse", {&pred_in, &target_in}, [&] {
    return profile::Cost{3 * static_cast<double>(pred_in.numel()), profile::bytes_of(pred_in) + profile::bytes_of(target_in)};
  });
  const Tensor pred = pred_in.contiguous(), target = target_in.contiguous();
  Tensor loss = Tensor::empty({}, pred.dtype(), pred.device());
#if WBPOSE_WITH_CUDA
  if (pred.is_cuda()) {
    check_cuda_f32("ohkm_mse", pred);
    cuda::ohkm_mse_forward(pred, target, weight, topk, loss);
    return loss;
  }
#endif
  cpu::ohkm_mse_forward(pred, target, weight, topk, loss);
  return loss;
}

Tensor ohkm_mse_backward(const Tensor& dloss_in, const Tensor& pred_in, const Tensor& target_in,
                         const Tensor& weight_in, int64_t topk) {
  const Tensor weight = check_loss_inputs("ohkm_mse_backward", pred_in, target_in, weight_in);
  check_topk("ohkm_mse_backward", pred_in, topk);
  const Tensor dloss = check_dloss("ohkm_mse_backward", dloss_in, pred_in);
  const profile::OpScope prof("ohkm_mse_backward", {&pred_in, &target_in}, [&] {
    return profile::elementwise_cost({&pred_in, &target_in}, pred_in, 3);
  });
  const Tensor pred = pred_in.contiguous(), target = target_in.contiguous();
  Tensor dpred = Tensor::empty(pred.shape(), pred.dtype(), pred.device());
#if WBPOSE_WITH_CUDA
  if (pred.is_cuda()) {
    check_cuda_f32("ohkm_mse_backward", pred);
    cuda::ohkm_mse_backward(dloss, pred, target, weight, topk, dpred);
    return dpred;
  }
#endif
  cpu::ohkm_mse_backward(dloss, pred, target, weight, topk, dpred);
  return dpred;
}

}  // namespace wb::kernels
